import { type DatabaseTarget, dataPaths, SCOPED_CLIENTS_KEPT, targetFromEnv } from '@breezycorp/db';

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
  /** Who is asking, as the portal names the firm to its clients (SPADE_FIRM_NAME). */
  firmName: string;
  staffSessionTtlMs: number;
  contactSessionTtlMs: number;
  /**
   * A contact session also ends after this long without a request (SPADE_CONTACT_IDLE_MINUTES,
   * 30; SPADE_CONTACT_IDLE_SECONDS, when set, takes precedence — for tests and kiosks).
   */
  contactIdleMs: number;
  magicLinkTtlMs: number;
  upload: {
    maxBytes: number;
    contentTypes: readonly string[];
    /** An upload that sends nothing for this long is aborted (408) and its socket closed. */
    idleTimeoutMs: number;
  };
  http: { requestTimeoutMs: number; connectionTimeoutMs: number; keepAliveTimeoutMs: number };
  /** Keep an incoming x-request-id as Spade's own only behind a proxy that sets it (and strips the client's). */
  trustProxyRequestId: boolean;
  rateLimit: {
    loginPerMinute: number;
    exchangePerMinute: number;
    /**
     * REDIS_URL: the counters live in Redis, shared by every instance (docs/scaling.md);
     * unset, each process counts on its own (in memory), which is right for one instance.
     */
    redisUrl: string | null;
    /** SPADE_RATE_LIMIT_PREFIX: the Redis key prefix (several deployments on one Redis, or a test run). */
    keyPrefix: string;
  };
  cookieSecure: boolean;
  sentryDsn: string | null;
  logLevel: string;
  logFile: string | null;
  killSwitchPollMs: number;
  mail: MailConfig;
  /** How often the API seals the audit trail into a digest (ms); 0 leaves it to `spade audit seal`. */
  auditSealIntervalMs: number;
  /** Slack incoming webhook for detection alerts (decoy touches, breadth alerts); null: recorded as skipped. */
  slackWebhookUrl: string | null;
  detection: DetectionConfig;
  /** Bulk sends survive their process (docs/delivery.md). */
  bulk: {
    /** How often a running job renews its heartbeat (SPADE_BULK_HEARTBEAT_MS, 10 s). */
    heartbeatMs: number;
    /** A running job silent for this long is taken over by the delivery worker (SPADE_BULK_STALE_MS, 2 min). */
    staleMs: number;
    /** Taken over this many times without finishing: given up as failed (SPADE_BULK_MAX_RESUMES, 3). */
    maxResumes: number;
  };
}

/** Outgoing mail and its delivery worker (docs/delivery.md). */
export interface MailConfig {
  /** SMTP_URL (smtp:// or smtps://, auth in the URL); null → the outbox folder under the data dir. */
  smtpUrl: string | null;
  smtpTlsRejectUnauthorized: boolean;
  smtpTimeoutMs: number;
  /** The sender: the firm's name as display name, SPADE_MAIL_FROM as address. */
  firmName: string;
  fromAddress: string;
  /** Where each message's stable Message-ID lives: `<outbox-id@domain>`. */
  messageIdDomain: string;
  /** 'in-process' (default): the API delivers; 'off': a separate `pnpm spade worker` does. */
  worker: 'in-process' | 'off';
  pollMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryCapMs: number;
  leaseMs: number;
  /** "Email me a new link": at most this many per address per hour (and per IP per minute below). */
  newLinkPerAddressPerHour: number;
  newLinkPerIpPerMinute: number;
}

/** Breadth-alert thresholds (docs/detection.md). */
export interface DetectionConfig {
  /** A staff member touching more distinct clients than this within the window… */
  staffClientsThreshold: number;
  /** …and more than this many times their own trailing average per window, raises an alert. */
  staffBaselineFactor: number;
  staffWindowMs: number;
  /** How many past windows make the trailing baseline. */
  staffBaselineWindows: number;
  /** This many tenant_access_denied from one actor or address within the window raises an alert. */
  deniedBurstThreshold: number;
  deniedBurstWindowMs: number;
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

function redisUrl(raw: string | undefined): string | null {
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('REDIS_URL must be a redis:// or rediss:// URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new ConfigError('REDIS_URL must be a redis:// or rediss:// URL');
  return raw;
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
      acquireTimeoutMs: int(env, 'SPADE_DB_ACQUIRE_TIMEOUT_MS', 3_000),
      // docs/scaling.md: ≈ 12 KB each once used; a client not kept costs ≈ 75 µs of CPU to rebuild.
      scopedClientsKept: int(env, 'SPADE_SCOPED_CLIENTS', SCOPED_CLIENTS_KEPT),
    };
    adminDatabase = {
      kind: 'postgres',
      url: env.SPADE_ADMIN_DATABASE_URL || adminDatabaseUrl(env.DATABASE_URL, env.SPADE_ADMIN_DB_PASSWORD),
      poolMax: int(env, 'SPADE_ADMIN_DB_POOL_MAX', 4),
    };
  }
  const port = int(env, 'PORT', 3000, 0);
  const smtpUrl = env.SMTP_URL || null;
  if (smtpUrl) {
    let protocol: string;
    try {
      protocol = new URL(smtpUrl).protocol;
    } catch {
      throw new ConfigError('SMTP_URL is not a valid URL');
    }
    if (protocol !== 'smtp:' && protocol !== 'smtps:') throw new ConfigError('SMTP_URL must start with smtp:// or smtps://');
  }
  const fromAddress = env.SPADE_MAIL_FROM || 'portal@spade.localhost';
  if (!/^[^@\s<>]+@[^@\s<>]+$/.test(fromAddress)) throw new ConfigError('SPADE_MAIL_FROM must be a bare address (name@domain)');
  const worker = env.SPADE_DELIVERY_WORKER || 'in-process';
  if (worker !== 'in-process' && worker !== 'off') throw new ConfigError('SPADE_DELIVERY_WORKER must be "in-process" or "off"');
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
    firmName: env.SPADE_FIRM_NAME || 'Spade Demo Accounting',
    staffSessionTtlMs: int(env, 'SPADE_STAFF_SESSION_HOURS', 12) * 3600_000,
    contactSessionTtlMs: int(env, 'SPADE_CONTACT_SESSION_HOURS', 4) * 3600_000,
    contactIdleMs: env.SPADE_CONTACT_IDLE_SECONDS
      ? int(env, 'SPADE_CONTACT_IDLE_SECONDS', 1_800) * 1_000
      : int(env, 'SPADE_CONTACT_IDLE_MINUTES', 30) * 60_000,
    magicLinkTtlMs: int(env, 'SPADE_MAGIC_LINK_DAYS', 14) * 86_400_000,
    upload: {
      maxBytes: int(env, 'SPADE_UPLOAD_MAX_BYTES', 25 * 1024 * 1024),
      contentTypes: env.SPADE_UPLOAD_CONTENT_TYPES
        ? env.SPADE_UPLOAD_CONTENT_TYPES.split(',').map((t) => t.trim().toLowerCase())
        : DEFAULT_CONTENT_TYPES,
      idleTimeoutMs: int(env, 'SPADE_UPLOAD_IDLE_MS', 30_000),
    },
    http: {
      requestTimeoutMs: int(env, 'SPADE_REQUEST_TIMEOUT_MS', 300_000),
      connectionTimeoutMs: int(env, 'SPADE_CONNECTION_TIMEOUT_MS', 120_000),
      keepAliveTimeoutMs: int(env, 'SPADE_KEEP_ALIVE_TIMEOUT_MS', 65_000),
    },
    trustProxyRequestId: env.SPADE_TRUST_PROXY_REQUEST_ID === 'true',
    rateLimit: {
      loginPerMinute: int(env, 'SPADE_LOGIN_PER_MINUTE', 10),
      exchangePerMinute: int(env, 'SPADE_EXCHANGE_PER_MINUTE', 20),
      redisUrl: redisUrl(env.REDIS_URL),
      keyPrefix: env.SPADE_RATE_LIMIT_PREFIX || 'spade:rate-limit:',
    },
    cookieSecure: env.SPADE_COOKIE_SECURE === 'true',
    sentryDsn: env.SENTRY_DSN || null,
    logLevel: env.LOG_LEVEL || 'info',
    logFile: env.SPADE_LOG_FILE || null,
    killSwitchPollMs: int(env, 'SPADE_KILL_SWITCH_POLL_MS', 5_000),
    mail: {
      smtpUrl,
      smtpTlsRejectUnauthorized: env.SMTP_TLS_REJECT_UNAUTHORIZED !== 'false',
      smtpTimeoutMs: int(env, 'SMTP_TIMEOUT_MS', 15_000),
      firmName: env.SPADE_FIRM_NAME || 'Spade',
      fromAddress,
      messageIdDomain: fromAddress.split('@')[1] as string,
      worker,
      pollMs: int(env, 'SPADE_DELIVERY_POLL_MS', 2_000),
      maxAttempts: int(env, 'SPADE_MAIL_MAX_ATTEMPTS', 8),
      retryBaseMs: int(env, 'SPADE_MAIL_RETRY_BASE_MS', 30_000),
      retryCapMs: int(env, 'SPADE_MAIL_RETRY_CAP_MS', 3_600_000),
      leaseMs: int(env, 'SPADE_MAIL_LEASE_MS', 120_000),
      newLinkPerAddressPerHour: int(env, 'SPADE_NEW_LINK_PER_ADDRESS_PER_HOUR', 3),
      newLinkPerIpPerMinute: int(env, 'SPADE_NEW_LINK_PER_IP_PER_MINUTE', 5),
    },
    auditSealIntervalMs: int(env, 'SPADE_AUDIT_SEAL_INTERVAL_MS', 60_000, 0),
    slackWebhookUrl: env.SLACK_WEBHOOK_URL || null,
    detection: {
      staffClientsThreshold: int(env, 'SPADE_BREADTH_STAFF_CLIENTS', 25),
      staffBaselineFactor: int(env, 'SPADE_BREADTH_BASELINE_FACTOR', 3),
      staffWindowMs: int(env, 'SPADE_BREADTH_WINDOW_MINUTES', 10) * 60_000,
      staffBaselineWindows: int(env, 'SPADE_BREADTH_BASELINE_WINDOWS', 144),
      deniedBurstThreshold: int(env, 'SPADE_DENIED_BURST', 10),
      deniedBurstWindowMs: int(env, 'SPADE_DENIED_BURST_WINDOW_SECONDS', 60) * 1_000,
    },
    bulk: {
      heartbeatMs: int(env, 'SPADE_BULK_HEARTBEAT_MS', 10_000),
      staleMs: int(env, 'SPADE_BULK_STALE_MS', 120_000),
      maxResumes: int(env, 'SPADE_BULK_MAX_RESUMES', 3, 0),
    },
  };
}
