import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { formatDate } from '../../../lib/format.ts';
import { queries } from '../api.ts';

export function HomePage() {
  const clients = useQuery(queries.clients());
  const outstanding = useQuery(queries.outstanding());
  const dueSoon = useQuery(queries.dueSoon());
  const countsOf = new Map((outstanding.data ?? []).map((row) => [row.clientId, row]));
  const nameOf = new Map((clients.data ?? []).map((client) => [client.id, client.name]));
  return (
    <>
      <h1>My clients</h1>
      <section aria-labelledby="clients-title">
        <h2 id="clients-title" className="visually-hidden">
          Clients
        </h2>
        {clients.isPending ? (
          <p>Loading…</p>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Client</th>
                  <th scope="col">UEN</th>
                  <th scope="col">Open requests</th>
                  <th scope="col">Items outstanding</th>
                </tr>
              </thead>
              <tbody>
                {(clients.data ?? []).map((client) => (
                  <tr key={client.id}>
                    <td>
                      <Link to={`/clients/${client.id}`}>{client.name}</Link>
                    </td>
                    <td>{client.uen ?? '—'}</td>
                    <td>{countsOf.get(client.id)?.openRequests ?? 0}</td>
                    <td>{countsOf.get(client.id)?.outstandingItems ?? 0}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section aria-labelledby="due-title">
        <h2 id="due-title">Cycles due in the next 30 days</h2>
        {(dueSoon.data ?? []).length === 0 ? (
          <p className="muted">Nothing due soon.</p>
        ) : (
          <ul>
            {(dueSoon.data ?? []).map((cycle) => (
              <li key={cycle.id}>
                <Link to={`/clients/${cycle.clientId}`}>{cycle.title}</Link> — {nameOf.get(cycle.clientId) ?? ''}, due{' '}
                {formatDate(cycle.dueDate)}
              </li>
            ))}
          </ul>
        )}
      </section>
    </>
  );
}
