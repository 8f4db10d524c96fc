/**
 * The contact's session lives in an HttpOnly cookie (path /api/portal). The page keeps only
 * what it needs to address the API — the client id and the CSRF header value — for this
 * tab (sessionStorage), so a reload keeps working and closing the tab forgets it.
 */
export interface PortalSession {
  clientId: string;
  csrfToken: string;
}

const KEY = 'spade.portal';

export function readSession(): PortalSession | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<PortalSession>;
    return typeof parsed.clientId === 'string' && typeof parsed.csrfToken === 'string'
      ? { clientId: parsed.clientId, csrfToken: parsed.csrfToken }
      : null;
  } catch {
    return null;
  }
}

export function saveSession(session: PortalSession): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function forgetSession(): void {
  sessionStorage.removeItem(KEY);
}

/** The token in `/portal#token=…`, if any (the fragment never reaches a server). */
export function tokenFromFragment(hash: string): string | null {
  const token = new URLSearchParams(hash.replace(/^#/, '')).get('token');
  return token && token.length <= 200 ? token : null;
}
