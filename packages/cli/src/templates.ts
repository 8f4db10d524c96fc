import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** docs/templates of this repository; SPADE_TEMPLATES_DIR points elsewhere (a firm's own wording). */
export function templatesDir(env: Record<string, string | undefined>): string {
  return env.SPADE_TEMPLATES_DIR || path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/templates');
}

export async function loadTemplate(env: Record<string, string | undefined>, name: string): Promise<string> {
  return readFile(path.join(templatesDir(env), name), 'utf8');
}

/** The `{{name}}` placeholders a template uses, in order of first use. */
export function placeholders(template: string): string[] {
  return [...new Set([...template.matchAll(/\{\{\s*([a-z_]+)\s*\}\}/g)].map((m) => m[1]!))];
}

/**
 * Fills `{{name}}` placeholders. A placeholder without a value is an error, not a blank:
 * a letter to a client must never go out with a hole in it. The template's leading
 * `<!-- … -->` note (for whoever edits the template) is dropped from the output.
 */
export function renderTemplate(template: string, values: Record<string, string>): string {
  const body = template.replace(/^\s*<!--[\s\S]*?-->\s*/, '');
  const missing = placeholders(body).filter((name) => values[name] === undefined);
  if (missing.length > 0) throw new Error(`template placeholders without a value: ${missing.join(', ')}`);
  return body.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_match, name: string) => values[name] as string);
}

/** A value safe inside a Markdown table cell. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}
