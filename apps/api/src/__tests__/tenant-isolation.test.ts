import { randomBytes, randomUUID } from 'node:crypto';
import { runCli } from '@breezycorp/cli/program';
import { DEMO, hashToken, newToken } from '@breezycorp/db';
import { openDatabase, type UnsafeDatabase } from '@breezycorp/db/unsafe';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../app.ts';
import { notFound } from '../errors.ts';
import { openApiPath } from '../plugins/openapi.ts';
import { clientScope } from '../routes/client-route.ts';
import { cycleView } from '../routes/cycles/schema.ts';
import { PageQueryFields, pager } from '../routes/pagination.ts';
import { ALL_LAYERS_OFF as OFF } from '../tenancy/layers.ts';
import {
  coverageTable,
  describeFindings,
  type ForbiddenValue,
  isListOperation,
  type ProbeActor,
  type ProbeFixture,
  type ProbeObservation,
  probe,
  routeName,
} from './support/cross-tenant-probe.ts';
import { type Headers, multipartFile, type Reply, send } from './support/http.ts';
import { type OpenApiDocument, routesServingLists } from './support/paged-lists.ts';
import { createTestApp, login, type TestApp } from './support/test-app.ts';

/*
 * Tenant isolation, from the outside: the runbook's regression file ("add regression cases
 * here"). Part A is the automatic cross-tenant probe over the live route table; part B names
 * each attack on each resource. The victim is a client created by this file — never the
 * DEMO data — whose every text field carries a unique marker, so any byte of it in a
 * response to the wrong actor is caught. Real PostgreSQL, connected as spade_app.
 */

// Client-level text (client name, cycle title/period) carries MARKER; request-level text
// (message, item labels, files, review, the victim contact) carries REQUEST_MARKER, which
// contains MARKER. A contact of the victim client on another request legitimately shares the
// client and cycle with the victim, so only the request-level data is forbidden to them.
const MARKER = `VICTIM-MARKER-${randomBytes(6).toString('hex').toUpperCase()}`;
const REQUEST_MARKER = `${MARKER}-REQ`;
const STAFF_PASSWORD = 'probe-staff-password-1';

interface Victim {
  clientId: string;
  contactId: string;
  siblingContactId: string;
  cycleId: string;
  requestId: string;
  itemIds: [string, string];
  staffFileId: string;
  contactFileId: string;
  fileNames: string[];
  fileContents: string[];
  siblingRequestId: string;
  siblingItemId: string;
  siblingLinkToken: string;
  expiredRequestId: string;
  expiredItemId: string;
  expiredLinkToken: string;
  expiredSessionToken: string;
  originalLinkToken: string;
  rotatedLinkToken: string;
  rotatedSessionToken: string;
  staffUserId: string;
  revokedStaffToken: string;
  /** Staff (named with the marker) who downloaded the contact's file: the access log's entry. */
  viewerName: string;
  viewerId: string;
  scheduleId: string;
}

interface Attacker {
  clientId: string;
  contactId: string;
  cycleId: string;
  requestId: string;
  itemId: string;
  linkToken: string;
  staffUserId: string;
  staff: Headers;
}

let t: TestApp;
let admin: Headers;
let victim: Victim;
let attacker: Attacker;
/** Everything of the victim tenant: forbidden to every actor outside it. */
let forbiddenAll: ForbiddenValue[];
/** The victim REQUEST's data: forbidden to a contact of the same client on another request. */
let forbiddenToSibling: ForbiddenValue[];
let fixture: ProbeFixture;

const bearer = (token: string): Headers => ({ authorization: `Bearer ${token}` });

function call(
  method: 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  headers: Headers = {},
  payload?: object | Buffer,
  extraHeaders: Headers = {},
  app: App = t.app,
): Promise<Reply> {
  return send(app, method, url, headers, payload, extraHeaders);
}

async function upload(url: string, headers: Headers, filename: string, body: string) {
  const form = multipartFile(filename, 'text/plain', body);
  return call('POST', url, headers, form.payload, form.headers);
}

/** A call that must succeed while arranging data: its failure is a broken fixture, not an attack result. */
async function ok(reply: Promise<Reply>, status = 200): Promise<Reply> {
  const r = await reply;
  if (r.status !== status) throw new Error(`fixture step answered ${r.status} (expected ${status}): ${r.body}`);
  return r;
}

/**
 * A link works once (the first exchange uses it up), so every actor session the probe needs
 * comes from a freshly minted link — minted here from the owner side, as the delivery
 * worker does when it sends a mail, to keep the fixture's requests otherwise untouched.
 */
async function freshLink(requestId: string): Promise<string> {
  const token = newToken('magicLink');
  await t.owner.prisma.cycleRequest.update({ where: { id: requestId }, data: { tokenHash: hashToken(token), linkExchangedAt: null } });
  return token;
}

async function exchange(token: string): Promise<string> {
  return (await ok(call('POST', '/api/portal/exchange', {}, { token }))).json.sessionToken as string;
}

async function createStaff(label: string, clientId: string): Promise<{ id: string; headers: Headers; token: string }> {
  const email = `${label}-${randomBytes(4).toString('hex')}@spade.test`;
  const user = await ok(
    call('POST', '/api/staff-users', admin, { email, name: `${label} staff`, role: 'staff', password: STAFF_PASSWORD }),
    201,
  );
  await ok(call('POST', `/api/staff-users/${user.json.id}/assignments`, admin, { clientId }), 201);
  const session = await login(t.app, { email, password: STAFF_PASSWORD });
  return { id: user.json.id as string, headers: session.headers, token: session.token };
}

async function createRequest(clientId: string, cycleId: string, body: object) {
  const r = await ok(call('POST', `/api/clients/${clientId}/cycles/${cycleId}/requests`, admin, body), 201);
  const created = r.json as { id: string; items: { id: string }[] };
  return { ...created, magicLink: { token: await t.linkForRequest(created.id) } };
}

/** The runbook's containment SQL, aimed at one row so the rest of the fixture keeps working. */
async function expireRequest(requestId: string) {
  await t.owner.prisma.$executeRaw`UPDATE cycle_requests SET expires_at = NOW() WHERE id = ${requestId}::uuid`;
}
async function revokeStaffSessions(staffUserId: string) {
  await t.owner.prisma.$executeRaw`
    UPDATE staff_sessions SET revoked_at = NOW(), revoked_reason = 'tenant_leak_investigation'
    WHERE revoked_at IS NULL AND staff_user_id = ${staffUserId}::uuid`;
}

async function buildVictim(): Promise<Victim> {
  const client = await ok(call('POST', '/api/clients', admin, { name: `${MARKER} Holdings Pte Ltd` }), 201);
  const clientId = client.json.id as string;
  const contact = await ok(
    call('POST', `/api/clients/${clientId}/contacts`, admin, {
      name: `${REQUEST_MARKER} Victim Contact`,
      email: `${REQUEST_MARKER.toLowerCase()}@victim.example`,
    }),
    201,
  );
  const sibling = await ok(
    call('POST', `/api/clients/${clientId}/contacts`, admin, {
      name: 'Sibling Contact',
      email: `sibling-${randomBytes(4).toString('hex')}@victim.example`,
    }),
    201,
  );
  const cycle = await ok(
    call('POST', `/api/clients/${clientId}/cycles`, admin, { kind: 'bookkeeping', period: MARKER, title: `${MARKER} cycle` }),
    201,
  );
  const cycleId = cycle.json.id as string;
  const request = await createRequest(clientId, cycleId, {
    contactId: contact.json.id,
    items: [{ label: `${REQUEST_MARKER} item one`, description: `${REQUEST_MARKER} description` }, { label: `${REQUEST_MARKER} item two` }],
    message: `${REQUEST_MARKER} message`,
  });
  const [itemOne, itemTwo] = request.items.map((item) => item.id) as [string, string];

  // One file uploaded by staff, one by the victim contact through the portal.
  const staffFileName = `${REQUEST_MARKER}-staff-upload.txt`;
  const staffFileContent = `${REQUEST_MARKER} staff file content`;
  const staffFile = await upload(
    `/api/clients/${clientId}/requests/${request.id}/items/${itemOne}/files`,
    admin,
    staffFileName,
    staffFileContent,
  );
  if (staffFile.status !== 201) throw new Error(`staff upload: ${staffFile.status} ${staffFile.body}`);
  // This session is the one the rotation below cuts off: it was live and used before.
  const victimSession = await exchange(request.magicLink.token);
  const contactFileName = `${REQUEST_MARKER}-contact-upload.txt`;
  const contactFileContent = `${REQUEST_MARKER} contact file content`;
  const contactFile = await upload(
    `/api/portal/clients/${clientId}/items/${itemTwo}/files`,
    bearer(victimSession),
    contactFileName,
    contactFileContent,
  );
  if (contactFile.status !== 201) throw new Error(`contact upload: ${contactFile.status} ${contactFile.body}`);
  // A member of staff reads the contact's file: the victim contact's access log names them.
  const viewer = await createStaff(`${REQUEST_MARKER}-viewer`, clientId);
  await ok(call('GET', `/api/clients/${clientId}/files/${contactFile.json.id}/download`, viewer.headers));
  await ok(
    call('POST', `/api/clients/${clientId}/requests/${request.id}/items/${itemOne}/review`, admin, {
      decision: 'reject',
      comment: `${REQUEST_MARKER} review comment`,
    }),
  );

  // Another request of the same client, same cycle, to another contact: the "sibling".
  const siblingRequest = await createRequest(clientId, cycleId, {
    contactId: sibling.json.id,
    items: [{ label: 'Sibling item' }],
    message: 'Sibling message',
  });

  // A request whose link the runbook expires after its contact opened a session.
  const expiring = await createRequest(clientId, cycleId, {
    contactId: contact.json.id,
    items: [{ label: `${REQUEST_MARKER} expiring item` }],
    message: `${REQUEST_MARKER} expiring message`,
  });
  const expiredSession = await exchange(expiring.magicLink.token);
  await ok(call('GET', `/api/portal/clients/${clientId}/request`, bearer(expiredSession)));
  await expireRequest(expiring.id);

  // The victim request's link is rotated (resend): the session opened before must die.
  await ok(call('POST', `/api/clients/${clientId}/requests/${request.id}/resend`, admin));
  const rotatedLinkToken = await t.linkForRequest(request.id);

  // A recurring schedule of the victim's (its id is a probe parameter).
  const template = await ok(
    call('POST', '/api/templates', admin, { name: `${REQUEST_MARKER} template`, items: [{ label: 'Monthly statement' }] }),
    201,
  );
  const schedule = await ok(
    call('POST', `/api/clients/${clientId}/recurring-schedules`, admin, {
      templateId: template.json.id,
      contactId: contact.json.id,
      frequency: 'monthly',
      dayOfMonth: 5,
      cycleKind: 'bookkeeping',
    }),
    201,
  );

  // Staff assigned to the victim, whose session the runbook revokes.
  const victimStaff = await createStaff('victim', clientId);
  await ok(call('GET', `/api/clients/${clientId}`, victimStaff.headers));
  await revokeStaffSessions(victimStaff.id);

  return {
    clientId,
    contactId: contact.json.id,
    siblingContactId: sibling.json.id,
    cycleId,
    requestId: request.id,
    itemIds: [itemOne, itemTwo],
    staffFileId: staffFile.json.id,
    contactFileId: contactFile.json.id,
    fileNames: [staffFileName, contactFileName],
    fileContents: [staffFileContent, contactFileContent],
    siblingRequestId: siblingRequest.id,
    siblingItemId: siblingRequest.items[0]?.id as string,
    siblingLinkToken: siblingRequest.magicLink.token,
    expiredRequestId: expiring.id,
    expiredItemId: expiring.items[0]?.id as string,
    expiredLinkToken: expiring.magicLink.token,
    expiredSessionToken: expiredSession,
    originalLinkToken: request.magicLink.token,
    rotatedLinkToken,
    rotatedSessionToken: victimSession,
    staffUserId: victimStaff.id,
    revokedStaffToken: victimStaff.token,
    viewerName: `${REQUEST_MARKER}-viewer staff`,
    viewerId: viewer.id,
    scheduleId: schedule.json.id,
  };
}

async function buildAttacker(): Promise<Attacker> {
  const client = await ok(call('POST', '/api/clients', admin, { name: `Attacker Side ${randomBytes(4).toString('hex')}` }), 201);
  const clientId = client.json.id as string;
  const contact = await ok(
    call('POST', `/api/clients/${clientId}/contacts`, admin, {
      name: 'Attacker Contact',
      email: `attacker-${randomBytes(4).toString('hex')}@attacker.example`,
    }),
    201,
  );
  const cycle = await ok(
    call('POST', `/api/clients/${clientId}/cycles`, admin, { kind: 'tax', period: '2026', title: 'Attacker cycle' }),
    201,
  );
  const request = await createRequest(clientId, cycle.json.id, { contactId: contact.json.id, items: [{ label: 'Attacker item' }] });
  const staff = await createStaff('attacker', clientId);
  return {
    clientId,
    contactId: contact.json.id,
    cycleId: cycle.json.id,
    requestId: request.id,
    itemId: request.items[0]?.id as string,
    linkToken: request.magicLink.token,
    staffUserId: staff.id,
    staff: staff.headers,
  };
}

function forbiddenValues(v: Victim): { all: ForbiddenValue[]; sibling: ForbiddenValue[] } {
  const requestLevel: ForbiddenValue[] = [
    { label: 'victim request marker', value: REQUEST_MARKER },
    { label: 'victim contact id', value: v.contactId },
    { label: 'victim request id', value: v.requestId },
    { label: 'victim item one id', value: v.itemIds[0] },
    { label: 'victim item two id', value: v.itemIds[1] },
    { label: 'victim staff-uploaded file id', value: v.staffFileId },
    { label: 'victim contact-uploaded file id', value: v.contactFileId },
    { label: 'expired request id', value: v.expiredRequestId },
    { label: 'expired request item id', value: v.expiredItemId },
    { label: 'victim magic link (original)', value: v.originalLinkToken },
    { label: 'victim magic link (rotated)', value: v.rotatedLinkToken },
    { label: 'expired magic link', value: v.expiredLinkToken },
    ...v.fileNames.map((value) => ({ label: 'victim file name', value })),
    ...v.fileContents.map((value) => ({ label: 'victim file content', value })),
  ];
  const clientLevel: ForbiddenValue[] = [
    { label: 'victim marker', value: MARKER },
    { label: 'victim client id', value: v.clientId },
    { label: 'victim recurring schedule id', value: v.scheduleId },
    { label: 'victim cycle id', value: v.cycleId },
    { label: 'sibling contact id', value: v.siblingContactId },
    { label: 'sibling request id', value: v.siblingRequestId },
    { label: 'sibling item id', value: v.siblingItemId },
    { label: 'sibling magic link', value: v.siblingLinkToken },
  ];
  return { all: [...clientLevel, ...requestLevel], sibling: requestLevel };
}

function buildFixture(): ProbeFixture {
  const fresh = (requestId: string) => async () => bearer(await exchange(await freshLink(requestId)));
  const actors: ProbeActor[] = [
    {
      name: 'other-client contact',
      kind: 'contact',
      refusal: 404,
      homeClientId: attacker.clientId,
      headers: fresh(attacker.requestId),
      forbidden: forbiddenAll,
    },
    {
      name: 'unassigned staff',
      kind: 'staff',
      refusal: 404,
      homeClientId: attacker.clientId,
      headers: async () => attacker.staff,
      forbidden: forbiddenAll,
    },
    {
      name: 'same-client contact, other request',
      kind: 'contact',
      refusal: 404,
      homeClientId: victim.clientId,
      headers: fresh(victim.siblingRequestId),
      forbidden: forbiddenToSibling,
    },
    { name: 'anonymous', kind: 'anonymous', refusal: 401, homeClientId: null, headers: async () => ({}), forbidden: forbiddenAll },
    {
      name: 'revoked staff session',
      kind: 'staff',
      refusal: 401,
      homeClientId: null,
      headers: async () => bearer(victim.revokedStaffToken),
      forbidden: forbiddenAll,
    },
    {
      name: 'expired link session',
      kind: 'contact',
      refusal: 401,
      homeClientId: null,
      headers: async () => bearer(victim.expiredSessionToken),
      forbidden: forbiddenAll,
    },
    {
      name: 'rotated link session',
      kind: 'contact',
      refusal: 401,
      homeClientId: null,
      headers: async () => bearer(victim.rotatedSessionToken),
      forbidden: forbiddenAll,
    },
  ];
  return {
    victimClientId: victim.clientId,
    // Every id-named parameter the routes use. A route whose parameter is missing here fails the probe.
    ids: {
      cycleId: victim.cycleId,
      requestId: victim.requestId,
      itemId: victim.itemIds[0],
      // The contact-uploaded file: reachable by both the staff and the portal download routes.
      fileId: victim.contactFileId,
      contactId: victim.contactId,
      staffUserId: victim.staffUserId,
      actorId: victim.contactId,
      scheduleId: victim.scheduleId,
    },
    actors,
  };
}

/** The client-scoped routes serving a list (GETs and their HEAD twins), by the OpenAPI rule of support/paged-lists.ts. */
async function clientScopedLists() {
  const spec = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as OpenApiDocument;
  return routesServingLists(
    spec,
    t.app.routeTable.filter((route) => route.scope === 'client-scoped'),
  );
}

/** Every victim row, to prove that no probe write reached it (sessions and audit rows excluded: they grow legitimately). */
async function victimRows(): Promise<string> {
  const p = t.owner.prisma;
  const where = { clientId: victim.clientId };
  const rows = {
    client: await p.client.findUnique({ where: { id: victim.clientId } }),
    contacts: await p.contact.findMany({ where, orderBy: { id: 'asc' } }),
    cycles: await p.cycle.findMany({ where, orderBy: { id: 'asc' } }),
    // The link columns change legitimately: the probe mints a fresh link per actor session.
    requests: (await p.cycleRequest.findMany({ where, orderBy: { id: 'asc' } })).map(
      ({ tokenHash: _minted, linkExchangedAt: _used, ...rest }) => rest,
    ),
    messages: await p.outboxMessage.findMany({ where, orderBy: { id: 'asc' } }),
    schedules: await p.recurringSchedule.findMany({ where, orderBy: { id: 'asc' } }),
    items: await p.requestItem.findMany({ where, orderBy: { id: 'asc' } }),
    files: await p.file.findMany({ where, orderBy: { id: 'asc' } }),
  };
  return JSON.stringify(rows, (_key, value) => (typeof value === 'bigint' ? value.toString() : value));
}

function expectNothingOf(reply: Reply, forbidden: readonly ForbiddenValue[] = forbiddenAll) {
  const text = `${reply.rawPayload.toString('utf8')}\n${JSON.stringify(reply.headers)}`.toLowerCase();
  for (const item of forbidden) expect(text.includes(item.value.toLowerCase()), `response carries the ${item.label}`).toBe(false);
}

function expectRefused(reply: Reply, status: 401 | 404 = 404) {
  expect(reply.status, reply.body).toBe(status);
  expectNothingOf(reply);
}

/** Decoy tenants are planted and armed before anything runs: the probe and these attacks must not trip them. */
async function plantDecoys() {
  const io = {
    env: { DATABASE_URL: t.testDb.ownerUrl, SPADE_DATA_DIR: t.dataDir, USER: 'probe' },
    out: () => undefined,
    err: (text: string) => console.error(text),
  };
  if ((await runCli(['decoys', 'plant', '--count', '2'], io)) !== 0) throw new Error('spade decoys plant failed');
  await t.app.refreshDecoys();
}

beforeAll(async () => {
  t = await createTestApp();
  await plantDecoys();
  admin = (await login(t.app, DEMO.staff.admin)).headers;
  victim = await buildVictim();
  attacker = await buildAttacker();
  ({ all: forbiddenAll, sibling: forbiddenToSibling } = forbiddenValues(victim));
  fixture = buildFixture();
});
afterAll(async () => {
  await t?.close();
});

describe('A. automatic cross-tenant probe over the live route table', () => {
  it('every client-scoped route × every wrong actor answers 401/404 and carries no victim data', async () => {
    const before = await victimRows();
    const observations: ProbeObservation[] = [];
    const findings = await probe(t.app, fixture, { observe: (o) => observations.push(o) });
    // Printed before the assertions, so a failing run still shows what was covered.
    console.log(
      `cross-tenant probe: ${new Set(observations.map((o) => o.route)).size} client-scoped routes × ${fixture.actors.length} actors, ` +
        `${observations.length} requests (status at the victim's URL / at the actor's own :clientId)\n${coverageTable(observations, fixture.actors)}`,
    );
    expect(findings, describeFindings(findings)).toEqual([]);

    const clientScoped = t.app.routeTable.filter((route) => route.scope === 'client-scoped');
    expect(new Set(observations.map((o) => o.route)).size).toBe(clientScoped.length);
    // HEAD routes are in the table, so they are probed too.
    expect(observations.some((o) => o.route.startsWith('HEAD '))).toBe(true);
    // Each route saw every actor at the victim's URL, and the live wrong-tenant actors at their own URL.
    const ownUrlActors = fixture.actors.filter((a) => a.refusal === 404 && a.homeClientId !== null && a.homeClientId !== victim.clientId);
    // Each list saw them again with cursors: every actor with the victim's cursor at the victim's URL, the
    // wrong-tenant actors with their own client's cursor there and with the victim's at their own URL.
    // The probe takes a list to be a route with a cursor; it must agree with the OpenAPI rule (support/paged-lists.ts).
    const spec = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as OpenApiDocument;
    const listRoutes = clientScoped.filter((route) =>
      isListOperation(spec.paths[openApiPath(route.url)]?.[route.method === 'HEAD' ? 'get' : route.method.toLowerCase()]),
    );
    const expectedLists = await clientScopedLists();
    expect(listRoutes.map(routeName).sort()).toEqual(expectedLists.map(routeName).sort());
    expect(listRoutes.map(routeName)).toEqual(
      expect.arrayContaining([
        'GET /api/clients/:clientId/cycles',
        'HEAD /api/clients/:clientId/cycles',
        'GET /api/portal/clients/:clientId/files',
      ]),
    );
    // Every list is probed through its HEAD twin too.
    const gets = listRoutes.filter((route) => route.method === 'GET').map((route) => route.url);
    expect(
      listRoutes
        .filter((route) => route.method === 'HEAD')
        .map((route) => route.url)
        .sort(),
    ).toEqual(gets.sort());
    const cursorObservations = observations.filter((o) => o.variant.includes('cursor'));
    expect(new Set(cursorObservations.map((o) => o.route)).size).toBe(listRoutes.length);
    expect(cursorObservations).toHaveLength(listRoutes.length * (fixture.actors.length + 2 * ownUrlActors.length));
    expect(observations).toHaveLength(
      clientScoped.length * (fixture.actors.length + ownUrlActors.length) +
        listRoutes.length * (fixture.actors.length + 2 * ownUrlActors.length),
    );
    // At its own URL with the victim's cursor, a wrong-tenant actor that may list there is refused with 400.
    expect(
      cursorObservations.some((o) => o.variant === 'own-url+victim-cursor' && o.actor === 'unassigned staff' && o.status === 400),
    ).toBe(true);
    // No refused write reached the victim's rows.
    expect(await victimRows()).toBe(before);
    // Seven wrong actors over every route tripped no decoy tenant.
    expect(await t.owner.prisma.detectionAlert.count({ where: { kind: 'decoy.touched' } })).toBe(0);
  });

  describe('the probe itself can fail', () => {
    let ownerDb: UnsafeDatabase;
    const apps: App[] = [];
    beforeAll(async () => {
      ownerDb = await openDatabase({ kind: 'postgres', url: t.testDb.ownerUrl, poolMax: 2 });
    });
    afterAll(async () => {
      for (const app of apps) await app.close();
      await ownerDb?.close();
    });

    it('reports a client-scoped route built with every isolation layer off as leaking, and an unfillable route as a failure', async () => {
      const app = await buildApp(t.config, {
        db: ownerDb,
        unsafeSkipRuntimeRoleCheck: true,
        layers: OFF,
        logger: false,
        extraRoutes: async (instance: FastifyInstance) => {
          instance.get('/api/clients/:clientId/leaky/cycles/:cycleId', { config: { routeScope: 'client-scoped' } }, async (request) => {
            const { cycleId } = request.params as { cycleId: string };
            const cycle = await clientScope(request).db.cycle.findUnique({ where: { id: cycleId } });
            if (!cycle) throw notFound();
            return cycleView(cycle);
          });
          // A parameter the fixture has no id for: the probe must fail on it, not skip it.
          instance.get('/api/clients/:clientId/leaky/widgets/:widgetId', { config: { routeScope: 'client-scoped' } }, async () => ({}));
        },
      });
      apps.push(app);
      // Only the deliberately broken routes: with every layer off, the product's own write
      // routes would really change the victim, and later tests rely on it.
      const findings = await probe(app, fixture, { only: (route) => route.url.includes('/leaky/') });
      const leaky = 'GET /api/clients/:clientId/leaky/cycles/:cycleId';
      const leaks = findings.filter((f) => f.route === leaky && f.kind === 'leak');
      expect(leaks.map((f) => f.actor)).toEqual(expect.arrayContaining(['other-client contact', 'unassigned staff', 'anonymous']));
      expect(leaks.some((f) => f.detail.includes('victim marker') && f.detail.includes('victim cycle id'))).toBe(true);
      expect(findings.some((f) => f.route === `HEAD ${leaky.slice(4)}` && f.kind === 'unexpected-status' && f.status === 200)).toBe(true);
      expect(findings).toContainEqual(
        expect.objectContaining({ route: 'GET /api/clients/:clientId/leaky/widgets/:widgetId', kind: 'unfillable-param' }),
      );
    });

    it("catches an IDOR that only the actor's own :clientId reaches (every layer on, handler bypassing tenantDb)", async () => {
      // The bug assertClientTenant cannot see: the URL names the attacker's own client, the
      // handler looks the id up on an unscoped connection and returns no clientId for the
      // response guard to notice. Only the own-URL variant of the probe reaches it.
      const unsafeOwner = t.owner;
      const app = await buildApp(t.config, {
        db: t.db,
        adminDb: t.adminDb,
        logger: false,
        extraRoutes: async (instance: FastifyInstance) => {
          instance.get('/api/clients/:clientId/idor/cycles/:cycleId', { config: { routeScope: 'client-scoped' } }, async (request) => {
            const { cycleId } = request.params as { cycleId: string };
            const cycle = await unsafeOwner.prisma.cycle.findUnique({ where: { id: cycleId }, select: { title: true } });
            if (!cycle) throw notFound();
            return { title: cycle.title };
          });
        },
      });
      apps.push(app);
      const findings = await probe(app, fixture, { only: (route) => route.url.includes('/idor/') });
      const idor = findings.filter((f) => f.route === 'GET /api/clients/:clientId/idor/cycles/:cycleId');
      expect(idor).toContainEqual(expect.objectContaining({ actor: 'unassigned staff', variant: 'own-url', kind: 'leak', status: 200 }));
      // At the victim's URL every layer holds: the finding comes from the own-URL variant only.
      expect(idor.filter((f) => f.variant === 'victim-url')).toEqual([]);
    });

    it("fails a list that takes another client's cursor, and a list whose cursor it cannot mint", async () => {
      const query = Type.Object({ ...PageQueryFields }, { additionalProperties: false });
      // Paged with the shared helper's query, but it never checks the cursor it is handed: a cursor of
      // the victim's client pages the actor's own list (200) instead of being refused.
      pager('listSloppyContacts', 'asc', [{ field: 'name', kind: 'text' }]);
      const app = await buildApp(t.config, {
        db: t.db,
        adminDb: t.adminDb,
        logger: false,
        extraRoutes: async (instance: FastifyInstance) => {
          instance.get(
            '/api/clients/:clientId/sloppy/contacts',
            {
              config: { routeScope: 'client-scoped' },
              schema: { operationId: 'listSloppyContacts', summary: 'Sloppy', querystring: query },
            },
            async (request) => ({ contacts: await clientScope(request).db.contact.findMany({ select: { id: true }, take: 1 }) }),
          );
          // Takes a cursor, but no pager: the probe has no cursor to send and must say so.
          instance.get(
            '/api/clients/:clientId/unpaged/things',
            {
              config: { routeScope: 'client-scoped' },
              schema: { operationId: 'listUnpagedThings', summary: 'Unpaged', querystring: query },
            },
            async () => ({ things: [] }),
          );
        },
      });
      apps.push(app);
      const findings = await probe(app, fixture, { only: (route) => route.method === 'GET' && /\/(sloppy|unpaged)\//.test(route.url) });
      expect(findings).toContainEqual(
        expect.objectContaining({
          route: 'GET /api/clients/:clientId/sloppy/contacts',
          actor: 'unassigned staff',
          variant: 'own-url+victim-cursor',
          kind: 'unexpected-status',
          status: 200,
        }),
      );
      // The cursor-less variants of that route are fine: only the cursor check is missing.
      expect(findings.filter((f) => f.route.includes('/sloppy/') && !f.variant?.includes('cursor'))).toEqual([]);
      expect(findings).toContainEqual(
        expect.objectContaining({ route: 'GET /api/clients/:clientId/unpaged/things', kind: 'unfillable-param' }),
      );
    });
  });
});

describe('B. named attacks', () => {
  describe('clients', () => {
    it("staff not assigned to client B cannot read B's client record, nor find B in the client list", async () => {
      expectRefused(await call('GET', `/api/clients/${victim.clientId}`, attacker.staff));
      expectRefused(await call('HEAD', `/api/clients/${victim.clientId}`, attacker.staff));
      const list = await call('GET', '/api/clients', attacker.staff);
      expect(list.status).toBe(200);
      expect(list.json.clients.map((c: { id: string }) => c.id)).toEqual([attacker.clientId]);
      expectNothingOf(list);
    });

    it('staff not assigned to client B cannot rename B', async () => {
      expectRefused(await call('PATCH', `/api/clients/${victim.clientId}`, attacker.staff, { name: 'renamed by attacker' }));
      expect((await t.owner.prisma.client.findUniqueOrThrow({ where: { id: victim.clientId } })).name).toContain(MARKER);
    });

    it("a contact of client A cannot read client B's record", async () => {
      expectRefused(await call('GET', `/api/clients/${victim.clientId}`, bearer(await exchange(await freshLink(attacker.requestId)))));
    });
  });

  describe('contacts', () => {
    it("staff not assigned to client B cannot list or read B's contacts, even by id under their own client", async () => {
      expectRefused(await call('GET', `/api/clients/${victim.clientId}/contacts`, attacker.staff));
      expectRefused(await call('GET', `/api/clients/${victim.clientId}/contacts/${victim.contactId}`, attacker.staff));
      expectRefused(await call('GET', `/api/clients/${attacker.clientId}/contacts/${victim.contactId}`, attacker.staff));
      const own = await call('GET', `/api/clients/${attacker.clientId}/contacts`, attacker.staff);
      expect(own.status).toBe(200);
      expectNothingOf(own);
    });

    it("staff not assigned to client B cannot edit or delete B's contact", async () => {
      for (const clientId of [victim.clientId, attacker.clientId]) {
        const url = `/api/clients/${clientId}/contacts/${victim.contactId}`;
        expectRefused(await call('PATCH', url, attacker.staff, { name: 'hijacked', email: 'attacker@attacker.example' }));
        expectRefused(await call('DELETE', url, attacker.staff));
      }
      const row = await t.owner.prisma.contact.findUniqueOrThrow({ where: { id: victim.contactId } });
      expect(row).toMatchObject({ deletedAt: null, name: `${REQUEST_MARKER} Victim Contact` });
    });

    it("a contact's email already used by client B does not conflict (or reveal itself) in client A", async () => {
      // Unique checks are per tenant: the foreign row must neither block nor be disclosed.
      const created = await call('POST', `/api/clients/${attacker.clientId}/contacts`, attacker.staff, {
        name: 'Probe duplicate',
        email: `${REQUEST_MARKER.toLowerCase()}@victim.example`,
      });
      expect(created.status, created.body).toBe(201);
      expect(created.json.id).not.toBe(victim.contactId);
      await t.owner.prisma.contact.deleteMany({ where: { id: created.json.id } });
    });
  });

  describe('cycles', () => {
    it("staff not assigned to client B cannot read B's cycle", async () => {
      expectRefused(await call('GET', `/api/clients/${victim.clientId}/cycles/${victim.cycleId}`, attacker.staff));
      expectRefused(await call('GET', `/api/clients/${victim.clientId}/cycles`, attacker.staff));
      // The IDOR form: their own client in the URL, B's cycle id.
      expectRefused(await call('GET', `/api/clients/${attacker.clientId}/cycles/${victim.cycleId}`, attacker.staff));
      const due = await call('GET', '/api/cycles/due-soon?days=365', attacker.staff);
      expect(due.status).toBe(200);
      expectNothingOf(due);
    });

    it("staff not assigned to client B cannot create a cycle in B or edit B's cycle", async () => {
      const before = await t.owner.prisma.cycle.count({ where: { clientId: victim.clientId } });
      expectRefused(
        await call('POST', `/api/clients/${victim.clientId}/cycles`, attacker.staff, { kind: 'tax', period: 'x', title: 'planted' }),
      );
      for (const clientId of [victim.clientId, attacker.clientId]) {
        expectRefused(await call('PATCH', `/api/clients/${clientId}/cycles/${victim.cycleId}`, attacker.staff, { status: 'closed' }));
      }
      expect(await t.owner.prisma.cycle.count({ where: { clientId: victim.clientId } })).toBe(before);
      expect((await t.owner.prisma.cycle.findUniqueOrThrow({ where: { id: victim.cycleId } })).status).not.toBe('closed');
    });
  });

  describe('requests and items', () => {
    it("staff not assigned to client B cannot read B's request or its items", async () => {
      for (const clientId of [victim.clientId, attacker.clientId]) {
        expectRefused(await call('GET', `/api/clients/${clientId}/requests/${victim.requestId}`, attacker.staff));
        expectRefused(await call('GET', `/api/clients/${clientId}/cycles/${victim.cycleId}/requests`, attacker.staff));
      }
    });

    it("staff not assigned to client B cannot create a request in B's cycle for B's contact", async () => {
      const before = await t.owner.prisma.cycleRequest.count();
      const body = { contactId: victim.contactId, items: [{ label: 'planted' }] };
      expectRefused(await call('POST', `/api/clients/${victim.clientId}/cycles/${victim.cycleId}/requests`, attacker.staff, body));
      expectRefused(await call('POST', `/api/clients/${attacker.clientId}/cycles/${victim.cycleId}/requests`, attacker.staff, body));
      // Their own cycle but B's contact: the foreign contact is simply not found.
      expectRefused(await call('POST', `/api/clients/${attacker.clientId}/cycles/${attacker.cycleId}/requests`, attacker.staff, body));
      expect(await t.owner.prisma.cycleRequest.count()).toBe(before);
    });

    it("staff not assigned to client B cannot review B's items, resend B's link or cancel B's request", async () => {
      const before = await t.owner.prisma.cycleRequest.findUniqueOrThrow({ where: { id: victim.requestId } });
      for (const clientId of [victim.clientId, attacker.clientId]) {
        const base = `/api/clients/${clientId}/requests/${victim.requestId}`;
        expectRefused(await call('POST', `${base}/items/${victim.itemIds[0]}/review`, attacker.staff, { decision: 'accept' }));
        expectRefused(await call('POST', `${base}/resend`, attacker.staff));
        expectRefused(await call('POST', `${base}/cancel`, attacker.staff));
      }
      // No new link was minted, the request is still open and the item still rejected.
      const after = await t.owner.prisma.cycleRequest.findUniqueOrThrow({ where: { id: victim.requestId } });
      expect(after).toEqual(before);
      expect((await t.owner.prisma.requestItem.findUniqueOrThrow({ where: { id: victim.itemIds[0] } })).status).toBe('rejected');
    });

    it("contact cannot read another request's items of the same client", async () => {
      const sibling = bearer(await exchange(await freshLink(victim.siblingRequestId)));
      const own = await call('GET', `/api/portal/clients/${victim.clientId}/request`, sibling);
      expect(own.status).toBe(200);
      expect(own.json.id).toBe(victim.siblingRequestId);
      expect(own.json.items.map((i: { id: string }) => i.id)).toEqual([victim.siblingItemId]);
      expectNothingOf(own, forbiddenToSibling);
      // Uploading to the other request's item is "not found", and nothing is written.
      const filesBefore = await t.owner.prisma.file.count({ where: { requestItemId: victim.itemIds[0] } });
      const crossed = await upload(`/api/portal/clients/${victim.clientId}/items/${victim.itemIds[0]}/files`, sibling, 'x.txt', 'x');
      expect(crossed.status).toBe(404);
      expectNothingOf(crossed, forbiddenToSibling);
      expect(await t.owner.prisma.file.count({ where: { requestItemId: victim.itemIds[0] } })).toBe(filesBefore);
    });
  });

  describe('files', () => {
    it("contact of client A cannot download client B's file by id", async () => {
      const session = bearer(await exchange(await freshLink(attacker.requestId)));
      for (const fileId of [victim.contactFileId, victim.staffFileId]) {
        // B's URL, A's own URL (the IDOR form), and the staff route.
        expectRefused(await call('GET', `/api/portal/clients/${victim.clientId}/files/${fileId}/download`, session));
        expectRefused(await call('GET', `/api/portal/clients/${attacker.clientId}/files/${fileId}/download`, session));
        expectRefused(await call('HEAD', `/api/portal/clients/${attacker.clientId}/files/${fileId}/download`, session));
        expectRefused(await call('GET', `/api/clients/${victim.clientId}/files/${fileId}/download`, session));
      }
    });

    it("staff not assigned to client B cannot list, download, upload to or delete B's files", async () => {
      for (const clientId of [victim.clientId, attacker.clientId]) {
        expectRefused(await call('GET', `/api/clients/${clientId}/files/${victim.contactFileId}/download`, attacker.staff));
        expectRefused(await call('DELETE', `/api/clients/${clientId}/files/${victim.staffFileId}`, attacker.staff));
        const planted = await upload(
          `/api/clients/${clientId}/requests/${victim.requestId}/items/${victim.itemIds[0]}/files`,
          attacker.staff,
          'planted.txt',
          'planted',
        );
        expectRefused(planted);
      }
      expectRefused(await call('GET', `/api/clients/${victim.clientId}/files`, attacker.staff));
      // Their own client's list filtered by B's item or request: empty, not B's files.
      const filtered = await call('GET', `/api/clients/${attacker.clientId}/files?itemId=${victim.itemIds[1]}`, attacker.staff);
      expect(filtered.status).toBe(200);
      expect(filtered.json.files).toEqual([]);
      const byRequest = await call('GET', `/api/clients/${attacker.clientId}/files?requestId=${victim.requestId}`, attacker.staff);
      expect(byRequest.json.files).toEqual([]);
      expect(await t.owner.prisma.file.count({ where: { clientId: victim.clientId, deletedAt: { not: null } } })).toBe(0);
      expect(await t.owner.prisma.file.count({ where: { filename: 'planted.txt' } })).toBe(0);
    });

    it("contact cannot list or download another request's files of the same client", async () => {
      const sibling = bearer(await exchange(await freshLink(victim.siblingRequestId)));
      const listed = await call('GET', `/api/portal/clients/${victim.clientId}/files`, sibling);
      expect(listed.status).toBe(200);
      expect(listed.json.files).toEqual([]);
      for (const fileId of [victim.contactFileId, victim.staffFileId]) {
        const r = await call('GET', `/api/portal/clients/${victim.clientId}/files/${fileId}/download`, sibling);
        expect(r.status).toBe(404);
        expectNothingOf(r, forbiddenToSibling);
      }
    });
  });

  describe('portal', () => {
    it("contact of client A cannot open client B's portal or upload to B's item", async () => {
      const session = bearer(await exchange(await freshLink(attacker.requestId)));
      expectRefused(await call('GET', `/api/portal/clients/${victim.clientId}/request`, session));
      expectRefused(await call('GET', `/api/portal/clients/${victim.clientId}/files`, session));
      expectRefused(await call('POST', `/api/portal/clients/${victim.clientId}/logout`, session));
      for (const clientId of [victim.clientId, attacker.clientId]) {
        expectRefused(await upload(`/api/portal/clients/${clientId}/items/${victim.itemIds[1]}/files`, session, 'x.txt', 'x'));
      }
      // Their own portal still works and shows only their own request.
      const own = await call('GET', `/api/portal/clients/${attacker.clientId}/request`, session);
      expect(own.status).toBe(200);
      expect(own.json.id).toBe(attacker.requestId);
      expectNothingOf(own);
    });

    it("a contact's access log names the staff who downloaded their file (name, action, time) and nothing else", async () => {
      // Links work once: each session here comes from a freshly minted link.
      const own = bearer(await exchange(await freshLink(victim.requestId)));
      const log = await call('GET', `/api/portal/clients/${victim.clientId}/access-log`, own);
      expect(log.status, log.body).toBe(200);
      expect(log.json.files).toEqual([
        {
          fileId: victim.contactFileId,
          filename: victim.fileNames[1],
          uploadedAt: expect.any(String),
          accesses: [{ staffName: victim.viewerName, action: 'downloaded', at: expect.any(String) }],
        },
      ]);
      // No internal ids: not the staff member's, not any request id.
      expect(log.body).not.toContain(victim.viewerId);
      expect(log.body).not.toContain(victim.staffFileId);
      // The sibling contact of the same client sees none of it.
      const sibling = await call(
        'GET',
        `/api/portal/clients/${victim.clientId}/access-log`,
        bearer(await exchange(await freshLink(victim.siblingRequestId))),
      );
      expect(sibling.status).toBe(200);
      expect(sibling.json.files).toEqual([]);
      expectNothingOf(sibling, forbiddenToSibling);
      // Staff cannot use it (contacts only), even for a client they serve.
      expectRefused(await call('GET', `/api/portal/clients/${victim.clientId}/access-log`, admin));
    });

    it('a contact cannot use the staff API of their own client', async () => {
      const sibling = bearer(await exchange(await freshLink(victim.siblingRequestId)));
      for (const url of [
        `/api/clients/${victim.clientId}`,
        `/api/clients/${victim.clientId}/contacts`,
        `/api/clients/${victim.clientId}/cycles/${victim.cycleId}/requests`,
        `/api/clients/${victim.clientId}/requests/${victim.requestId}`,
        `/api/clients/${victim.clientId}/files`,
        `/api/clients/${victim.clientId}/audit-events`,
      ]) {
        const r = await call('GET', url, sibling);
        expect(r.status, url).toBe(404);
        expectNothingOf(r, forbiddenToSibling);
      }
    });
  });

  describe('audit', () => {
    it("staff not assigned to client B cannot read B's audit trail, and the refusal is audited firm-wide", async () => {
      const r = await call('GET', `/api/clients/${victim.clientId}/audit-events`, attacker.staff, undefined, {
        'x-request-id': `probe-${randomUUID()}`,
      });
      expectRefused(r);
      const denial = await t.owner.prisma.auditEvent.findFirst({
        where: { eventType: 'tenant_access_denied', requestId: String(r.headers['x-request-id']) },
      });
      expect(denial).toMatchObject({ actorType: 'staff', actorId: attacker.staffUserId, clientId: null });
      expect(denial?.eventDataJson).toMatchObject({ requestedClientId: victim.clientId });
    });

    it("staff cannot find B's events in their own client's audit trail by filtering on B's ids", async () => {
      for (const query of [`actorId=${victim.contactId}`, 'eventType=file.uploaded,item.reviewed,magic_link.rotated', 'limit=500']) {
        const r = await call('GET', `/api/clients/${attacker.clientId}/audit-events?${query}`, attacker.staff);
        expect(r.status, query).toBe(200);
        expect(r.json.events.every((e: { clientId: string }) => e.clientId === attacker.clientId)).toBe(true);
        expectNothingOf(r);
      }
    });

    it('non-admin staff cannot read the firm-wide audit trail', async () => {
      expectRefused(await call('GET', `/api/audit-events?actorId=${victim.contactId}`, attacker.staff));
    });

    it('non-admin staff cannot read the incident console (incidents, detection alerts, frozen tenants)', async () => {
      expectRefused(await call('GET', '/api/admin/incidents', attacker.staff));
      expectRefused(await call('GET', '/api/admin/detection', attacker.staff));
      const incident = await t.owner.prisma.incident.findFirst({ select: { id: true } });
      const id = incident?.id ?? '00000000-0000-4000-8000-00000000dead';
      expectRefused(await call('GET', `/api/admin/incidents/${id}`, attacker.staff));
    });
  });

  describe('sessions and links', () => {
    it('revoked staff session gets 401 on the next request', async () => {
      const staff = await createStaff('revoked', victim.clientId);
      expect((await call('GET', `/api/clients/${victim.clientId}/cycles/${victim.cycleId}`, staff.headers)).status).toBe(200);
      await revokeStaffSessions(staff.id);
      expectRefused(await call('GET', `/api/clients/${victim.clientId}/cycles/${victim.cycleId}`, staff.headers), 401);
      expectRefused(await call('GET', '/api/auth/me', staff.headers), 401);
    });

    it('staff unassigned from client B loses access on the next request', async () => {
      const staff = await createStaff('unassigned', victim.clientId);
      expect((await call('GET', `/api/clients/${victim.clientId}`, staff.headers)).status).toBe(200);
      await ok(call('DELETE', `/api/staff-users/${staff.id}/assignments/${victim.clientId}`, admin));
      expectRefused(await call('GET', `/api/clients/${victim.clientId}`, staff.headers));
    });

    it("expired link's session gets 401", async () => {
      const request = await createRequest(victim.clientId, victim.cycleId, { contactId: victim.contactId, items: [{ label: 'expiring' }] });
      const session = bearer(await exchange(request.magicLink.token));
      expect((await call('GET', `/api/portal/clients/${victim.clientId}/request`, session)).status).toBe(200);
      await expireRequest(request.id);
      expectRefused(await call('GET', `/api/portal/clients/${victim.clientId}/request`, session), 401);
      expectRefused(await upload(`/api/portal/clients/${victim.clientId}/items/${request.items[0]?.id}/files`, session, 'x.txt', 'x'), 401);
      // The link itself is dead too: no new session can be opened with it.
      expectRefused(await call('POST', '/api/portal/exchange', {}, { token: request.magicLink.token }), 401);
    });

    it("rotated link's old session gets 401", async () => {
      const request = await createRequest(victim.clientId, victim.cycleId, { contactId: victim.contactId, items: [{ label: 'rotating' }] });
      const session = bearer(await exchange(request.magicLink.token));
      expect((await call('GET', `/api/portal/clients/${victim.clientId}/request`, session)).status).toBe(200);
      await ok(call('POST', `/api/clients/${victim.clientId}/requests/${request.id}/resend`, admin));
      expectRefused(await call('GET', `/api/portal/clients/${victim.clientId}/request`, session), 401);
      expectRefused(await call('GET', `/api/portal/clients/${victim.clientId}/files`, session), 401);
      expectRefused(await call('POST', '/api/portal/exchange', {}, { token: request.magicLink.token }), 401);
      // Only the new link opens a session.
      const fresh = bearer(await exchange(await t.linkForRequest(request.id)));
      expect((await call('GET', `/api/portal/clients/${victim.clientId}/request`, fresh)).status).toBe(200);
    });

    it('anonymous gets 401 on every client-scoped route', async () => {
      const anonymous = fixture.actors.find((a) => a.name === 'anonymous') as ProbeActor;
      const observations: ProbeObservation[] = [];
      const findings = await probe(t.app, { ...fixture, actors: [anonymous] }, { observe: (o) => observations.push(o) });
      expect(findings, describeFindings(findings)).toEqual([]);
      const clientScoped = t.app.routeTable.filter((route) => route.scope === 'client-scoped');
      // Every route once at the victim's URL, and every list (with its HEAD twin) again with the victim's cursor.
      const lists = await clientScopedLists();
      expect(lists.length).toBeGreaterThan(0);
      expect(observations.filter((o) => o.variant === 'victim-url')).toHaveLength(clientScoped.length);
      expect(observations.filter((o) => o.variant === 'victim-url+victim-cursor')).toHaveLength(lists.length);
      expect(observations).toHaveLength(clientScoped.length + lists.length);
      expect(observations.every((o) => o.status === 401)).toBe(true);
    });
  });
});
