import { clientContext, type Database, hashToken, inUnitOfWork, isTokenOf, newToken, type TxClient } from '@breezycorp/db';
import type { AuditEventType } from '../plugins/audit.ts';
import { type MagicLinkIds, resolveMagicLink } from './token-lookups.ts';

/**
 * Magic links are resolved before their tenant is known: the token hash goes through
 * `spade_resolve_magic_link` (token-lookups.ts, a SECURITY DEFINER function returning only
 * the ids needed, DESIGN.md §4). Everything after it runs in a unit of work confined to the
 * client it returned. Tokens are never logged and never stored: only their SHA-256 is.
 */

type ResolvedLink = MagicLinkIds;

async function resolveLink(db: Database, token: string): Promise<ResolvedLink | null> {
  // A malformed token never reaches the database.
  if (!isTokenOf('magicLink', token)) return null;
  return resolveMagicLink(db, hashToken(token));
}

/**
 * Re-reads the request inside the client's own unit of work: the link must still be this
 * request's current one, open, unexpired, and its contact not deleted — so a rotation or
 * expiry racing the lookup above still ends in a refusal.
 */
async function liveRequest(tx: TxClient, link: ResolvedLink, tokenHash: string) {
  const request = await tx.cycleRequest.findFirst({
    where: {
      clientId: link.clientId,
      id: link.cycleRequestId,
      contactId: link.contactId,
      tokenHash,
      status: 'open',
      expiresAt: { gt: new Date() },
    },
    select: { id: true, expiresAt: true },
  });
  if (!request) return null;
  const contact = await tx.contact.findFirst({
    where: { clientId: link.clientId, id: link.contactId, deletedAt: null },
    select: { id: true },
  });
  return contact ? request : null;
}

/** What the portal's landing page shows before Continue: who is asking, for what, by when. */
export interface LinkSummary {
  expiresAt: Date;
  clientName: string;
  cycleTitle: string;
  dueDate: Date | null;
}

/** Is this link usable right now? Reads only: opening a link (mail scanners do) changes nothing. */
export async function inspectMagicLink(db: Database, token: string): Promise<LinkSummary | null> {
  const link = await resolveLink(db, token);
  if (!link) return null;
  return inUnitOfWork(db.prisma, clientContext(link.clientId), async (tx) => {
    const request = await liveRequest(tx, link, hashToken(token));
    if (!request) return null;
    const about = await tx.cycleRequest.findFirst({
      where: { clientId: link.clientId, id: request.id },
      select: { client: { select: { name: true } }, cycle: { select: { title: true, dueDate: true } } },
    });
    if (!about) return null;
    return { expiresAt: request.expiresAt, clientName: about.client.name, cycleTitle: about.cycle.title, dueDate: about.cycle.dueDate };
  });
}

export interface ContactSessionGrant {
  clientId: string;
  cycleRequestId: string;
  contactId: string;
  sessionId: string;
  /** Returned to the contact once; only its hash is stored. */
  sessionToken: string;
  expiresAt: Date;
}

/**
 * Exchanges a magic link for a contact session bound to that contact and that request.
 * The session and its `magic_link.exchanged` audit event are written in one unit of work
 * confined to the link's client; `null` for every kind of bad link, with nothing written.
 */
export async function exchangeMagicLink(
  db: Database,
  token: string,
  options: { sessionTtlMs: number; httpRequestId: string },
): Promise<ContactSessionGrant | null> {
  const link = await resolveLink(db, token);
  if (!link) return null;
  return inUnitOfWork(db.prisma, clientContext(link.clientId), async (tx) => {
    const request = await liveRequest(tx, link, hashToken(token));
    if (!request) return null;
    const sessionToken = newToken('contact');
    const expiresAt = new Date(Math.min(Date.now() + options.sessionTtlMs, request.expiresAt.getTime()));
    const session = await tx.contactSession.create({
      data: {
        clientId: link.clientId,
        contactId: link.contactId,
        cycleRequestId: link.cycleRequestId,
        tokenHash: hashToken(sessionToken),
        expiresAt,
      },
      select: { id: true },
    });
    await tx.auditEvent.createMany({
      data: [
        {
          eventType: 'magic_link.exchanged' satisfies AuditEventType,
          actorType: 'contact',
          actorId: link.contactId,
          clientId: link.clientId,
          entityType: 'cycle_request',
          entityId: link.cycleRequestId,
          requestId: options.httpRequestId,
          eventDataJson: { contactSessionId: session.id, sessionExpiresAt: expiresAt.toISOString() },
        },
      ],
    });
    return {
      clientId: link.clientId,
      cycleRequestId: link.cycleRequestId,
      contactId: link.contactId,
      sessionId: session.id,
      sessionToken,
      expiresAt,
    };
  });
}
