import { formatBytes } from './format.ts';

/**
 * The API's default upload rules (SPADE_UPLOAD_MAX_BYTES, SPADE_UPLOAD_CONTENT_TYPES),
 * checked before a byte is sent so a wrong file gets a clear message at once. The server
 * checks again; its answer (413/415) is shown the same way.
 */
export const MAX_UPLOAD_BYTES = 25 * 1024 * 1024;
export const ACCEPTED_TYPES: Record<string, string> = {
  'application/pdf': 'PDF',
  'image/png': 'PNG image',
  'image/jpeg': 'JPEG photo',
  'text/plain': 'text file',
  'text/csv': 'CSV',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'Excel workbook',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'Word document',
  'application/vnd.ms-excel': 'Excel workbook',
};
export const ACCEPT_ATTRIBUTE = [
  ...Object.keys(ACCEPTED_TYPES),
  '.pdf',
  '.png',
  '.jpg',
  '.jpeg',
  '.csv',
  '.txt',
  '.xlsx',
  '.docx',
  '.xls',
].join(',');

/** Why this file cannot be sent, in words a client understands; null when it can. */
export function uploadProblem(file: { name: string; size: number; type: string }): string | null {
  if (file.size === 0) return `${file.name} is empty.`;
  if (file.size > MAX_UPLOAD_BYTES) {
    return `${file.name} is ${formatBytes(file.size)}; files can be at most ${formatBytes(MAX_UPLOAD_BYTES)}.`;
  }
  if (!(file.type in ACCEPTED_TYPES)) {
    return `${file.name} is not a file type we accept. Please send a PDF, a photo (JPEG or PNG), or an Excel, Word, CSV or text file.`;
  }
  return null;
}
