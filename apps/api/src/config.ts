import { type DatabaseTarget, dataPaths, targetFromEnv } from '@breezycorp/db';

/** Every environment variable Spade reads, parsed and validated once at boot. */
export interface Config {
  port: number;
  host: string;
  /** The runtime database: on PostgreSQL the connection logs in as spade_app. */
  database: DatabaseTarget;
  /**
   * Admin firm-wide reads' own login (spade_admin_login, a member of spade_firm_admin), opened
   * only by admin staff-only routes. Null on the embedded database, whose one superuser
   * switches role per unit of work.
   */
  adminDatabase: DatabaseTarget | null;
  /** SPADE_ADMIN_EMAIL + SPADE_ADMIN_PASSWORD: the admin the first start creates when none exists. */
  firstAdmin: { email: string; password: string } | null;
  dataDir: string;
  storageDir: string;
  outboxDir: string;
  publicBaseUrl: string;
  staffSessionTtlMs: number;
  contactSessionTtlMs: number;
  magicLinkTtlMs: number;
  upload: { maxBytes: number; contentTypes: readonly string[] };
  rateLimit: { loginPerMinute: number; exchangePerMinute: number };
  cookieSecure: boolean;
  sentryDsn: string | null;
  logLevel: string;
  logFile: string | null;
  killSwitchPollMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new ConfigError(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}

/** The same database as `ownerUrl`, logged in as spade_app (password from SPADE_APP_DB_PASSWORD). */
export function appDatabaseUrl(ownerUrl: string, password?: string): string {
  const url = new URL(ownerUrl);
  url.username = 'spade_app';
  url.password = password ?? '';
  return url.toString();
}

/** The same database as `ownerUrl`, logged in as spade_admin_login (password from SPADE_ADMIN_DB_PASSWORD). */
export function adminDatabaseUrl(ownerUrl: string, password?: string): string {
  const url = new URL(ownerUrl);
  url.username = 'spade_admin_login';
  url.password = password ?? '';
  return url.toString();
}

function firstAdminFrom(env: Env): Config['firstAdmin'] {
  const email = env.SPADE_ADMIN_EMAIL?.trim();
  const password = env.SPADE_ADMIN_PASSWORD;
  if (!email && !password) return null;
  if (!email || !password) throw new ConfigError('SPADE_ADMIN_EMAIL and SPADE_ADMIN_PASSWORD go together: set both or neither');
  return { email, password };
}

const DEFAULT_CONTENT_TYPES = [
  'application/pdf',
  'image/png',
  'image/jpeg',
  'text/plain',
  'text/csv',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.ms-excel',
];

export function parseConfig(env: Env = process.env): Config {
  const { dataDir, storageDir, outboxDir } = dataPaths(env);
  // DATABASE_URL is the owner's login (migrations, seed, CLI); the API logs in as spade_app.
  let database: DatabaseTarget = targetFromEnv(env);
  let adminDatabase: DatabaseTarget | null = null;
  if (env.DATABASE_URL) {
    try {
      new URL(env.DATABASE_URL);
    } catch {
      throw new ConfigError('DATABASE_URL is not a valid URL');
    }
    database = {
      kind: 'postgres',
      url: env.SPADE_APP_DATABASE_URL || appDatabaseUrl(env.DATABASE_URL, env.SPADE_APP_DB_PASSWORD),
      poolMax: int(env, 'SPADE_DB_POOL_MAX', 16),
    };
    adminDatabase = {
      kind: 'postgres',
      url: env.SPADE_ADMIN_DATABASE_URL || adminDatabaseUrl(env.DATABASE_URL, env.SPADE_ADMIN_DB_PASSWORD),
      poolMax: int(env, 'SPADE_ADMIN_DB_POOL_MAX', 4),
    };
  }
  const port = int(env, 'PORT', 3000, 0);
  return {
    port,
    host: env.HOST || '127.0.0.1',
    database,
    adminDatabase,
    firstAdmin: firstAdminFrom(env),
    dataDir,
    storageDir,
    outboxDir,
    publicBaseUrl: env.SPADE_PUBLIC_URL || `http://localhost:${port}`,
    staffSessionTtlMs: int(env, 'SPADE_STAFF_SESSION_HOURS', 12) * 3600_000,
    contactSessionTtlMs: int(env, 'SPADE_CONTACT_SESSION_HOURS', 4) * 3600_000,
    magicLinkTtlMs: int(env, 'SPADE_MAGIC_LINK_DAYS', 14) * 86_400_000,
    upload: {
      maxBytes: int(env, 'SPADE_UPLOAD_MAX_BYTES', 25 * 1024 * 1024),
      contentTypes: env.SPADE_UPLOAD_CONTENT_TYPES
        ? env.SPADE_UPLOAD_CONTENT_TYPES.split(',').map((t) => t.trim().toLowerCase())
        : DEFAULT_CONTENT_TYPES,
    },
    rateLimit: {
      loginPerMinute: int(env, 'SPADE_LOGIN_PER_MINUTE', 10),
      exchangePerMinute: int(env, 'SPADE_EXCHANGE_PER_MINUTE', 20),
    },
    cookieSecure: env.SPADE_COOKIE_SECURE === 'true',
    sentryDsn: env.SENTRY_DSN || null,
    logLevel: env.LOG_LEVEL || 'info',
    logFile: env.SPADE_LOG_FILE || null,
    killSwitchPollMs: int(env, 'SPADE_KILL_SWITCH_POLL_MS', 5_000),
  };
}
