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
