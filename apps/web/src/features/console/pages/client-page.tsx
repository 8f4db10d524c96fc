import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useParams } from 'react-router';
import { StatusBadge } from '../../../components/status-badge.tsx';
import { ApiError, unwrap } from '../../../lib/api-client.ts';
import { formatBytes, formatDate, formatDateTime } from '../../../lib/format.ts';
import { api, type Contact, type Cycle, fileUrl, queries, useWrite } from '../api.ts';
import { NotFoundPage } from './not-found.tsx';

const KINDS = ['bookkeeping', 'accounting', 'tax', 'corporate_secretarial', 'payroll', 'other'] as const;

function ErrorText({ error }: { error: Error | null }) {
  return error ? <p role="alert">{error.message}</p> : null;
}

function ContactRow({ clientId, contact }: { clientId: string; contact: Contact }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(contact.name);
  const [email, setEmail] = useState(contact.email);
  const save = useWrite(async () =>
    unwrap(
      await api.PATCH('/api/clients/{clientId}/contacts/{contactId}', {
        params: { path: { clientId, contactId: contact.id } },
        body: { name, email },
      }),
    ),
  );
  const remove = useWrite(async () =>
    unwrap(await api.DELETE('/api/clients/{clientId}/contacts/{contactId}', { params: { path: { clientId, contactId: contact.id } } })),
  );
  if (editing) {
    return (
      <tr>
        <td colSpan={4}>
          <form
            className="inline-form"
            onSubmit={async (event) => {
              event.preventDefault();
              await save.mutateAsync(undefined);
              setEditing(false);
            }}
          >
            <div>
              <label htmlFor={`name-${contact.id}`}>Name</label>
              <input id={`name-${contact.id}`} value={name} onChange={(e) => setName(e.target.value)} required />
            </div>
            <div>
              <label htmlFor={`email-${contact.id}`}>Email</label>
              <input id={`email-${contact.id}`} type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
            </div>
            <button type="submit" className="primary">
              Save
            </button>
            <button type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </form>
          <ErrorText error={save.error} />
        </td>
      </tr>
    );
  }
  return (
    <tr>
      <td>{contact.name}</td>
      <td>{contact.email}</td>
      <td>{contact.phone ?? '—'}</td>
      <td className="row">
        <button type="button" onClick={() => setEditing(true)}>
          Edit<span className="visually-hidden"> {contact.name}</span>
        </button>
        <button type="button" className="danger" onClick={() => remove.mutate(undefined)}>
          Remove<span className="visually-hidden"> {contact.name}</span>
        </button>
        <ErrorText error={remove.error} />
      </td>
    </tr>
  );
}

function Contacts({ clientId }: { clientId: string }) {
  const contacts = useQuery(queries.contacts(clientId));
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const add = useWrite(async () =>
    unwrap(await api.POST('/api/clients/{clientId}/contacts', { params: { path: { clientId } }, body: { name, email } })),
  );
  return (
    <section aria-labelledby="contacts-title">
      <h2 id="contacts-title">Contacts</h2>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Phone</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {(contacts.data ?? []).map((contact) => (
              <ContactRow key={contact.id} clientId={clientId} contact={contact} />
            ))}
          </tbody>
        </table>
      </div>
      <form
        className="inline-form"
        aria-label="Add a contact"
        onSubmit={async (event) => {
          event.preventDefault();
          await add.mutateAsync(undefined);
          setName('');
          setEmail('');
        }}
      >
        <div>
          <label htmlFor="new-contact-name">Contact name</label>
          <input id="new-contact-name" value={name} onChange={(e) => setName(e.target.value)} required />
        </div>
        <div>
          <label htmlFor="new-contact-email">Contact email</label>
          <input id="new-contact-email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
        </div>
        <button type="submit">Add contact</button>
      </form>
      <ErrorText error={add.error} />
    </section>
  );
}

function NewRequest({ clientId, cycle }: { clientId: string; cycle: Cycle }) {
  const contacts = useQuery(queries.contacts(clientId));
  const [contactId, setContactId] = useState('');
  const [items, setItems] = useState('');
  const [message, setMessage] = useState('');
  const [days, setDays] = useState('14');
  const [sentTo, setSentTo] = useState<string | null>(null);
  const create = useWrite(async () =>
    unwrap(
      await api.POST('/api/clients/{clientId}/cycles/{cycleId}/requests', {
        params: { path: { clientId, cycleId: cycle.id } },
        body: {
          contactId,
          items: items
            .split('\n')
            .map((label) => label.trim())
            .filter(Boolean)
            .map((label) => ({ label })),
          ...(message.trim() && { message: message.trim() }),
          expiresInDays: Number(days),
        },
      }),
    ),
  );
  const id = (name: string) => `${name}-${cycle.id}`;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    await create.mutateAsync(undefined);
    const contact = contacts.data?.find((c) => c.id === contactId);
    setSentTo(contact?.email ?? 'the contact');
    setItems('');
    setMessage('');
  };
  return (
    <details>
      <summary>New request for {cycle.title}</summary>
      <form onSubmit={submit} aria-label={`New request for ${cycle.title}`}>
        <label htmlFor={id('contact')}>Send to</label>
        <select id={id('contact')} value={contactId} onChange={(e) => setContactId(e.target.value)} required>
          <option value="">Choose a contact…</option>
          {(contacts.data ?? []).map((contact) => (
            <option key={contact.id} value={contact.id}>
              {contact.name} ({contact.email})
            </option>
          ))}
        </select>
        <label htmlFor={id('items')}>Checklist items (one per line)</label>
        <textarea id={id('items')} rows={4} value={items} onChange={(e) => setItems(e.target.value)} required />
        <label htmlFor={id('message')}>Message to the client</label>
        <textarea id={id('message')} rows={2} value={message} onChange={(e) => setMessage(e.target.value)} />
        <label htmlFor={id('days')}>Link valid for (days)</label>
        <input id={id('days')} type="number" min={1} max={60} value={days} onChange={(e) => setDays(e.target.value)} />
        <p>
          <button type="submit" className="primary" disabled={create.isPending}>
            Send request
          </button>
        </p>
        <ErrorText error={create.error} />
        {sentTo && <p role="status">Request sent to {sentTo}.</p>}
      </form>
    </details>
  );
}

function CycleCard({ clientId, cycle }: { clientId: string; cycle: Cycle }) {
  const requests = useQuery(queries.requests(clientId, cycle.id));
  const contacts = useQuery(queries.contacts(clientId));
  const contactName = (id: string) => contacts.data?.find((c) => c.id === id)?.name ?? 'a removed contact';
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState(cycle.title);
  const [dueDate, setDueDate] = useState(cycle.dueDate ?? '');
  const [status, setStatus] = useState(cycle.status as 'open' | 'in_progress' | 'closed');
  const save = useWrite(async () =>
    unwrap(
      await api.PATCH('/api/clients/{clientId}/cycles/{cycleId}', {
        params: { path: { clientId, cycleId: cycle.id } },
        body: { title, dueDate: dueDate || null, status },
      }),
    ),
  );
  return (
    <article className="card stack" aria-labelledby={`cycle-${cycle.id}`}>
      <div className="row">
        <h3 id={`cycle-${cycle.id}`}>{cycle.title}</h3>
        <StatusBadge status={cycle.status} audience="staff" />
        <span className="muted">
          {cycle.period} · due {formatDate(cycle.dueDate)}
        </span>
        <button type="button" onClick={() => setEditing(!editing)} aria-expanded={editing}>
          Edit cycle<span className="visually-hidden"> {cycle.title}</span>
        </button>
      </div>
      {editing && (
        <form
          className="inline-form"
          aria-label={`Edit ${cycle.title}`}
          onSubmit={async (event) => {
            event.preventDefault();
            await save.mutateAsync(undefined);
            setEditing(false);
          }}
        >
          <div>
            <label htmlFor={`title-${cycle.id}`}>Title</label>
            <input id={`title-${cycle.id}`} value={title} onChange={(e) => setTitle(e.target.value)} required />
          </div>
          <div>
            <label htmlFor={`due-${cycle.id}`}>Due date</label>
            <input id={`due-${cycle.id}`} type="date" value={dueDate} onChange={(e) => setDueDate(e.target.value)} />
          </div>
          <div>
            <label htmlFor={`status-${cycle.id}`}>Status</label>
            <select id={`status-${cycle.id}`} value={status} onChange={(e) => setStatus(e.target.value as typeof status)}>
              <option value="open">Open</option>
              <option value="in_progress">In progress</option>
              <option value="closed">Closed</option>
            </select>
          </div>
          <button type="submit" className="primary">
            Save cycle
          </button>
          <ErrorText error={save.error} />
        </form>
      )}
      {(requests.data ?? []).length > 0 && (
        <ul aria-label={`Requests in ${cycle.title}`}>
          {(requests.data ?? []).map((request) => (
            <li key={request.id}>
              <Link to={`/clients/${clientId}/requests/${request.id}`}>
                Request to {contactName(request.contactId)}, sent {formatDate(request.sentAt)} ({request.itemCount} items)
              </Link>{' '}
              <StatusBadge status={request.status} audience="staff" />
            </li>
          ))}
        </ul>
      )}
      {cycle.status !== 'closed' && <NewRequest clientId={clientId} cycle={cycle} />}
    </article>
  );
}

function Cycles({ clientId }: { clientId: string }) {
  const cycles = useQuery(queries.cycles(clientId));
  const [kind, setKind] = useState<(typeof KINDS)[number]>('bookkeeping');
  const [period, setPeriod] = useState('');
  const [title, setTitle] = useState('');
  const [dueDate, setDueDate] = useState('');
  const create = useWrite(async () =>
    unwrap(
      await api.POST('/api/clients/{clientId}/cycles', {
        params: { path: { clientId } },
        body: { kind, period, title, ...(dueDate && { dueDate }) },
      }),
    ),
  );
  return (
    <section aria-labelledby="cycles-title" className="stack">
      <h2 id="cycles-title">Cycles and requests</h2>
      {(cycles.data ?? []).map((cycle) => (
        <CycleCard key={`${cycle.id}-${cycle.updatedAt}`} clientId={clientId} cycle={cycle} />
      ))}
      <form
        className="inline-form"
        aria-label="New cycle"
        onSubmit={async (event) => {
          event.preventDefault();
          await create.mutateAsync(undefined);
          setPeriod('');
          setTitle('');
          setDueDate('');
        }}
      >
        <div>
          <label htmlFor="cycle-kind">Kind</label>
          <select id="cycle-kind" value={kind} onChange={(e) => setKind(e.target.value as typeof kind)}>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k.replace('_', ' ')}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="cycle-period">Period</label>
          <input id="cycle-period" value={period} onChange={(e) => setPeriod(e.target.value)} placeholder="2026-12" required />
        </div>
        <div>
          <label htmlFor="cycle-title">Cycle title</label>
          <input id="cycle-title" value={title} onChange={(e) => setTitle(e.target.value)} required />
        </div>
        <div>
          <label htmlFor="cycle-due">Due date</label>
          <input id="cycle-due" type="date" value={dueDate} onChange={(e) => setDueDate(e.target.value)} />
        </div>
        <button type="submit">Create cycle</button>
      </form>
      <ErrorText error={create.error} />
    </section>
  );
}

function Files({ clientId }: { clientId: string }) {
  const files = useQuery(queries.files(clientId));
  return (
    <section aria-labelledby="files-title">
      <h2 id="files-title">Files</h2>
      {(files.data ?? []).length === 0 ? (
        <p className="muted">No files yet.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col">Type</th>
                <th scope="col">Size</th>
                <th scope="col">Received</th>
              </tr>
            </thead>
            <tbody>
              {(files.data ?? []).map((file) => (
                <tr key={file.id}>
                  <td>
                    <a href={fileUrl(clientId, file.id, 'download')} download>
                      {file.filename}
                    </a>
                  </td>
                  <td>{file.contentType}</td>
                  <td>{formatBytes(file.size)}</td>
                  <td>{formatDateTime(file.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

const EVENT_FILTERS: Record<string, string> = {
  '': 'All events',
  'file.downloaded': 'Downloads',
  'request.read,cycle.read,client.read,contact.read': 'Reads',
  'file.uploaded,file.deleted': 'Uploads and removals',
  'item.reviewed': 'Reviews',
  'magic_link.created,magic_link.exchanged,magic_link.rotated,auth.logout': 'Links and sign-ins',
};

function AuditTrail({ clientId }: { clientId: string }) {
  const [eventType, setEventType] = useState('');
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const events = useInfiniteQuery(queries.audit(clientId, { eventType, since, until }));
  const rows = events.data?.pages.flatMap((page) => page.events) ?? [];
  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit trail</h2>
      <form className="inline-form" aria-label="Filter the audit trail" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label htmlFor="audit-type">Show</label>
          <select id="audit-type" value={eventType} onChange={(e) => setEventType(e.target.value)}>
            {Object.entries(EVENT_FILTERS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="audit-since">From</label>
          <input id="audit-since" type="date" value={since} onChange={(e) => setSince(e.target.value)} />
        </div>
        <div>
          <label htmlFor="audit-until">Before</label>
          <input id="audit-until" type="date" value={until} onChange={(e) => setUntil(e.target.value)} />
        </div>
      </form>
      <div className="table-wrap">
        <table aria-label="Audit events">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Event</th>
              <th scope="col">Who</th>
              <th scope="col">What</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((event) => (
              <tr key={event.id}>
                <td>{formatDateTime(event.occurredAt)}</td>
                <td>{event.eventType}</td>
                <td>
                  {event.actorType}
                  {event.actorId ? ` ${event.actorId.slice(0, 8)}` : ''}
                </td>
                <td>
                  {event.entityType ?? ''} {typeof event.data.filename === 'string' ? event.data.filename : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {events.hasNextPage && (
        <button type="button" onClick={() => void events.fetchNextPage()} disabled={events.isFetchingNextPage}>
          {events.isFetchingNextPage ? 'Loading…' : 'Load older events'}
        </button>
      )}
    </section>
  );
}

export function ClientPage() {
  const { clientId = '' } = useParams();
  const client = useQuery(queries.client(clientId));
  if (client.isPending) return <p aria-live="polite">Loading…</p>;
  if (client.error instanceof ApiError && (client.error.status === 404 || client.error.status === 400)) return <NotFoundPage />;
  if (!client.data) return <p role="alert">This client could not be loaded.</p>;
  return (
    <>
      <h1>{client.data.name}</h1>
      <p className="muted">UEN {client.data.uen ?? '—'}</p>
      <div className="grid2">
        <Contacts clientId={clientId} />
        <Files clientId={clientId} />
      </div>
      <Cycles clientId={clientId} />
      <AuditTrail clientId={clientId} />
    </>
  );
}
