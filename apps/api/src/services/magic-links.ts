import { clientContext, type Database, hashToken, isTokenOf, newToken, type ScopedTx } from '@breezycorp/db';
import { type AuditEventType, writeAuditEvents } from './audit-log.ts';
import { enqueueContactMessage } from './outbox.ts';
import { consumeMagicLink, type MagicLinkIds, openRequestsForEmail, resolveMagicLink } from './token-lookups.ts';

/**
 * Magic links are resolved before their tenant is known: the token hash goes through
 * `spade_resolve_magic_link` (token-lookups.ts, a SECURITY DEFINER function returning only
 * the ids needed, DESIGN.md §4). Everything after it runs in a unit of work confined to the
 * client it returned. Tokens are never logged and never stored: only their SHA-256 is, and
 * the token itself exists only in the mail the delivery worker sent (services/delivery).
 */

/**
 * Mints a request's magic link, inside its client's unit of work: a new token whose SHA-256
 * replaces the request's (the previous link stops working; open contact sessions are not
 * affected) and which has not been exchanged yet. The token is returned to be put in one
 * place only — the mail the delivery worker sends, or the audited hand-over response.
 */
export async function mintMagicLink(tx: ScopedTx, cycleRequestId: string): Promise<string> {
  const token = newToken('magicLink');
  await tx.cycleRequest.updateMany({
    where: { id: cycleRequestId },
    data: { tokenHash: hashToken(token), linkExchangedAt: null, updatedAt: new Date() },
  });
  return token;
}

async function resolveLink(db: Database, token: string): Promise<MagicLinkIds | null> {
  // A malformed token never reaches the database.
  if (!isTokenOf('magicLink', token)) return null;
  return resolveMagicLink(db, hashToken(token));
}

/**
 * Is this link usable right now? Reads only: opening a link (mail scanners do) changes
 * nothing. A link already exchanged is not usable: it answers like any bad link.
 */
/** What the portal's landing page shows before Continue: who is asking, for what, by when. */
export interface LinkSummary {
  expiresAt: Date;
  clientName: string;
  cycleTitle: string;
  dueDate: Date | null;
}

export async function inspectMagicLink(db: Database, token: string): Promise<LinkSummary | null> {
  const link = await resolveLink(db, token);
  if (!link || link.exchanged) return null;
  return db.inUnit(clientContext(link.clientId), async (tx) => {
    const request = await tx.cycleRequest.findFirst({
      where: { clientId: link.clientId, id: link.cycleRequestId, status: 'open', expiresAt: { gt: new Date() } },
      select: { expiresAt: true, client: { select: { name: true } }, cycle: { select: { title: true, dueDate: true } } },
    });
    if (!request) return null;
    return {
      expiresAt: request.expiresAt,
      clientName: request.client.name,
      cycleTitle: request.cycle.title,
      dueDate: request.cycle.dueDate,
    };
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

export type ExchangeOutcome = { kind: 'granted'; grant: ContactSessionGrant } | { kind: 'replayed' } | { kind: 'invalid' };

/**
 * Exchanges a magic link, once, for a contact session bound to that contact and that
 * request. Marking the link used, the session and its `magic_link.exchanged` event are one
 * unit of work confined to the link's client. A link presented again (a forwarded or stolen
 * mail, or a second tab) is refused like any bad link and recorded as `magic_link.replayed`
 * on the request, where staff see it. Every other bad link writes nothing here.
 */
export async function exchangeMagicLink(
  db: Database,
  token: string,
  options: { sessionTtlMs: number; httpRequestId: string; ip: string },
): Promise<ExchangeOutcome> {
  const link = await resolveLink(db, token);
  if (!link) return { kind: 'invalid' };
  return db.inUnit(clientContext(link.clientId), async (tx): Promise<ExchangeOutcome> => {
    const consumed = await consumeMagicLink(tx, hashToken(token));
    if (!consumed) {
      if (!link.exchanged) {
        // Used by a concurrent exchange between the lookup and now: that is a replay too.
        const still = await tx.cycleRequest.findFirst({
          where: { clientId: link.clientId, id: link.cycleRequestId, linkExchangedAt: { not: null } },
          select: { id: true },
        });
        if (!still) return { kind: 'invalid' };
      }
      await writeAuditEvents(tx, [
        {
          eventType: 'magic_link.replayed' satisfies AuditEventType,
          actorType: 'anonymous',
          actorId: null,
          clientId: link.clientId,
          entityType: 'cycle_request',
          entityId: link.cycleRequestId,
          requestId: options.httpRequestId,
          eventDataJson: { contactId: link.contactId, ip: options.ip },
        },
      ]);
      return { kind: 'replayed' };
    }
    const sessionToken = newToken('contact');
    const expiresAt = new Date(Math.min(Date.now() + options.sessionTtlMs, consumed.expiresAt.getTime()));
    const session = await tx.contactSession.create({
      data: {
        clientId: consumed.clientId,
        contactId: consumed.contactId,
        cycleRequestId: consumed.cycleRequestId,
        tokenHash: hashToken(sessionToken),
        expiresAt,
      },
      select: { id: true },
    });
    await writeAuditEvents(tx, [
      {
        eventType: 'magic_link.exchanged' satisfies AuditEventType,
        actorType: 'contact',
        actorId: consumed.contactId,
        clientId: consumed.clientId,
        entityType: 'cycle_request',
        entityId: consumed.cycleRequestId,
        requestId: options.httpRequestId,
        eventDataJson: { contactSessionId: session.id, sessionExpiresAt: expiresAt.toISOString() },
      },
    ]);
    return {
      kind: 'granted',
      grant: {
        clientId: consumed.clientId,
        cycleRequestId: consumed.cycleRequestId,
        contactId: consumed.contactId,
        sessionId: session.id,
        sessionToken,
        expiresAt,
      },
    };
  });
}

/**
 * "Email me a new link": for each open request of this address (across clients, ids only
 * from a SECURITY DEFINER lookup), queue a fresh link in that client's own unit of work —
 * at most `perAddressPerHour` per contact, counted in the outbox so the limit holds across
 * API instances. Returns nothing: the caller answers the same whatever happened here.
 */
export async function requestNewLink(
  db: Database,
  email: string,
  options: { perAddressPerHour: number; httpRequestId: string; ip: string },
): Promise<void> {
  const address = email.trim();
  if (!/^[^@\s]+@[^@\s]+$/.test(address)) return;
  for (const ids of await openRequestsForEmail(db, address)) {
    await db.inClientUnit(ids.clientId, async (tx) => {
      const contact = await tx.contact.findFirst({ where: { id: ids.contactId, deletedAt: null }, select: { email: true } });
      if (!contact) return;
      const recent = await tx.outboxMessage.count({
        where: { contactId: ids.contactId, reason: 'self_service', createdAt: { gt: new Date(Date.now() - 3_600_000) } },
      });
      const limited = recent >= options.perAddressPerHour;
      const queued = limited
        ? null
        : await enqueueContactMessage(tx, {
            clientId: ids.clientId,
            cycleRequestId: ids.cycleRequestId,
            contactId: ids.contactId,
            to: contact.email,
            kind: 'magic_link',
            reason: 'self_service',
          });
      await writeAuditEvents(tx, [
        {
          eventType: 'magic_link.requested' satisfies AuditEventType,
          actorType: 'anonymous',
          actorId: null,
          clientId: ids.clientId,
          entityType: 'cycle_request',
          entityId: ids.cycleRequestId,
          requestId: options.httpRequestId,
          eventDataJson: { contactId: ids.contactId, ip: options.ip, limited, ...(queued && { outboxId: queued.id }) },
        },
      ]);
    });
  }
}
