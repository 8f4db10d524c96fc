import { ApiError, type ApiErrorBody } from './api-client.ts';

/**
 * Multipart uploads go through XMLHttpRequest rather than fetch: only XHR reports upload
 * progress, which the portal shows per file.
 */
export function uploadWithProgress<T>(
  url: string,
  file: File,
  options: { csrfToken: string | null; onProgress: (fraction: number) => void; onUnauthenticated: () => void },
): { promise: Promise<T>; abort: () => void } {
  const xhr = new XMLHttpRequest();
  const promise = new Promise<T>((resolve, reject) => {
    xhr.open('POST', url);
    xhr.responseType = 'json';
    if (options.csrfToken) xhr.setRequestHeader('x-csrf-token', options.csrfToken);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) options.onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        options.onProgress(1);
        resolve(xhr.response as T);
        return;
      }
      if (xhr.status === 401) options.onUnauthenticated();
      const body = xhr.response as Partial<ApiErrorBody> | null;
      reject(new ApiError(xhr.status, body?.error?.code ?? 'unknown', body?.error?.message ?? `Upload failed (HTTP ${xhr.status})`));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The connection was lost during the upload'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'Upload cancelled'));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}
