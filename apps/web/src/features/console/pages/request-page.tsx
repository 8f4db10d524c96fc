import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { StatusBadge } from '../../../components/status-badge.tsx';
import { ApiError, unwrap } from '../../../lib/api-client.ts';
import { formatBytes, formatDate, formatDateTime } from '../../../lib/format.ts';
import { api, fileUrl, queries, type RequestDetail, type StoredFile, useWrite } from '../api.ts';
import { NotFoundPage } from './not-found.tsx';

type Item = RequestDetail['items'][number];
const PREVIEWABLE = new Set(['image/png', 'image/jpeg', 'application/pdf']);

function FilePreview({ clientId, file }: { clientId: string; file: StoredFile }) {
  const [open, setOpen] = useState(false);
  const url = fileUrl(clientId, file.id, 'preview');
  return (
    <li>
      <span className="filename">{file.filename}</span>{' '}
      <span className="muted">
        {formatBytes(file.size)} · {formatDateTime(file.createdAt)}
      </span>{' '}
      <a href={fileUrl(clientId, file.id, 'download')} download>
        Download<span className="visually-hidden"> {file.filename}</span>
      </a>
      {PREVIEWABLE.has(file.contentType) && (
        <button type="button" className="link" aria-expanded={open} onClick={() => setOpen(!open)}>
          {open ? 'Hide preview' : 'Preview'}
          <span className="visually-hidden"> {file.filename}</span>
        </button>
      )}
      {open && (
        <div className="preview">
          {file.contentType === 'application/pdf' ? (
            <iframe src={url} title={`Preview of ${file.filename}`} />
          ) : (
            <img src={url} alt={`Preview of ${file.filename}`} />
          )}
        </div>
      )}
    </li>
  );
}

function ItemReview({ clientId, requestId, item, files }: { clientId: string; requestId: string; item: Item; files: StoredFile[] }) {
  const [comment, setComment] = useState('');
  const review = useWrite(async (decision: 'accept' | 'reject') =>
    unwrap(
      await api.POST('/api/clients/{clientId}/requests/{requestId}/items/{itemId}/review', {
        params: { path: { clientId, requestId, itemId: item.id } },
        body: decision === 'accept' ? { decision } : { decision, comment: comment.trim() },
      }),
    ),
  );
  const commentId = `comment-${item.id}`;
  return (
    <li className="item" aria-labelledby={`item-${item.id}`}>
      <div className="item-head">
        <h2 id={`item-${item.id}`}>{item.label}</h2>
        <StatusBadge status={item.status} audience="staff" />
      </div>
      {item.reviewComment && <p className="review-comment">Comment: {item.reviewComment}</p>}
      {files.length === 0 ? (
        <p className="muted">No files yet.</p>
      ) : (
        <ul className="files" aria-label={`Files for ${item.label}`}>
          {files.map((file) => (
            <FilePreview key={file.id} clientId={clientId} file={file} />
          ))}
        </ul>
      )}
      {item.status !== 'accepted' && files.length > 0 && (
        <div className="stack">
          <label htmlFor={commentId}>Comment for the client (needed to reject {item.label})</label>
          <textarea id={commentId} rows={2} value={comment} onChange={(e) => setComment(e.target.value)} />
          <div className="row">
            <button type="button" className="primary" disabled={review.isPending} onClick={() => review.mutate('accept')}>
              Accept<span className="visually-hidden"> {item.label}</span>
            </button>
            <button
              type="button"
              className="danger"
              disabled={review.isPending || !comment.trim()}
              onClick={async () => {
                await review.mutateAsync('reject');
                setComment('');
              }}
            >
              Reject<span className="visually-hidden"> {item.label}</span>
            </button>
          </div>
          {review.error && <p role="alert">{review.error.message}</p>}
        </div>
      )}
    </li>
  );
}

export function RequestPage() {
  const { clientId = '', requestId = '' } = useParams();
  const request = useQuery(queries.request(clientId, requestId));
  const files = useQuery({ ...queries.files(clientId, requestId), enabled: request.isSuccess });
  const [resent, setResent] = useState(false);
  const resend = useWrite(async () =>
    unwrap(await api.POST('/api/clients/{clientId}/requests/{requestId}/resend', { params: { path: { clientId, requestId } } })),
  );
  const cancel = useWrite(async () =>
    unwrap(await api.POST('/api/clients/{clientId}/requests/{requestId}/cancel', { params: { path: { clientId, requestId } } })),
  );
  if (request.isPending) return <p aria-live="polite">Loading…</p>;
  if (request.error instanceof ApiError && (request.error.status === 404 || request.error.status === 400)) return <NotFoundPage />;
  if (!request.data) return <p role="alert">This request could not be loaded.</p>;
  const data = request.data;
  const accepted = data.items.filter((item) => item.status === 'accepted').length;
  const complete = accepted === data.items.length;
  return (
    <>
      <p>
        <Link to={`/clients/${clientId}`}>Back to the client</Link>
      </p>
      <h1>Request sent {formatDate(data.sentAt)}</h1>
      <div className="row">
        <StatusBadge status={complete && data.status === 'open' ? 'completed' : data.status} audience="staff" />
        <span className="muted">Link valid until {formatDate(data.expiresAt)}</span>
      </div>
      <p role="status">{complete ? 'Complete: every item is accepted.' : `${accepted} of ${data.items.length} items accepted.`}</p>
      <progress aria-label="Items accepted" max={data.items.length} value={accepted} />
      {data.message && <blockquote className="message">{data.message}</blockquote>}
      <ol className="checklist">
        {data.items.map((item) => (
          <ItemReview
            key={`${item.id}-${item.updatedAt}`}
            clientId={clientId}
            requestId={requestId}
            item={item}
            files={(files.data ?? []).filter((file) => file.requestItemId === item.id)}
          />
        ))}
      </ol>
      {data.status === 'open' && (
        <div className="row">
          <button
            type="button"
            onClick={async () => {
              // The new link goes only into the contact's mail (queued in the outbox); the API never returns it.
              await resend.mutateAsync(undefined);
              setResent(true);
            }}
          >
            Resend with a new link
          </button>
          <button type="button" className="danger" onClick={() => cancel.mutate(undefined)}>
            Cancel request
          </button>
        </div>
      )}
      {resent && <p role="status">A new link was sent; the previous one no longer works.</p>}
      {(resend.error ?? cancel.error) && <p role="alert">{(resend.error ?? cancel.error)?.message}</p>}
    </>
  );
}
