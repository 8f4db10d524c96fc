import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * prisma/schema.prisma as the tests read it: one small parser for the subset of the Prisma
 * schema language this schema uses, shared by schema-agreement.test.ts (which proves it parses
 * every model Prisma's own generator saw), migrate.test.ts and tenant-scope.test.ts.
 */
export const SCHEMA_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../prisma/schema.prisma');

export interface PrismaField {
  name: string;
  column: string;
  type: string;
  optional: boolean;
  list: boolean;
  /** `@db.X(args)` as [X, args], when present. */
  nativeType: [string, string | undefined] | undefined;
  id: boolean;
  uniqueMap: string | undefined;
  unique: boolean;
}

export interface PrismaModel {
  name: string;
  table: string;
  fields: PrismaField[];
  /** `@@unique([a, b], map: "name")`: field names and the index name. */
  uniques: { fields: string[]; map: string | undefined }[];
}

/** A small parser for the subset of the Prisma schema language this schema uses. */
export function parsePrismaSchema(text: string): PrismaModel[] {
  const models: PrismaModel[] = [];
  for (const match of text.matchAll(/^model\s+(\w+)\s*\{([\s\S]*?)^\}/gm)) {
    const name = match[1]!;
    const model: PrismaModel = { name, table: name, fields: [], uniques: [] };
    for (const raw of match[2]!.split('\n')) {
      const line = raw.replace(/\/\/.*$/, '').trim();
      if (line === '') continue;
      if (line.startsWith('@@')) {
        const map = /^@@map\("([^"]+)"\)/.exec(line);
        if (map) model.table = map[1]!;
        const unique = /^@@unique\(\[([^\]]+)\](?:,\s*map:\s*"([^"]+)")?\)/.exec(line);
        if (unique) model.uniques.push({ fields: unique[1]!.split(',').map((f) => f.trim()), map: unique[2] });
        continue;
      }
      const field = /^(\w+)\s+(\w+)(\[\])?(\?)?\s*(.*)$/.exec(line);
      if (!field) throw new Error(`schema.prisma: cannot parse line in model ${name}: ${line}`);
      const attributes = field[5]!;
      const native = /@db\.(\w+)(?:\(([^)]*)\))?/.exec(attributes);
      const uniqueAttr = /@unique(?:\(map:\s*"([^"]+)"\))?/.exec(attributes);
      model.fields.push({
        name: field[1]!,
        column: /@map\("([^"]+)"\)/.exec(attributes)?.[1] ?? field[1]!,
        type: field[2]!,
        list: field[3] !== undefined,
        optional: field[4] !== undefined,
        nativeType: native ? [native[1]!, native[2]] : undefined,
        id: /@id\b/.test(attributes),
        unique: uniqueAttr !== null,
        uniqueMap: uniqueAttr?.[1],
      });
    }
    models.push(model);
  }
  return models;
}

export async function readPrismaSchema(file = SCHEMA_PATH): Promise<PrismaModel[]> {
  return parsePrismaSchema(await readFile(file, 'utf8'));
}
