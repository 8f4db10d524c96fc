import { verifyPassword } from '@breezycorp/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/program.ts';
import { type CliFixture, captureIo, createCliFixture } from './support.ts';

/*
 * `spade staff create-admin`: an operator creates an admin without the demo seed. The
 * password comes from a prompt (asked twice) or stdin, never from argv.
 */
let f: CliFixture;

beforeAll(async () => {
  f = await createCliFixture('staff');
});
afterAll(async () => {
  await f?.close();
});

async function createAdmin(argv: string[], input: { stdin?: string; answers?: string[] }) {
  const answers = [...(input.answers ?? [])];
  const io = captureIo(f.env, input.answers ? async () => answers.shift() ?? '' : undefined);
  if (input.stdin !== undefined) io.readStdin = async () => input.stdin as string;
  const code = await runCli(['staff', 'create-admin', ...argv], io);
  return { code, io };
}

async function staffRow(email: string) {
  const { rows } = await f.sql.query<{ role: string; password_hash: string; name: string }>(
    'SELECT role, password_hash, name FROM staff_users WHERE lower(email) = lower($1)',
    [email],
  );
  return rows[0] ?? null;
}

describe('spade staff create-admin', () => {
  it('creates an admin with the password piped on stdin (--password-stdin), scrypt-hashed and audited as the operator', async () => {
    const { code, io } = await createAdmin(['--email', 'Ops@Firm.example', '--name', 'Olive Ops', '--password-stdin', '--json'], {
      stdin: 'a long operator passphrase\n',
    });
    expect(code, io.stderr.join('\n')).toBe(0);
    expect(io.json()).toMatchObject({ created: true, email: 'ops@firm.example' });
    const row = await staffRow('ops@firm.example');
    expect(row).toMatchObject({ role: 'admin', name: 'Olive Ops' });
    expect(await verifyPassword('a long operator passphrase', row!.password_hash)).toBe(true);
    const audit = await f.sql.query(
      `SELECT actor_type, event_data_json->>'via' AS via FROM audit_events WHERE event_type = 'staff_user.admin_created'`,
    );
    expect(audit.rows).toEqual([{ actor_type: 'operator', via: 'oncall-test' }]);
  });

  it('asks twice on a terminal and refuses when the answers differ, creating nothing', async () => {
    const differ = await createAdmin(['--email', 'typo@firm.example'], { answers: ['first long passphrase', 'second long passphrase'] });
    expect(differ.code).toBe(2);
    expect(await staffRow('typo@firm.example')).toBeNull();
    const same = await createAdmin(['--email', 'prompted@firm.example'], { answers: ['terminal passphrase 1', 'terminal passphrase 1'] });
    expect(same.code, same.io.stderr.join('\n')).toBe(0);
    expect((await staffRow('prompted@firm.example'))?.role).toBe('admin');
  });

  it('refuses a weak password (usage error) and an existing email (never changes a staff user)', async () => {
    const weak = await createAdmin(['--email', 'weak@firm.example', '--password-stdin'], { stdin: 'short' });
    expect(weak.code).toBe(2);
    expect(weak.io.stderr.join('\n')).toMatch(/at least 12 characters/);
    expect(await staffRow('weak@firm.example')).toBeNull();
    const before = await staffRow('staff@spade.test');
    const taken = await createAdmin(['--email', 'STAFF@spade.test', '--password-stdin'], { stdin: 'a long takeover passphrase' });
    expect(taken.code).toBe(1);
    expect(taken.io.stderr.join('\n')).toMatch(/already exists; nothing changed/);
    expect(await staffRow('staff@spade.test')).toEqual(before);
  });

  it('takes no password from argv, and needs a terminal or --password-stdin', async () => {
    const argv = await createAdmin(['--email', 'argv@firm.example', '--password', 'a long argv passphrase'], {});
    expect(argv.code).toBe(2);
    const noInput = await createAdmin(['--email', 'argv@firm.example'], {});
    expect(noInput.code).toBe(2);
    expect(noInput.io.stderr.join('\n')).toMatch(/--password-stdin/);
    expect(await staffRow('argv@firm.example')).toBeNull();
  });
});

describe('spade sessions revoke --reset-second-factor', () => {
  it("also removes the user's TOTP enrolment and recovery codes, recorded; only with --staff", async () => {
    await f.sql.query(
      `UPDATE staff_users SET totp_secret = 'JBSWY3DPEHPK3PXPJBSWY3DP', totp_enabled_at = now(), recovery_code_hashes = ARRAY['x']
        WHERE email = 'staff@spade.test'`,
    );
    const all = await f.run(['sessions', 'revoke', '--all-staff', '--reset-second-factor', '--yes']);
    expect(all.code).toBe(2);
    const r = await f.run(['sessions', 'revoke', '--staff', 'staff@spade.test', '--reset-second-factor', '--yes', '--json']);
    expect(r.code, r.io.stderr.join('\n')).toBe(0);
    expect(r.io.json()).toMatchObject({ dryRun: false, secondFactorReset: true });
    const { rows } = await f.sql.query(
      `SELECT totp_secret, totp_enabled_at, cardinality(recovery_code_hashes) AS codes FROM staff_users WHERE email = 'staff@spade.test'`,
    );
    expect(rows[0]).toEqual({ totp_secret: null, totp_enabled_at: null, codes: 0 });
    const audit = await f.sql.query(
      `SELECT event_data_json->>'secondFactorReset' AS reset FROM audit_events WHERE event_type = 'sessions.revoked' ORDER BY occurred_at DESC LIMIT 1`,
    );
    expect(audit.rows).toEqual([{ reset: 'true' }]);
  });
});
