import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';

/**
 * The few raw-SQL operations the migrator and boot checks need, over either driver.
 * `exec` runs a whole script through the simple-query protocol (several statements,
 * DO blocks and function bodies with `;` inside); `query` runs one parameterised statement.
 */
export interface SqlExecutor {
  exec(script: string): Promise<void>;
  query<T extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

export function pgExecutor(client: pg.ClientBase): SqlExecutor {
  return {
    async exec(script) {
      await client.query(script);
    },
    async query<T extends Record<string, unknown>>(text: string, params: unknown[] = []) {
      const result = await client.query(text, params);
      return result.rows as T[];
    },
  };
}

export function pgliteExecutor(db: PGlite): SqlExecutor {
  return {
    async exec(script) {
      await db.exec(script);
    },
    async query<T extends Record<string, unknown>>(text: string, params: unknown[] = []) {
      const result = await db.query<T>(text, params);
      return result.rows;
    },
  };
}
