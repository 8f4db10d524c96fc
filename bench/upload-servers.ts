/*
 * The bench's upload section runs its two servers here, in a child process of their own
 * (tenant-read.bench.ts starts it): the layers-on API as production builds it and a node:http
 * server streaming each request body to disk. In the bench's own process the uploads shared a
 * heap of about 1 GB (every server of the headline, their pools, the load results) whose
 * collections landed inside whichever upload came next; here both servers share a small one,
 * and the peak RSS measured is theirs.
 *
 * Environment: BENCH_APP_DB_URL, BENCH_ADMIN_DB_URL, BENCH_DATA_DIR, BENCH_UPLOAD_MAX_BYTES.
 * Prints one JSON line, { "api": url, "node": url }, then serves until stdin closes.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { buildApp, parseConfig } from '@breezycorp/api';
import { openDatabase } from '@breezycorp/db/unsafe';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

const dataDir = required('BENCH_DATA_DIR');
const config = parseConfig({
  SPADE_DATA_DIR: dataDir,
  LOG_LEVEL: 'silent',
  SPADE_UPLOAD_MAX_BYTES: required('BENCH_UPLOAD_MAX_BYTES'),
});
const db = await openDatabase({ kind: 'postgres', url: required('BENCH_APP_DB_URL'), poolMax: 4 });
const adminDb = await openDatabase({ kind: 'postgres', url: required('BENCH_ADMIN_DB_URL'), poolMax: 1 });
const app = await buildApp(config, { db, adminDb, logger: false });
const api = await app.listen({ host: '127.0.0.1', port: 0 });

const diskDir = path.join(dataDir, 'node-uploads');
await mkdir(diskDir, { recursive: true });
let n = 0;
const disk = http.createServer((req, res) => {
  pipeline(req, createWriteStream(path.join(diskDir, `node-upload-${n++}`))).then(
    () => {
      res.statusCode = 201;
      res.end();
    },
    (error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    },
  );
});
await new Promise<void>((resolve) => disk.listen(0, '127.0.0.1', resolve));
const node = `http://127.0.0.1:${(disk.address() as AddressInfo).port}`;
process.stdout.write(`${JSON.stringify({ api, node })}\n`);

process.stdin.resume();
process.stdin.on('end', async () => {
  disk.close();
  await app.close();
  await db.close();
  await adminDb.close();
  process.exit(0);
});
