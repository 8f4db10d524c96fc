import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { type ScopedTx, storagePath } from '@breezycorp/db';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';

/**
 * Uploads and downloads of client files, shared by the staff routes and the contact
 * portal so there is one implementation of the rules: type checked before a byte is
 * written, size capped by the multipart limit, sha256 computed while streaming, and no
 * row without a file nor a file without a committed row.
 */

export interface StoredFileRow {
  id: string;
  clientId: string;
  cycleId: string;
  requestItemId: string;
  filename: string;
  contentType: string;
  size: bigint;
  sha256: string;
  storageKey: string;
  createdAt: Date;
}

export interface UploadTarget {
  clientId: string;
  cycleId: string;
  requestItemId: string;
  uploadedBy: { type: 'staff' | 'contact'; id: string };
}

type StorageConfig = Pick<Config, 'storageDir' | 'upload'>;

const MAX_FILENAME_LENGTH = 255;
// Control characters (C0, DEL, C1), and the bidi marks and overrides (U+202E…) that make
// an ".exe" display as a ".pdf".
const UNSAFE_FILENAME_CHARS = /[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/** The name a file is shown and downloaded under: basename only, no controls, ≤ 255 characters. */
export function safeFilename(raw: string | undefined): string {
  const base = (raw ?? '').split(/[/\\]/).pop() ?? '';
  const cleaned = base.replace(UNSAFE_FILENAME_CHARS, '').trim();
  const name = /^\.*$/.test(cleaned) ? 'file' : cleaned;
  return Array.from(name).slice(0, MAX_FILENAME_LENGTH).join('');
}

function normalisedContentType(mimetype: string): string {
  return (mimetype.split(';')[0] ?? '').trim().toLowerCase();
}

export function storageKeyFor(clientId: string, fileId: string): string {
  return `clients/${clientId}/${fileId}`;
}

function pathOf(storageDir: string, storageKey: string): string {
  const root = path.resolve(storageDir);
  const target = path.resolve(storagePath(root, storageKey));
  // Keys are generated here, never taken from a request; refuse anything that escapes anyway.
  if (!target.startsWith(`${root}${path.sep}`)) throw new AppError('internal', 'storage key outside the storage directory');
  return target;
}

async function discard(file: string): Promise<void> {
  await unlink(file).catch(() => undefined);
}

/** An upload received into a temporary file, before any database work. */
export interface ReceivedUpload {
  tmpFile: string;
  filename: string;
  contentType: string;
  size: number;
  sha256: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Upload routes: the received file (plugins/uploads.ts), consumed by storeUpload. */
    upload: ReceivedUpload | null;
  }
}

/** A multipart stream that breaks off (no or a wrong boundary, an unterminated part) is the client's fault. */
function malformedMultipart(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('FST_')) return error; // @fastify/multipart's own, mapped by the error table
  return new AppError('bad_request', 'Malformed multipart/form-data body');
}

/**
 * Reads the request's multipart body: exactly one file part (a second file is refused —
 * never silently dropped), of an accepted type, not empty, within the size limit, streamed
 * to a private temporary file while its sha256 is computed. A client that sends nothing
 * for `idleTimeoutMs` is cut off (408, socket closed). No database connection is held.
 */
export async function receiveUpload(request: FastifyRequest, config: StorageConfig): Promise<ReceivedUpload> {
  const tmpDir = path.join(path.resolve(config.storageDir), 'tmp');
  await mkdir(tmpDir, { recursive: true, mode: 0o700 });
  const raw = request.raw;
  let timedOut = false;
  const idle = setTimeout(() => {
    timedOut = true;
    raw.destroy(new AppError('request_timeout', 'The upload stalled'));
  }, config.upload.idleTimeoutMs);
  const touch = () => idle.refresh();
  raw.on('data', touch);

  let received: ReceivedUpload | null = null;
  try {
    for await (const part of request.parts()) {
      if (part.type !== 'file') continue; // form fields carry nothing we use
      if (received) {
        part.file.resume();
        throw new AppError('bad_request', 'Send one file per upload');
      }
      const contentType = normalisedContentType(part.mimetype);
      if (!config.upload.contentTypes.includes(contentType)) {
        part.file.resume();
        throw new AppError('unsupported_media_type', `Files of type ${contentType || 'unknown'} are not accepted`);
      }
      const tmpFile = path.join(tmpDir, `${randomUUID()}.part`);
      const hash = createHash('sha256');
      let size = 0;
      // Registered before the first await, so a failure below always removes it.
      received = { tmpFile, filename: safeFilename(part.filename), contentType, size: 0, sha256: '' };
      await pipeline(
        part.file,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(tmpFile, { flags: 'wx', mode: 0o600 }),
      );
      if (part.file.truncated) throw new AppError('payload_too_large', `Files may be at most ${config.upload.maxBytes} bytes`);
      // Policy: an empty file is refused; it is almost always a failed export or a wrong pick.
      if (size === 0) throw new AppError('bad_request', 'The file is empty');
      received.size = size;
      received.sha256 = hash.digest('hex');
    }
    if (!received) throw new AppError('bad_request', 'Expected one file in a multipart/form-data body');
    return received;
  } catch (error) {
    if (received) await discard(received.tmpFile);
    if (timedOut) throw new AppError('request_timeout', 'The upload stalled');
    throw malformedMultipart(error);
  } finally {
    clearTimeout(idle);
    raw.off('data', touch);
  }
}

/**
 * Stores the request's received upload (`request.upload`) for `target`: moves it to
 * `clients/<clientId>/<fileId>`, inserts its row and audits `file.uploaded`, all in the
 * request's unit of work. Every failure leaves neither row nor file: the temporary file is
 * deleted on each failure path (and by the uploads plugin when the request ends), and once
 * moved into place the final file is deleted if the unit of work rolls back.
 */
export async function storeUpload(
  request: FastifyRequest,
  db: ScopedTx,
  config: StorageConfig,
  target: UploadTarget,
): Promise<StoredFileRow> {
  const upload = request.upload;
  if (!upload) throw new AppError('internal', 'storeUpload on a route without config.upload');
  request.upload = null;
  const fileId = randomUUID();
  const storageKey = storageKeyFor(target.clientId, fileId);
  let row: StoredFileRow;
  try {
    row = await db.file.create({
      data: {
        id: fileId,
        clientId: target.clientId,
        cycleId: target.cycleId,
        requestItemId: target.requestItemId,
        filename: upload.filename,
        contentType: upload.contentType,
        size: BigInt(upload.size),
        sha256: upload.sha256,
        storageKey,
        uploadedByType: target.uploadedBy.type,
        uploadedById: target.uploadedBy.id,
      },
    });
    const finalFile = pathOf(config.storageDir, storageKey);
    await mkdir(path.dirname(finalFile), { recursive: true, mode: 0o700 });
    await rename(upload.tmpFile, finalFile);
    request.onRollback(() => discard(finalFile));
  } catch (error) {
    await discard(upload.tmpFile);
    throw error;
  }

  await request.audit({
    eventType: 'file.uploaded',
    entityType: 'file',
    entityId: row.id,
    data: {
      requestItemId: row.requestItemId,
      filename: row.filename,
      contentType: row.contentType,
      size: upload.size,
      sha256: row.sha256,
    },
  });
  return row;
}

/** Removes a received upload nobody stored (the request failed before its handler stored it). */
export async function discardUpload(upload: ReceivedUpload | null): Promise<void> {
  if (upload) await discard(upload.tmpFile);
}

/** RFC 6266 / 5987: an ASCII fallback and the exact UTF-8 name. */
export function contentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/**
 * The only types ever shown inline (the console's preview): images and PDFs. HTML, SVG and
 * everything else is download-only, so an upload can never run script in Spade's origin.
 */
export const PREVIEWABLE_TYPES: readonly string[] = ['image/png', 'image/jpeg', 'application/pdf'];

/**
 * Streams a stored file as an attachment, or — `inline`, for a previewable type only —
 * for display in the console, sandboxed and framable by Spade's own pages alone. The file is opened first (a row whose bytes are
 * missing is a 500, not an empty download), then `file.downloaded` is audited in the
 * request's unit of work, which commits in onSend — before the first byte leaves.
 */
export async function sendStoredFile(
  request: FastifyRequest,
  reply: FastifyReply,
  config: Pick<Config, 'storageDir'>,
  file: Pick<StoredFileRow, 'id' | 'filename' | 'contentType' | 'storageKey' | 'requestItemId'>,
  options: { inline?: boolean } = {},
): Promise<FastifyReply> {
  const inline = options.inline === true;
  if (inline && !PREVIEWABLE_TYPES.includes(file.contentType)) {
    throw new AppError('unsupported_media_type', 'Only images and PDFs can be previewed; download this file instead');
  }
  const handle = await open(pathOf(config.storageDir, file.storageKey), 'r');
  try {
    const { size } = await handle.stat();
    await request.audit({
      eventType: 'file.downloaded',
      entityType: 'file',
      entityId: file.id,
      data: { requestItemId: file.requestItemId, filename: file.filename, size, ...(inline && { preview: true }) },
    });
    const disposition = contentDisposition(file.filename);
    reply
      .header('content-type', file.contentType)
      .header('content-length', String(size))
      .header('content-disposition', inline ? disposition.replace(/^attachment/, 'inline') : disposition)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'private, no-store');
    if (inline) {
      // Chromium's PDF viewer refuses a sandboxed document, so PDFs get a no-script policy instead.
      const sandbox = file.contentType === 'application/pdf' ? '' : '; sandbox';
      reply
        .header(
          'content-security-policy',
          `default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'${sandbox}`,
        )
        .header('x-frame-options', 'SAMEORIGIN');
    }
  } catch (error) {
    await handle.close();
    throw error;
  }
  return reply.send(handle.createReadStream());
}
