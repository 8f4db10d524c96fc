import { randomUUID } from 'node:crypto';
import type { App } from '../../app.ts';

/** What the route tests read of a response; `json` is null when the body is not JSON. */
export type Headers = Record<string, string>;
export interface Reply {
  status: number;
  body: string;
  headers: Record<string, unknown>;
  rawPayload: Buffer;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected field by field
  json: any;
}

export async function send(
  app: App,
  method: 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  headers: Headers = {},
  payload?: object | Buffer,
  extraHeaders: Headers = {},
): Promise<Reply> {
  const response = await app.inject({
    method,
    url,
    headers: { ...headers, ...extraHeaders },
    ...(payload !== undefined && { payload: payload as object }),
  });
  let json: unknown = null;
  try {
    json = response.json();
  } catch {
    // not JSON (a download, a HEAD)
  }
  return { status: response.statusCode, body: response.body, headers: response.headers, rawPayload: response.rawPayload, json };
}

/** A one-file multipart/form-data body (field "file"), as a browser's upload sends it. */
export function multipartFile(filename: string, contentType: string, body: Buffer | string): { payload: Buffer; headers: Headers } {
  const boundary = `----spade-${randomUUID()}`;
  const payload = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename.replace(/["\\]/g, '\\$&')}"\r\nContent-Type: ${contentType}\r\n\r\n`,
    ),
    Buffer.from(body),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}
