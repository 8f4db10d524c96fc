import { formatDate } from '../../../lib/format.ts';
import { useExchange, useLinkCheck } from '../api.ts';
import { InvalidLink } from './invalid-link.tsx';

/**
 * Opening the link only checks it (GET, nothing written — mail scanners open links too);
 * the contact's own click on Continue uses it (POST).
 */
export function LinkLanding({
  token,
  onContinue,
  onInvalid,
}: {
  token: string;
  onContinue: (clientId: string) => void;
  onInvalid: () => void;
}) {
  const check = useLinkCheck(token);
  const exchange = useExchange();

  if (check.isPending) return <p aria-live="polite">Checking your link…</p>;
  if (!check.data) return <InvalidLink />;
  const link = check.data;
  return (
    <section className="card" aria-labelledby="landing-title">
      <p className="eyebrow">{link.clientName}</p>
      <h1 id="landing-title">{link.cycleTitle}</h1>
      <p>{link.firmName} has asked you for some documents. Continue to see the list and upload them.</p>
      <dl className="facts">
        {link.dueDate && (
          <>
            <dt>Due</dt>
            <dd>{formatDate(link.dueDate)}</dd>
          </>
        )}
        <dt>Link valid until</dt>
        <dd>{formatDate(link.expiresAt)}</dd>
      </dl>
      <button
        type="button"
        className="primary wide"
        disabled={exchange.isPending}
        onClick={async () => {
          const grant = await exchange.mutateAsync(token);
          if (grant) onContinue(grant.clientId);
          else onInvalid();
        }}
      >
        {exchange.isPending ? 'Opening…' : 'Continue'}
      </button>
    </section>
  );
}
