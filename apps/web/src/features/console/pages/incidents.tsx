import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { ApiError } from '../../../lib/api-client.ts';
import { type DetectionState, type IncidentSummary, queries, useMe } from '../api.ts';
import { NotFoundPage } from './not-found.tsx';

/**
 * The incident console (admins): what the `spade` CLI records, read-only. Nothing here
 * changes state — beside each item is the command to run (docs/runbooks/suspected-tenant-leak.md),
 * and the CLI records what it does on the incident's timeline.
 */

type Command = { purpose: string; command: string };
type Clock = IncidentSummary['clocks'][number];

/**
 * Times as the firm reads them: the PDPA clocks count calendar days in Singapore, and the
 * CLI prints Singapore time, so the console does too, whatever the browser's zone.
 */
const sgt = new Intl.DateTimeFormat('en-SG', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Asia/Singapore' });
function formatDateTime(value: string): string {
  return `${sgt.format(new Date(value))} SGT`;
}

/** One clock for the whole page: a tick per second moves every countdown together. */
function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), 1_000);
    return () => window.clearInterval(timer);
  }, []);
  return now;
}

/** "3 d 04 h 12 m 09 s": what is left (or how late), to the second. */
function formatSpan(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const days = Math.floor(s / 86_400);
  const pad = (n: number) => String(n).padStart(2, '0');
  const hms = `${pad(Math.floor((s % 86_400) / 3_600))} h ${pad(Math.floor((s % 3_600) / 60))} m ${pad(s % 60)} s`;
  return days > 0 ? `${days} d ${hms}` : hms;
}

const STATE_LABELS: Record<Clock['state'], string> = {
  running: 'Running',
  met: 'Met',
  overdue: 'Overdue',
  not_started: 'Not started',
  not_applicable: 'Not applicable',
};

function CommandBlock({ command }: { command: Command }) {
  const [copied, setCopied] = useState<'copied' | 'selected' | null>(null);
  const code = useRef<HTMLElement>(null);
  return (
    <div className="command">
      <p className="small muted">{command.purpose}</p>
      <div className="command-line">
        <code ref={code}>{command.command}</code>
        <button
          type="button"
          className="link"
          onClick={async () => {
            // The clipboard API needs a secure context; elsewhere the command is selected for Ctrl+C.
            const copiedIt = await navigator.clipboard?.writeText(command.command).then(
              () => true,
              () => false,
            );
            if (copiedIt) return setCopied('copied');
            const selection = window.getSelection();
            if (code.current && selection) selection.selectAllChildren(code.current);
            setCopied('selected');
          }}
        >
          {copied === 'copied' ? 'Copied' : copied === 'selected' ? 'Selected: press Ctrl+C' : 'Copy'}
          <span className="visually-hidden">: {command.purpose}</span>
        </button>
      </div>
    </div>
  );
}

function Commands({ commands, label }: { commands: Command[]; label: string }) {
  if (commands.length === 0) return null;
  return (
    <section className="commands" aria-label={label}>
      <p className="eyebrow">Run this to act</p>
      {commands.map((command) => (
        <CommandBlock key={command.command} command={command} />
      ))}
    </section>
  );
}

/**
 * A PDPA clock counting down from the server's deadline. The offset between the server's
 * `asOf` and this browser's clock at receipt is applied, so a wrong laptop clock does not move it.
 */
function ClockRow({ clock, now, skewMs }: { clock: Clock; now: number; skewMs: number }) {
  const deadline = clock.deadline ? Date.parse(clock.deadline) : null;
  const left = deadline === null ? null : (deadline - (now + skewMs)) / 1000;
  const late = left !== null && left < 0;
  const state = clock.state === 'running' && late ? 'overdue' : clock.state;
  return (
    <li className={`clock clock-${state}`}>
      <div className="row">
        <strong>{clock.label}</strong>
        <span className={`badge badge-clock-${state}`}>{STATE_LABELS[state]}</span>
      </div>
      {deadline !== null && clock.deadline && (
        <p className="small">
          Due <time dateTime={clock.deadline}>{formatDateTime(clock.deadline)}</time>
          {clock.state !== 'met' && left !== null && (
            <>
              {' — '}
              <span role="timer" className="countdown">
                {late ? `overdue by ${formatSpan(-left)}` : `${formatSpan(left)} left`}
              </span>
            </>
          )}
        </p>
      )}
      <p className="small muted">
        {clock.rule}; {clock.note}
      </p>
      {clock.command && <code className="block">{clock.command}</code>}
    </li>
  );
}

function Timeline({ incidentId, title }: { incidentId: string; title: string }) {
  const detail = useQuery(queries.incident(incidentId));
  if (detail.isPending) return <p aria-live="polite">Loading the timeline…</p>;
  if (!detail.data) return <p role="alert">The timeline could not be loaded.</p>;
  const { timeline, timelineTotal, evidence, frozenTenants, routesOffline } = detail.data;
  return (
    <div className="stack">
      <ol className="timeline" aria-label={`Timeline of ${title}`}>
        {timeline.map((entry) => (
          <li key={entry.id}>
            <time dateTime={entry.occurredAt}>{formatDateTime(entry.occurredAt)}</time> <span className="badge">{entry.kind}</span>{' '}
            {entry.message} <span className="muted small">— {entry.actor}</span>
          </li>
        ))}
      </ol>
      {timelineTotal > timeline.length && (
        <p className="small muted">
          The newest {timeline.length} of {timelineTotal} entries; the CLI prints them all.
        </p>
      )}
      {evidence.length > 0 && (
        <div>
          <h4>Evidence</h4>
          <ul aria-label={`Evidence of ${title}`}>
            {evidence.map((e) => (
              <li key={e.id}>
                <span className="filename">{e.filename}</span> ({e.size} bytes), sha256 <code>{e.sha256}</code>, added by {e.addedBy}{' '}
                {formatDateTime(e.addedAt)}
              </li>
            ))}
          </ul>
        </div>
      )}
      {(frozenTenants.length > 0 || routesOffline.length > 0) && (
        <div>
          <h4>Containment in force</h4>
          <ul>
            {frozenTenants.map((f) => (
              <li key={f.id}>
                Frozen: {f.clientName ?? f.clientId}
                {f.isDecoy && ' (decoy)'}
              </li>
            ))}
            {routesOffline.map((r) => (
              <li key={r.id}>
                Offline: <code>{`${r.method} ${r.routePattern}`}</code>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

function IncidentCard({ incident, now, skewMs }: { incident: IncidentSummary; now: number; skewMs: number }) {
  const [showTimeline, setShowTimeline] = useState(false);
  const titleId = `incident-${incident.id}`;
  return (
    <article className="card stack incident" aria-labelledby={titleId}>
      <div className="item-head">
        <h3 id={titleId}>{incident.title}</h3>
        <div className="row">
          <span className="badge badge-critical">Severity: {incident.severity}</span>
          <span className={`badge badge-${incident.status}`}>{incident.status === 'open' ? 'Open' : 'Resolved'}</span>
        </div>
      </div>
      <dl className="facts small">
        <dt>Opened</dt>
        <dd>
          <time dateTime={incident.openedAt}>{formatDateTime(incident.openedAt)}</time> by {incident.openedBy}
        </dd>
        <dt>Reported by</dt>
        <dd>{incident.reporter}</dd>
        <dt>Channel</dt>
        <dd>{incident.channel}</dd>
        <dt>Incident id</dt>
        <dd>
          <code>{incident.id}</code>
        </dd>
      </dl>
      <ul className="clocks" aria-label={`PDPA clocks of ${incident.title}`}>
        {incident.clocks.map((clock) => (
          <ClockRow key={clock.name} clock={clock} now={now} skewMs={skewMs} />
        ))}
      </ul>
      <Commands commands={incident.commands} label={`Commands for ${incident.title}`} />
      <div>
        <button type="button" aria-expanded={showTimeline} onClick={() => setShowTimeline((v) => !v)}>
          {showTimeline ? 'Hide' : 'Show'} the timeline<span className="visually-hidden"> of {incident.title}</span>
        </button>
      </div>
      {showTimeline && <Timeline incidentId={incident.id} title={incident.title} />}
    </article>
  );
}

function Detection({ state }: { state: DetectionState }) {
  return (
    <>
      <section aria-labelledby="alerts-title">
        <h2 id="alerts-title">Detection alerts</h2>
        {state.alerts.length === 0 ? (
          <p className="muted">No open decoy or breadth alert.</p>
        ) : (
          <ul className="checklist" aria-labelledby="alerts-title">
            {state.alerts.map((alert) => (
              <li key={alert.id} className="item stack" aria-label={`${alert.kind}: ${alert.summary}`}>
                <div className="item-head">
                  <strong>{alert.summary}</strong>
                  <span className={`badge badge-alert-${alert.status}`}>
                    {alert.status === 'suggested' ? 'Suggested incident' : 'Incident opened'}
                  </span>
                </div>
                <p className="small">
                  <span className="badge">{alert.kind}</span> raised <time dateTime={alert.raisedAt}>{formatDateTime(alert.raisedAt)}</time>{' '}
                  by {alert.detectedBy}
                  {alert.subjectClientId && (
                    <>
                      {' '}
                      — about {alert.subjectClientName ?? alert.subjectClientId}
                      {alert.subjectIsDecoy && ' (decoy)'}
                    </>
                  )}
                  {alert.route && (
                    <>
                      {' '}
                      on <code>{alert.route}</code>
                    </>
                  )}
                </p>
                <Commands commands={alert.commands} label={`Commands for alert ${alert.summary}`} />
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="frozen-title">
        <h2 id="frozen-title">Frozen tenants</h2>
        {state.frozenTenants.length === 0 ? (
          <p className="muted">No client is frozen.</p>
        ) : (
          <ul className="checklist" aria-labelledby="frozen-title">
            {state.frozenTenants.map((freeze) => {
              const name = `${freeze.clientName ?? freeze.clientId}${freeze.isDecoy ? ' (decoy)' : ''}`;
              return (
                <li key={freeze.id} className="item stack" aria-label={`Frozen: ${name}`}>
                  <strong>{name}</strong>
                  <p className="small">
                    Frozen since <time dateTime={freeze.createdAt}>{formatDateTime(freeze.createdAt)}</time> by {freeze.createdBy}:{' '}
                    {freeze.reason}
                  </p>
                  <Commands commands={freeze.commands} label={`Commands for ${name}`} />
                </li>
              );
            })}
          </ul>
        )}
      </section>
      <section aria-labelledby="routes-title">
        <h2 id="routes-title">Routes offline</h2>
        {state.routesOffline.length === 0 ? (
          <p className="muted">Every route is online.</p>
        ) : (
          <ul className="checklist" aria-labelledby="routes-title">
            {state.routesOffline.map((route) => {
              const name = `${route.method} ${route.routePattern}`;
              return (
                <li key={route.id} className="item stack" aria-label={`Offline: ${name}`}>
                  <code>{name}</code>
                  <p className="small">
                    Offline since <time dateTime={route.createdAt}>{formatDateTime(route.createdAt)}</time> by {route.createdBy}:{' '}
                    {route.reason}
                  </p>
                  <Commands commands={route.commands} label={`Commands for ${name}`} />
                </li>
              );
            })}
          </ul>
        )}
      </section>
    </>
  );
}

function IncidentsConsole() {
  const incidents = useQuery(queries.incidents());
  const detection = useQuery(queries.detection());
  const now = useNow();
  if (incidents.error instanceof ApiError && incidents.error.status === 404) return <NotFoundPage />;
  const data = incidents.data;
  // Server time minus this browser's time when the answer arrived: the countdowns use the server's clock.
  const skewMs = data ? Date.parse(data.asOf) - data.receivedAt : 0;
  const open = (data?.incidents ?? []).filter((i) => i.status === 'open');
  const resolved = (data?.incidents ?? []).filter((i) => i.status !== 'open');
  return (
    <>
      <h1>Incidents</h1>
      <p className="muted">
        Read-only: what the <code>spade</code> CLI has recorded. To act, run the command shown beside each item (runbook:
        docs/runbooks/suspected-tenant-leak.md); the CLI records it on the incident's timeline.
      </p>
      <section aria-labelledby="open-title">
        <h2 id="open-title">Open incidents</h2>
        {incidents.isPending ? (
          <p aria-live="polite">Loading…</p>
        ) : incidents.error ? (
          <p role="alert">The incidents could not be loaded.</p>
        ) : open.length === 0 ? (
          <p className="muted">No open incident.</p>
        ) : (
          <div className="stack">
            {open.map((incident) => (
              <IncidentCard key={incident.id} incident={incident} now={now} skewMs={skewMs} />
            ))}
          </div>
        )}
      </section>
      {detection.data && <Detection state={detection.data} />}
      {detection.error && <p role="alert">The detection state could not be loaded.</p>}
      {resolved.length > 0 && (
        <section aria-labelledby="resolved-title">
          <h2 id="resolved-title">Resolved in the last 30 days</h2>
          <div className="stack">
            {resolved.map((incident) => (
              <IncidentCard key={incident.id} incident={incident} now={now} skewMs={skewMs} />
            ))}
          </div>
        </section>
      )}
    </>
  );
}

/** Admins only; anyone else sees the same page as for an address that does not exist. */
export function IncidentsPage() {
  const me = useMe();
  if (me.data?.staffUser.role !== 'admin') return <NotFoundPage />;
  return <IncidentsConsole />;
}
