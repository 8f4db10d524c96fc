import { useEffect, useState } from 'react';
import { onSessionEnded } from './api.ts';
import { Checklist } from './components/checklist.tsx';
import { InvalidLink, SignedOut } from './components/invalid-link.tsx';
import { LinkLanding } from './components/link-landing.tsx';
import { readSession, tokenFromFragment } from './session.ts';

type View = { kind: 'landing'; token: string } | { kind: 'checklist'; clientId: string } | { kind: 'invalid' } | { kind: 'signed-out' };

function initialView(): View {
  const token = tokenFromFragment(window.location.hash);
  if (token) return { kind: 'landing', token };
  const session = readSession();
  return session ? { kind: 'checklist', clientId: session.clientId } : { kind: 'invalid' };
}

/** The contact's portal: link → Continue → checklist; any ended session → the one calm invalid-link page. */
export function PortalApp() {
  const [view, setView] = useState<View>(initialView);
  useEffect(() => onSessionEnded(() => setView({ kind: 'invalid' })), []);

  return (
    <div className="portal">
      <header className="portal-header">
        <span className="brand">Spade</span>
        <span className="muted">secure document upload</span>
      </header>
      <main className="portal-main">
        {view.kind === 'landing' && (
          <LinkLanding
            token={view.token}
            onContinue={(clientId) => {
              // The token leaves the address bar (and the history entry) once used.
              window.history.replaceState(null, '', '/portal');
              setView({ kind: 'checklist', clientId });
            }}
            onInvalid={() => {
              window.history.replaceState(null, '', '/portal');
              setView({ kind: 'invalid' });
            }}
          />
        )}
        {view.kind === 'checklist' && <Checklist clientId={view.clientId} onSignedOut={() => setView({ kind: 'signed-out' })} />}
        {view.kind === 'invalid' && <InvalidLink />}
        {view.kind === 'signed-out' && <SignedOut />}
      </main>
    </div>
  );
}
