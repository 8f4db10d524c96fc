import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dataPaths } from '@breezycorp/db';

/**
 * Evidence on disk: one folder per incident (or per capture, without one) under
 * $SPADE_DATA_DIR/evidence, files never overwritten, and a manifest.json with the sha256
 * of every file so anyone can later show the bundle is what was captured.
 */
export interface StoredFile {
  filename: string;
  storedPath: string;
  sha256: string;
  size: number;
  /** False when an identical file was already there (a re-run adds nothing). */
  added: boolean;
}

export const MANIFEST = 'manifest.json';

export function evidenceDir(env: Record<string, string | undefined>, incidentId: string | null, now: Date): string {
  const folder = incidentId ?? now.toISOString().replace(/[-:]/g, '').replace('.', '');
  return path.join(dataPaths(env).dataDir, 'evidence', folder);
}

export function incidentDir(env: Record<string, string | undefined>, incidentId: string): string {
  return path.join(dataPaths(env).dataDir, 'incidents', incidentId);
}

export function sha256Of(content: Buffer | string): string {
  return createHash('sha256').update(content).digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * A name for a file the CLI writes into the evidence folder: ASCII letters, digits, dot,
 * dash and underscore only, no leading dot. Not the API's `safeFilename` (the name an
 * uploaded file is shown and downloaded under, which keeps the uploader's Unicode):
 * different inputs, different rules, so different names.
 */
export function evidenceFileStem(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '');
  return (cleaned || 'file').slice(0, 200);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * Writes `content` as `name` in `dir`. An identical file already there is reused; a
 * different one is never overwritten: the new content gets `name-2.ext`, `name-3.ext`, …
 */
export async function storeFile(dir: string, name: string, content: Buffer | { copyFrom: string }): Promise<StoredFile> {
  await mkdir(dir, { recursive: true });
  const sha256 = 'copyFrom' in content ? await sha256File(content.copyFrom) : sha256Of(content);
  const ext = path.extname(name);
  const base = name.slice(0, name.length - ext.length);
  for (let n = 1; ; n++) {
    const filename = n === 1 ? name : `${base}-${n}${ext}`;
    const storedPath = path.join(dir, filename);
    if (await exists(storedPath)) {
      if ((await sha256File(storedPath)) === sha256) {
        return { filename, storedPath, sha256, size: (await stat(storedPath)).size, added: false };
      }
      continue;
    }
    if ('copyFrom' in content) await copyFile(content.copyFrom, storedPath);
    else await writeFile(storedPath, content, { flag: 'wx' });
    const written = await sha256File(storedPath);
    if (written !== sha256) throw new Error(`${storedPath} changed while it was stored (sha256 ${written}, expected ${sha256})`);
    return { filename, storedPath, sha256, size: (await stat(storedPath)).size, added: true };
  }
}

/** Unique path for a generated document (drafts are edited by people, so never overwritten). */
export async function writeNewFile(dir: string, name: string, content: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const ext = path.extname(name);
  const base = name.slice(0, name.length - ext.length);
  for (let n = 1; ; n++) {
    const file = path.join(dir, n === 1 ? name : `${base}-${n}${ext}`);
    try {
      await writeFile(file, content, { flag: 'wx' });
      return file;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

export interface Manifest {
  generatedAt: string;
  incidentId: string | null;
  algorithm: 'sha256';
  files: { filename: string; sha256: string; size: number }[];
}

/** (Re)writes the folder's manifest.json from what is on disk now. */
export async function writeManifest(dir: string, incidentId: string | null, now: Date): Promise<{ path: string; manifest: Manifest }> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((entry) => entry.isFile() && entry.name !== MANIFEST)
    .map((entry) => entry.name)
    .sort();
  const files = await Promise.all(
    names.map(async (filename) => {
      const file = path.join(dir, filename);
      return { filename, sha256: await sha256File(file), size: (await stat(file)).size };
    }),
  );
  const manifest: Manifest = { generatedAt: now.toISOString(), incidentId, algorithm: 'sha256', files };
  const manifestPath = path.join(dir, MANIFEST);
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return { path: manifestPath, manifest };
}
