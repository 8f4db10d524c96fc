import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type UnsafeDatabase } from './database.ts';
import { migrate } from './migrate.ts';

/**
 * Test support: every test file gets its own database on the real PostgreSQL, created
 * empty and dropped afterwards, so nothing depends on order or on another file.
 */
export const TEST_ADMIN_URL = process.env.SPADE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  /** Connects as the owner (the migrating superuser). */
  ownerUrl: string;
  /** Connects as spade_app, the runtime role. */
  appUrl: string;
  /** Connects as spade_admin_login, the admin firm-wide reads' own login. */
  adminUrl: string;
  drop(): Promise<void>;
}

function urlFor(database: string, user?: string): string {
  const url = new URL(TEST_ADMIN_URL);
  url.pathname = `/${database}`;
  if (user) {
    url.username = user;
    url.password = '';
  }
  return url.toString();
}

export async function createTestDatabase(prefix = 'spade_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    ownerUrl: urlFor(name),
    appUrl: urlFor(name, 'spade_app'),
    adminUrl: urlFor(name, 'spade_admin_login'),
    async drop() {
      const client = new pg.Client({ connectionString: TEST_ADMIN_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A fresh, migrated database and an owner connection to it. */
export async function createMigratedDatabase(prefix?: string): Promise<TestDatabase & { owner: UnsafeDatabase }> {
  const testDb = await createTestDatabase(prefix);
  const owner = await openDatabase({ kind: 'postgres', url: testDb.ownerUrl, poolMax: 4 });
  await owner.withSql((sql) => migrate(sql));
  return {
    ...testDb,
    owner,
    async drop() {
      await owner.close();
      await testDb.drop();
    },
  };
}
