import { generate } from 'otplib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Headers, send } from './support/http.ts';
import { createTestApp, DEMO, login, type TestApp } from './support/test-app.ts';

/*
 * Optional TOTP second factor for staff (issue 9, item 4): enrolment with an otpauth URI and
 * a QR code, recovery codes stored hashed and single-use, replay refused, an admin removing
 * an enrolment, and a firm-wide requirement. A session owing its second factor is no one.
 */

let t: TestApp;
let sql: pg.Client;
let admin: Headers;
const STAFF = DEMO.staff.staff;
let secret = '';
let recoveryCodes: string[] = [];

/** A valid code `steps` time steps from now (each is usable once: replays are refused). */
const codeAt = (steps: number) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + steps * 30 });

async function signIn(who: { email: string; password: string }) {
  const r = await send(t.app, 'POST', '/api/auth/login', {}, { email: who.email, password: who.password });
  expect(r.status, r.body).toBe(200);
  return { json: r.json, headers: { authorization: `Bearer ${r.json.token}` } as Headers };
}

beforeAll(async () => {
  t = await createTestApp();
  sql = new pg.Client({ connectionString: t.testDb.ownerUrl });
  await sql.connect();
  admin = (await login(t.app, DEMO.staff.admin)).headers;
});

afterAll(async () => {
  await sql?.end();
  await t?.close();
});

describe('TOTP enrolment', () => {
  it('returns an otpauth URI and its QR code, and confirms only with a valid code, returning ten recovery codes stored hashed', async () => {
    const { headers } = await signIn(STAFF);
    const enrol = await send(t.app, 'POST', '/api/auth/second-factor/enrol', headers);
    expect(enrol.status, enrol.body).toBe(200);
    expect(enrol.json.otpauthUri).toMatch(/^otpauth:\/\/totp\/Spade:staff%40spade\.test\?/);
    expect(enrol.json.otpauthUri).toContain(`secret=${enrol.json.secret}`);
    expect(enrol.json.qrCodeDataUrl).toMatch(/^data:image\/png;base64,/);
    expect(enrol.headers['cache-control']).toBe('no-store');
    secret = enrol.json.secret;

    const wrong = await send(t.app, 'POST', '/api/auth/second-factor/confirm', headers, { code: '000000' });
    expect(wrong.status).toBe(400);
    expect(Object.keys(wrong.json.error).sort()).toEqual(['code', 'message', 'requestId']);
    const malformed = await send(t.app, 'POST', '/api/auth/second-factor/confirm', headers, { code: 'abc' });
    expect(malformed.status).toBe(400);

    const ok = await send(t.app, 'POST', '/api/auth/second-factor/confirm', headers, { code: await codeAt(0) });
    expect(ok.status, ok.body).toBe(200);
    recoveryCodes = ok.json.recoveryCodes;
    expect(recoveryCodes).toHaveLength(10);
    const { rows } = await sql.query<{ totp_secret: string; hashes: string[] }>(
      'SELECT totp_secret, recovery_code_hashes AS hashes FROM staff_users WHERE id = $1',
      [STAFF.id],
    );
    expect(rows[0]!.totp_secret).toBe(secret);
    expect(rows[0]!.hashes).toHaveLength(10);
    for (const hash of rows[0]!.hashes) expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(rows[0]!.hashes)).not.toContain(recoveryCodes[0]!.replace('-', ''));
    const audit = await sql.query(
      `SELECT event_type FROM audit_events WHERE entity_id = $1 AND event_type LIKE 'second_factor.%' ORDER BY occurred_at`,
      [STAFF.id],
    );
    expect(audit.rows.map((r) => r.event_type)).toEqual([
      'second_factor.enrolment_started',
      'second_factor.failed',
      'second_factor.enrolled',
    ]);
  });

  it('refuses a second enrolment over an enrolled secret (409), even from a full session', async () => {
    const { headers } = await signIn(STAFF).catch(() => ({ headers: {} as Headers }));
    // The new sign-in owes a code; enrolment is refused either way.
    const again = await send(t.app, 'POST', '/api/auth/second-factor/enrol', headers);
    expect(again.status).toBe(409);
  });
});

describe('signing in with a second factor', () => {
  it('gives a session that is anonymous everywhere until a valid code completes it; a wrong or replayed code gets one 401', async () => {
    const { json, headers } = await signIn(STAFF);
    expect(json.secondFactor).toBe('required');
    expect((await send(t.app, 'GET', '/api/auth/me', headers)).status).toBe(401);
    expect((await send(t.app, 'GET', `/api/clients/${DEMO.clients.acme}/cycles`, headers)).status).toBe(401);

    const wrong = await send(t.app, 'POST', '/api/auth/second-factor/verify', headers, { code: '000000' });
    expect(wrong.status).toBe(401);
    const replayed = await send(t.app, 'POST', '/api/auth/second-factor/verify', headers, { code: await codeAt(0) });
    expect(replayed.status).toBe(401);
    expect(replayed.json.error.message).toBe(wrong.json.error.message);

    const ok = await send(t.app, 'POST', '/api/auth/second-factor/verify', headers, { code: await codeAt(1) });
    expect(ok.status, ok.body).toBe(200);
    expect((await send(t.app, 'GET', '/api/auth/me', headers)).status).toBe(200);
    // Completed: nothing more is owed.
    expect((await send(t.app, 'POST', '/api/auth/second-factor/verify', headers, { code: await codeAt(1) })).status).toBe(409);
  });

  it('accepts a recovery code once, instead of a code', async () => {
    const first = await signIn(STAFF);
    const used = recoveryCodes[0]!;
    expect((await send(t.app, 'POST', '/api/auth/second-factor/verify', first.headers, { recoveryCode: used })).status).toBe(200);
    expect((await send(t.app, 'GET', '/api/auth/me', first.headers)).status).toBe(200);
    const second = await signIn(STAFF);
    expect((await send(t.app, 'POST', '/api/auth/second-factor/verify', second.headers, { recoveryCode: used })).status).toBe(401);
    const { rows } = await sql.query('SELECT cardinality(recovery_code_hashes) AS n FROM staff_users WHERE id = $1', [STAFF.id]);
    expect(rows[0]).toEqual({ n: 9 });
  });

  it('lets an admin remove the enrolment with the sessions (a lost phone): the next sign-in needs the password only, audited', async () => {
    const staffOnly = (await signIn(DEMO.staff.admin)).headers;
    const r = await send(t.app, 'POST', `/api/staff-users/${STAFF.id}/sessions/revoke?resetSecondFactor=true`, staffOnly);
    expect(r.status, r.body).toBe(200);
    expect(r.json.secondFactorReset).toBe(true);
    expect(r.json.revoked).toBeGreaterThan(0);
    const next = await signIn(STAFF);
    expect(next.json.secondFactor).toBeUndefined();
    expect((await send(t.app, 'GET', '/api/auth/me', next.headers)).status).toBe(200);
    const { rows } = await sql.query(`SELECT actor_id FROM audit_events WHERE event_type = 'second_factor.reset' AND entity_id = $1`, [
      STAFF.id,
    ]);
    expect(rows).toEqual([{ actor_id: DEMO.staff.admin.id }]);
  });
});

describe('a firm-wide requirement', () => {
  it('is set by admins only; then a staff user without a second factor must enrol before the session is usable', async () => {
    const staffHeaders = (await signIn(STAFF)).headers;
    expect((await send(t.app, 'PATCH', '/api/firm-settings', staffHeaders, { requireStaffSecondFactor: true })).status).toBe(404);
    const set = await send(t.app, 'PATCH', '/api/firm-settings', admin, { requireStaffSecondFactor: true });
    expect(set.status, set.body).toBe(200);
    expect((await send(t.app, 'GET', '/api/firm-settings', admin)).json).toEqual({ requireStaffSecondFactor: true });

    const pending = await signIn(STAFF);
    expect(pending.json.secondFactor).toBe('enrol');
    expect((await send(t.app, 'GET', '/api/auth/me', pending.headers)).status).toBe(401);
    const enrol = await send(t.app, 'POST', '/api/auth/second-factor/enrol', pending.headers);
    expect(enrol.status, enrol.body).toBe(200);
    secret = enrol.json.secret;
    const confirm = await send(t.app, 'POST', '/api/auth/second-factor/confirm', pending.headers, { code: await codeAt(0) });
    expect(confirm.status, confirm.body).toBe(200);
    expect((await send(t.app, 'GET', '/api/auth/me', pending.headers)).status).toBe(200);

    expect((await send(t.app, 'PATCH', '/api/firm-settings', admin, { requireStaffSecondFactor: false })).status).toBe(200);
    const audit = await sql.query(`SELECT count(*)::int AS n FROM audit_events WHERE event_type = 'firm_settings.updated'`);
    expect(audit.rows[0]).toEqual({ n: 2 });
  });
});
