import { type FormEvent, useEffect, useId, useRef, useState } from 'react';
import { useNewLinkRequest } from '../api.ts';

function useFocusHeading() {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return ref;
}

/** One page for every dead link — unknown, expired, replaced or cancelled look alike and reveal nothing. */
export function InvalidLink() {
  const heading = useFocusHeading();
  return (
    <section className="card calm" aria-labelledby="invalid-title">
      <h1 id="invalid-title" ref={heading} tabIndex={-1}>
        This link is no longer valid
      </h1>
      <p>Ask your firm for a new one. Links stop working when they expire or when a newer one is sent.</p>
      <NewLinkForm />
    </section>
  );
}

/**
 * "Email me a new link": the same confirmation whether or not the address is known (the API
 * answers alike, and as fast); only asking too often gets a different answer.
 */
function NewLinkForm() {
  const inputId = useId();
  const [email, setEmail] = useState('');
  const ask = useNewLinkRequest();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (email.trim() !== '') ask.mutate(email.trim());
  };
  if (ask.data === 'asked') {
    return (
      <p role="status" className="new-link-sent">
        If that address has an open request, a new link is on its way. Check your inbox in a few minutes.
      </p>
    );
  }
  return (
    <form className="new-link" onSubmit={submit}>
      <p>Or have a new link emailed to you:</p>
      <label htmlFor={inputId}>Email address</label>
      <input id={inputId} type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
      {ask.data === 'rate_limited' && <p role="alert">Too many requests for a new link. Please wait a few minutes and try again.</p>}
      {ask.data === 'failed' && <p role="alert">We could not send your request. Please try again.</p>}
      <p>
        <button type="submit" className="primary wide" disabled={ask.isPending}>
          Email me a new link
        </button>
      </p>
    </form>
  );
}

export function SignedOut() {
  const heading = useFocusHeading();
  return (
    <section className="card calm" aria-labelledby="signed-out-title">
      <h1 id="signed-out-title" ref={heading} tabIndex={-1}>
        You have signed out
      </h1>
      <p>To come back, open the link in your email again.</p>
    </section>
  );
}
