import { useEffect, useRef } from 'react';
import { Link } from 'react-router';

/** One page for "does not exist" and "not yours": the two must look the same. */
export function NotFoundPage() {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <section aria-labelledby="not-found-title">
      <h1 id="not-found-title" ref={heading} tabIndex={-1}>
        Page not found
      </h1>
      <p>There is nothing here, or you do not have access to it.</p>
      <Link to="/">Back to my clients</Link>
    </section>
  );
}
