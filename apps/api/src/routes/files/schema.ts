import { Type } from 'typebox';
import type { StoredFileRow } from '../../services/file-storage.ts';
import { ErrorBody, errors, iso, Timestamp, Uuid } from '../schemas.ts';

/** Files (staff's and the portal's): the view, its mapper, the download body and the upload errors. */

export const FileView = Type.Object(
  {
    id: Uuid,
    clientId: Uuid,
    cycleId: Uuid,
    requestItemId: Uuid,
    filename: Type.String(),
    contentType: Type.String(),
    size: Type.Integer({ minimum: 0 }),
    sha256: Type.String(),
    createdAt: Timestamp,
  },
  { additionalProperties: false },
);

export function fileView(f: Omit<StoredFileRow, 'storageKey'>) {
  return {
    id: f.id,
    clientId: f.clientId,
    cycleId: f.cycleId,
    requestItemId: f.requestItemId,
    filename: f.filename,
    contentType: f.contentType,
    size: Number(f.size),
    sha256: f.sha256,
    createdAt: iso(f.createdAt),
  };
}

/** Upload routes answer 413 (too large) and 415 (type not accepted) besides the usual errors. */
export const uploadErrors = { ...errors, 413: ErrorBody, 415: ErrorBody } as const;
/** A download's 200 body is the file's bytes, streamed. */
export const FileBytes = Type.String({ format: 'binary', description: 'The file, as an attachment' });
/** A preview's 200 body: an image or PDF, inline. */
export const PreviewBytes = Type.String({ format: 'binary', description: 'An image or PDF, inline and sandboxed' });

export const FileQuery = { itemId: Type.Optional(Uuid), requestId: Type.Optional(Uuid) };
