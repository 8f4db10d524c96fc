import { useEffect, useRef } from 'react';
import { StatusBadge } from '../../../components/status-badge.tsx';
import { formatBytes, formatDate } from '../../../lib/format.ts';
import { type PortalFile, type PortalItem, useLogout, useOwnFiles, usePortalRequest, useRemoveFile } from '../api.ts';
import { UploadZone } from './upload-zone.tsx';

const OUTSTANDING = new Set(['pending', 'rejected']);

function Summary({ items }: { items: PortalItem[] }) {
  const outstanding = items.filter((item) => OUTSTANDING.has(item.status)).length;
  const accepted = items.filter((item) => item.status === 'accepted').length;
  if (accepted === items.length) {
    return (
      <div className="done" role="status">
        <h2>All done</h2>
        <p>Your firm has accepted everything. Thank you — there is nothing more to do.</p>
      </div>
    );
  }
  if (outstanding === 0) {
    return (
      <p role="status" className="summary">
        Everything is sent. Your firm will review it and let you know if anything else is needed.
      </p>
    );
  }
  return (
    <p role="status" className="summary">
      <strong>
        {outstanding} of {items.length}
      </strong>{' '}
      {outstanding === 1 ? 'item still needs' : 'items still need'} a document.
    </p>
  );
}

function ItemFiles({ clientId, item, files }: { clientId: string; item: PortalItem; files: PortalFile[] }) {
  const remove = useRemoveFile(clientId);
  if (files.length === 0) return null;
  return (
    <ul className="files" aria-label={`Files sent for ${item.label}`}>
      {files.map((file) => (
        <li key={file.id}>
          <span className="filename">{file.filename}</span> <span className="muted">{formatBytes(file.size)}</span>
          {item.status === 'submitted' && (
            <button type="button" className="link" disabled={remove.isPending} onClick={() => remove.mutate(file.id)}>
              Remove <span className="visually-hidden">{file.filename}</span>
            </button>
          )}
        </li>
      ))}
      {remove.isError && <li role="alert">{remove.error.message}</li>}
    </ul>
  );
}

export function Checklist({ clientId, onSignedOut }: { clientId: string; onSignedOut: () => void }) {
  const request = usePortalRequest(clientId);
  const files = useOwnFiles(clientId);
  const logout = useLogout(clientId);
  const heading = useRef<HTMLHeadingElement>(null);
  const loaded = request.data !== undefined;
  useEffect(() => {
    if (loaded) heading.current?.focus();
  }, [loaded]);

  if (request.isPending) return <p aria-live="polite">Loading your checklist…</p>;
  if (request.isError || !request.data) return <p role="alert">We could not load your checklist. Please reload the page.</p>;
  const data = request.data;
  return (
    <section aria-labelledby="checklist-title">
      <p className="eyebrow">{data.clientName}</p>
      <h1 id="checklist-title" ref={heading} tabIndex={-1}>
        {data.cycleTitle}
      </h1>
      <p className="muted">
        Requested by {data.firmName}
        {data.dueDate && <> · due {formatDate(data.dueDate)}</>}
      </p>
      {data.message && <blockquote className="message">{data.message}</blockquote>}
      <Summary items={data.items} />
      <ol className="checklist">
        {data.items.map((item) => (
          <li key={item.id} className="item" aria-labelledby={`item-${item.id}`}>
            <div className="item-head">
              <h2 id={`item-${item.id}`}>{item.label}</h2>
              <StatusBadge status={item.status} audience="contact" />
            </div>
            {item.description && <p className="muted">{item.description}</p>}
            {item.status === 'rejected' && item.reviewComment && (
              <p className="review-comment">
                <strong>Your firm says:</strong> {item.reviewComment}
              </p>
            )}
            <ItemFiles clientId={clientId} item={item} files={(files.data ?? []).filter((f) => f.requestItemId === item.id)} />
            {item.status !== 'accepted' && <UploadZone clientId={clientId} item={item} />}
          </li>
        ))}
      </ol>
      <button
        type="button"
        className="secondary"
        onClick={async () => {
          await logout.mutateAsync();
          onSignedOut();
        }}
      >
        Sign out
      </button>
    </section>
  );
}
