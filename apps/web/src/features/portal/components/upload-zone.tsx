import { useQueryClient } from '@tanstack/react-query';
import { type DragEvent, useId, useRef, useState } from 'react';
import { formatBytes } from '../../../lib/format.ts';
import { uploadWithProgress } from '../../../lib/upload.ts';
import { ACCEPT_ATTRIBUTE, uploadProblem } from '../../../lib/upload-rules.ts';
import { endSession, type PortalItem, uploadUrl } from '../api.ts';
import { readSession } from '../session.ts';

interface Upload {
  key: number;
  file: File;
  progress: number;
  state: 'uploading' | 'failed' | 'refused';
  message?: string;
}

let nextKey = 1;

/** Several files at once, by picker, camera or drag-and-drop; one progress bar per file; retry on failure. */
export function UploadZone({ clientId, item }: { clientId: string; item: PortalItem }) {
  const queryClient = useQueryClient();
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [dragging, setDragging] = useState(false);
  const picker = useRef<HTMLInputElement>(null);
  const camera = useRef<HTMLInputElement>(null);
  const hintId = useId();
  const update = (key: number, patch: Partial<Upload>) => setUploads((all) => all.map((u) => (u.key === key ? { ...u, ...patch } : u)));

  function start(file: File, key: number) {
    const { promise } = uploadWithProgress(uploadUrl(clientId, item.id), file, {
      csrfToken: readSession()?.csrfToken ?? null,
      onProgress: (fraction) => update(key, { progress: fraction }),
      onUnauthenticated: endSession,
    });
    promise.then(
      async () => {
        setUploads((all) => all.filter((u) => u.key !== key));
        await queryClient.invalidateQueries();
      },
      (error: Error) => update(key, { state: 'failed', message: error.message }),
    );
  }

  function add(files: FileList | File[] | null) {
    for (const file of Array.from(files ?? [])) {
      const key = nextKey++;
      const problem = uploadProblem(file);
      setUploads((all) => [
        ...all,
        problem ? { key, file, progress: 0, state: 'refused', message: problem } : { key, file, progress: 0, state: 'uploading' },
      ]);
      if (!problem) start(file, key);
    }
  }

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    add(event.dataTransfer.files);
  };

  const again = item.status === 'rejected';
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: dropping files is a pointer shortcut; the buttons inside are the keyboard way
    <div
      className={`dropzone${dragging ? ' dragging' : ''}`}
      onDragOver={(event) => {
        event.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}
    >
      <div className="actions">
        <button type="button" className="primary" aria-describedby={hintId} onClick={() => picker.current?.click()}>
          {again ? 'Upload a new file' : 'Choose files'}
          <span className="visually-hidden"> for {item.label}</span>
        </button>
        <button type="button" className="secondary camera" onClick={() => camera.current?.click()}>
          Take a photo<span className="visually-hidden"> for {item.label}</span>
        </button>
      </div>
      <p id={hintId} className="muted small">
        or drag files here · PDF, photos, Excel, Word, CSV · up to 25 MB each
      </p>
      <input
        ref={picker}
        type="file"
        multiple
        accept={ACCEPT_ATTRIBUTE}
        hidden
        onChange={(event) => {
          add(event.target.files);
          event.target.value = '';
        }}
      />
      <input
        ref={camera}
        type="file"
        accept="image/jpeg,image/png"
        capture="environment"
        hidden
        onChange={(event) => {
          add(event.target.files);
          event.target.value = '';
        }}
      />
      {uploads.length > 0 && (
        <ul className="uploads" aria-label={`Uploads for ${item.label}`}>
          {uploads.map((upload) => (
            <li key={upload.key}>
              <span className="filename">{upload.file.name}</span> <span className="muted">{formatBytes(upload.file.size)}</span>
              {upload.state === 'uploading' && (
                <progress aria-label={`Uploading ${upload.file.name}`} max={1} value={upload.progress}>
                  {Math.round(upload.progress * 100)}%
                </progress>
              )}
              {upload.state !== 'uploading' && (
                <>
                  <p role="alert" className="error">
                    {upload.message}
                  </p>
                  {upload.state === 'failed' && (
                    <button
                      type="button"
                      className="secondary"
                      onClick={() => {
                        update(upload.key, { state: 'uploading', progress: 0 });
                        start(upload.file, upload.key);
                      }}
                    >
                      Try again<span className="visually-hidden"> to upload {upload.file.name}</span>
                    </button>
                  )}
                  <button type="button" className="link" onClick={() => setUploads((all) => all.filter((u) => u.key !== upload.key))}>
                    Dismiss<span className="visually-hidden"> {upload.file.name}</span>
                  </button>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
