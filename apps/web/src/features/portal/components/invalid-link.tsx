import { useEffect, useRef } from 'react';

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
    </section>
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
