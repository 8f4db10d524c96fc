import { SCOPED_CLIENTS_KEPT } from '@breezycorp/db';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../config.ts';

const POSTGRES = { DATABASE_URL: 'postgres://spade@db.example:5432/spade', SPADE_DATA_DIR: '/tmp/spade-config-test' };

describe('the database settings', () => {
  it('SPADE_SCOPED_CLIENTS sets how many tenant-scoped clients each pool keeps (default SCOPED_CLIENTS_KEPT)', () => {
    const byDefault = parseConfig(POSTGRES).database;
    expect(byDefault).toMatchObject({ kind: 'postgres', scopedClientsKept: SCOPED_CLIENTS_KEPT });
    expect(parseConfig({ ...POSTGRES, SPADE_SCOPED_CLIENTS: '12000' }).database).toMatchObject({ scopedClientsKept: 12_000 });
  });

  it('refuses a scoped-client bound that is not a positive integer', () => {
    for (const bad of ['0', '-5', '1.5', 'many']) {
      expect(() => parseConfig({ ...POSTGRES, SPADE_SCOPED_CLIENTS: bad }), bad).toThrow(ConfigError);
    }
  });
});
