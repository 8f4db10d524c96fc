import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;
const SCRYPT = { N: 16_384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

/** scrypt with a per-password random salt: `scrypt$N$r$p$salt$hash` (base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/**
 * The scrypt hash of `password` under the parameters and salt of a stored hash
 * (`scrypt$N$r$p$salt`, as `spade_staff_password_params` returns them): sign-in derives it
 * and lets the database compare, so the API never reads a stored hash. Null for a
 * malformed or unaffordable parameter string.
 */
export async function hashPasswordWithParams(password: string, params: string): Promise<string | null> {
  const [scheme, n, r, p, salt, extra] = params.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || extra !== undefined) return null;
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  // Bounds keep a tampered row from turning sign-in into a memory or CPU bomb.
  if (![N, R, P].every(Number.isInteger) || N < 2 || N > 1 << 20 || R < 1 || R > 32 || P < 1 || P > 16) return null;
  const hash = await scryptAsync(password, Buffer.from(salt, 'base64url'), 32, { N, r: R, p: P, maxmem: SCRYPT.maxmem * 4 });
  return `${params}$${hash.toString('base64url')}`;
}

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 200;
const PUBLISHED_PASSWORDS = new Set([
  'spade-demo-admin',
  'spade-demo-staff',
  'password1234',
  '123456789012',
  'qwertyuiopas',
  'changeme1234',
]);

/** Why a staff password is refused, or null when it meets the minimum policy. */
export function passwordPolicyProblem(password: string, context: { email?: string } = {}): string | null {
  if (password.length < PASSWORD_MIN_LENGTH) return `the password must have at least ${PASSWORD_MIN_LENGTH} characters`;
  if (password.length > PASSWORD_MAX_LENGTH) return `the password must have at most ${PASSWORD_MAX_LENGTH} characters`;
  if (new Set(password).size < 4) return 'the password needs at least 4 different characters';
  if (PUBLISHED_PASSWORDS.has(password.toLowerCase())) return 'the password is a published or common one';
  const name = context.email?.toLowerCase().split('@')[0] ?? '';
  if (name.length >= 4 && password.toLowerCase().includes(name)) return 'the password must not contain the email address';
  return null;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return timingSafeEqual(expected, actual);
}

/** Token prefixes tell staff sessions, contact sessions and magic links apart before any lookup. */
export const TOKEN_PREFIX = { staff: 'sst_', contact: 'cst_', magicLink: 'mlk_' } as const;
export type TokenKind = keyof typeof TOKEN_PREFIX;
const TOKEN_BODY = /^[A-Za-z0-9_-]{43}$/;

/** A bearer token: a kind prefix and 32 random bytes (256 bits), base64url. Only its hash is ever stored. */
export function newToken(kind: TokenKind): string {
  return `${TOKEN_PREFIX[kind]}${randomBytes(32).toString('base64url')}`;
}

/** Cheap shape check so malformed tokens never reach the database. */
export function isTokenOf(kind: TokenKind, token: unknown): token is string {
  return typeof token === 'string' && token.startsWith(TOKEN_PREFIX[kind]) && TOKEN_BODY.test(token.slice(TOKEN_PREFIX[kind].length));
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
