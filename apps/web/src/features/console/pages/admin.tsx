import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { unwrap } from '../../../lib/api-client.ts';
import { api, queries, type StaffUser, useWrite } from '../api.ts';

function Assignments({ user }: { user: StaffUser }) {
  const assignments = useQuery(queries.assignments(user.id));
  const clients = useQuery(queries.clients());
  const [clientId, setClientId] = useState('');
  const assign = useWrite(async () =>
    unwrap(
      await api.POST('/api/staff-users/{staffUserId}/assignments', { params: { path: { staffUserId: user.id } }, body: { clientId } }),
    ),
  );
  const unassign = useWrite(async (id: string) =>
    unwrap(
      await api.DELETE('/api/staff-users/{staffUserId}/assignments/{clientId}', {
        params: { path: { staffUserId: user.id, clientId: id } },
      }),
    ),
  );
  const assigned = new Set((assignments.data ?? []).map((a) => a.clientId));
  return (
    <div className="stack">
      <ul aria-label={`Clients assigned to ${user.name}`}>
        {(assignments.data ?? []).map((a) => (
          <li key={a.id}>
            {a.clientName}{' '}
            <button type="button" className="link" onClick={() => unassign.mutate(a.clientId)}>
              Unassign
              <span className="visually-hidden">
                {' '}
                {a.clientName} from {user.name}
              </span>
            </button>
          </li>
        ))}
      </ul>
      <form
        className="inline-form"
        onSubmit={async (event) => {
          event.preventDefault();
          await assign.mutateAsync(undefined);
          setClientId('');
        }}
      >
        <div>
          <label htmlFor={`assign-${user.id}`}>Assign a client to {user.name}</label>
          <select id={`assign-${user.id}`} value={clientId} onChange={(e) => setClientId(e.target.value)} required>
            <option value="">Choose…</option>
            {(clients.data ?? [])
              .filter((c) => !assigned.has(c.id))
              .map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
          </select>
        </div>
        <button type="submit">Assign</button>
      </form>
    </div>
  );
}

function StaffRow({ user }: { user: StaffUser }) {
  const [revoked, setRevoked] = useState<number | null>(null);
  const revoke = useWrite(async () =>
    unwrap(await api.POST('/api/staff-users/{staffUserId}/sessions/revoke', { params: { path: { staffUserId: user.id } } })),
  );
  return (
    <tr>
      <td>
        {user.name}
        <br />
        <span className="muted small">{user.email}</span>
      </td>
      <td>{user.role}</td>
      <td>{user.role === 'admin' ? <span className="muted">all clients</span> : <Assignments user={user} />}</td>
      <td>
        <button
          type="button"
          className="danger"
          onClick={async () => {
            const result = await revoke.mutateAsync(undefined);
            setRevoked(result.revoked);
          }}
        >
          Sign out everywhere<span className="visually-hidden"> ({user.name})</span>
        </button>
        {revoked !== null && <p role="status">{revoked} session(s) ended.</p>}
      </td>
    </tr>
  );
}

export function AdminPage() {
  const users = useQuery(queries.staffUsers());
  const [form, setForm] = useState({ name: '', email: '', password: '', role: 'staff' as 'staff' | 'admin' });
  const create = useWrite(async () => unwrap(await api.POST('/api/staff-users', { body: form })));
  return (
    <>
      <h1>Administration</h1>
      <section aria-labelledby="staff-title">
        <h2 id="staff-title">Staff</h2>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Clients</th>
                <th scope="col">Sessions</th>
              </tr>
            </thead>
            <tbody>
              {(users.data ?? []).map((user) => (
                <StaffRow key={user.id} user={user} />
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section aria-labelledby="new-staff-title">
        <h2 id="new-staff-title">Add a staff member</h2>
        <form
          className="inline-form"
          onSubmit={async (event) => {
            event.preventDefault();
            await create.mutateAsync(undefined);
            setForm({ name: '', email: '', password: '', role: 'staff' });
          }}
        >
          <div>
            <label htmlFor="staff-name">Name</label>
            <input id="staff-name" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} required />
          </div>
          <div>
            <label htmlFor="staff-email">Email</label>
            <input
              id="staff-email"
              type="email"
              value={form.email}
              onChange={(e) => setForm({ ...form, email: e.target.value })}
              required
            />
          </div>
          <div>
            <label htmlFor="staff-password">Initial password (12+ characters)</label>
            <input
              id="staff-password"
              type="password"
              autoComplete="new-password"
              minLength={12}
              value={form.password}
              onChange={(e) => setForm({ ...form, password: e.target.value })}
              required
            />
          </div>
          <div>
            <label htmlFor="staff-role">Role</label>
            <select id="staff-role" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as 'staff' | 'admin' })}>
              <option value="staff">Staff</option>
              <option value="admin">Admin</option>
            </select>
          </div>
          <button type="submit">Add staff member</button>
        </form>
        {create.error && <p role="alert">{create.error.message}</p>}
      </section>
    </>
  );
}
