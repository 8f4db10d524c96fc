import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditRowValues, insertAuditRows } from '../src/audit-rows.ts';
import { type UnsafeDatabase as Database, openDatabase } from '../src/database.ts';
import {
  deriveTenantModels,
  FIRM_WIDE_MODELS,
  OPERATOR_ONLY_MODELS,
  scopeOperation,
  TENANT_MODELS,
  TenantScopeViolation,
  withTenantScope,
} from '../src/extensions/tenant-scope.ts';
import { Prisma } from '../src/generated/prisma/client.ts';
import { DEMO, seedDemo } from '../src/seed.ts';
import { createMigratedDatabase, type TestDatabase } from '../src/testing.ts';
import type { ScopedTx } from '../src/unit-of-work.ts';
import { readPrismaSchema } from './prisma-schema.ts';
import { readTenantTables } from './tenant-tables.ts';

/*
 * Layer 3 of DESIGN.md §4. The decision (scopeOperation) is pure and tested branch by
 * branch; the integration part proves the extension applies it to a real Prisma client,
 * and that it stops a cross-tenant read on its own, with RLS out of the way.
 */
const ACME = DEMO.clients.acme;
const BORNEO = DEMO.clients.borneo;

/** A model's scalar fields as the generated client knows them (`Prisma.<Model>ScalarFieldEnum`). */
function scalarFieldsOf(model: string): Record<string, string> {
  return (Prisma as unknown as Record<string, Record<string, string>>)[`${model}ScalarFieldEnum`] ?? {};
}

const READ_AND_WHERE_WRITE_OPERATIONS = [
  'findUnique',
  'findUniqueOrThrow',
  'findFirst',
  'findFirstOrThrow',
  'findMany',
  'count',
  'aggregate',
  'groupBy',
  'update',
  'updateMany',
  'updateManyAndReturn',
  'delete',
  'deleteMany',
] as const;

describe('scopeOperation (pure)', () => {
  describe('operations with a where clause', () => {
    for (const operation of READ_AND_WHERE_WRITE_OPERATIONS) {
      it(`${operation} on a tenant model adds the scoped client to the where clause`, () => {
        const args = { where: { id: 'x' } };
        expect(scopeOperation('Cycle', operation, args, ACME)).toEqual({ where: { id: 'x', AND: [{ clientId: ACME }] } });
      });
    }

    it('upsert scopes its where, injects clientId into create and checks update', () => {
      const args = { where: { id: 'x' }, create: { title: 'new' }, update: { title: 'changed' } };
      expect(scopeOperation('Cycle', 'upsert', args, ACME)).toEqual({
        where: { id: 'x', AND: [{ clientId: ACME }] },
        create: { title: 'new', clientId: ACME },
        update: { title: 'changed' },
      });
    });

    it('scopes Client by its own id, the tenant key of the tenant table', () => {
      expect(scopeOperation('Client', 'findUnique', { where: { id: BORNEO } }, ACME)).toEqual({
        where: { id: BORNEO, AND: [{ id: ACME }] },
      });
    });

    it('scopes an operation called without arguments', () => {
      expect(scopeOperation('Contact', 'findMany', undefined, ACME)).toEqual({ where: { AND: [{ clientId: ACME }] } });
      expect(scopeOperation('AuditEvent', 'count', {}, ACME)).toEqual({ where: { AND: [{ clientId: ACME }] } });
    });

    it("keeps the caller's own AND conditions, as an object or a list, next to the tenant condition", () => {
      expect(scopeOperation('Cycle', 'findMany', { where: { AND: { status: 'open' } } }, ACME)).toEqual({
        where: { AND: [{ status: 'open' }, { clientId: ACME }] },
      });
      expect(scopeOperation('Cycle', 'findMany', { where: { AND: [{ status: 'open' }, { kind: 'tax' }] } }, ACME)).toEqual({
        where: { AND: [{ status: 'open' }, { kind: 'tax' }, { clientId: ACME }] },
      });
    });

    it("cannot be widened by the caller's own clientId or OR filter: the tenant condition is ANDed on", () => {
      const scoped = scopeOperation('Cycle', 'findMany', { where: { clientId: BORNEO, OR: [{ clientId: BORNEO }] } }, ACME);
      expect(scoped).toEqual({ where: { clientId: BORNEO, OR: [{ clientId: BORNEO }], AND: [{ clientId: ACME }] } });
    });

    it('passes other arguments (select, orderBy, data) through', () => {
      const args = { where: { id: 'x' }, select: { id: true }, orderBy: { createdAt: 'desc' }, take: 5 };
      expect(scopeOperation('File', 'findMany', args, ACME)).toEqual({ ...args, where: { id: 'x', AND: [{ clientId: ACME }] } });
      expect(scopeOperation('RequestItem', 'updateMany', { where: {}, data: { status: 'accepted' } }, ACME)).toEqual({
        where: { AND: [{ clientId: ACME }] },
        data: { status: 'accepted' },
      });
    });

    it('does not mutate the arguments it is given', () => {
      const args = { where: { id: 'x', AND: [{ status: 'open' }] }, data: { title: 't' } };
      const copy = structuredClone(args);
      scopeOperation('Cycle', 'update', args, ACME);
      expect(args).toEqual(copy);
    });
  });

  describe('creates', () => {
    it('create injects the scoped clientId', () => {
      expect(scopeOperation('Cycle', 'create', { data: { title: 't' } }, ACME)).toEqual({ data: { title: 't', clientId: ACME } });
    });

    it('create accepts an explicit clientId equal to the scoped one', () => {
      expect(scopeOperation('Cycle', 'create', { data: { title: 't', clientId: ACME } }, ACME)).toEqual({
        data: { title: 't', clientId: ACME },
      });
    });

    for (const operation of ['createMany', 'createManyAndReturn']) {
      it(`${operation} injects the scoped clientId into every row`, () => {
        const args = { data: [{ title: 'a' }, { title: 'b', clientId: ACME }], skipDuplicates: true };
        expect(scopeOperation('Cycle', operation, args, ACME)).toEqual({
          data: [
            { title: 'a', clientId: ACME },
            { title: 'b', clientId: ACME },
          ],
          skipDuplicates: true,
        });
      });

      it(`${operation} with a single object injects the scoped clientId`, () => {
        expect(scopeOperation('Cycle', operation, { data: { title: 'a' } }, ACME)).toEqual({ data: { title: 'a', clientId: ACME } });
      });
    }

    it('refuses creating a client through a tenant-scoped client', () => {
      expect(() => scopeOperation('Client', 'create', { data: { name: 'New Co' } }, ACME)).toThrow(/cannot create clients/);
    });

    it('refuses create data that is not an object', () => {
      expect(() => scopeOperation('Cycle', 'create', {}, ACME)).toThrow(TenantScopeViolation);
      expect(() => scopeOperation('Cycle', 'createMany', { data: [null] }, ACME)).toThrow(TenantScopeViolation);
    });
  });

  describe('a different client id', () => {
    const cases: [string, string, Record<string, unknown>][] = [
      ['create', 'Cycle', { data: { title: 't', clientId: BORNEO } }],
      ['createMany', 'Cycle', { data: [{ title: 'a' }, { title: 'b', clientId: BORNEO }] }],
      ['createManyAndReturn', 'File', { data: [{ clientId: BORNEO }] }],
      ['update', 'Cycle', { where: { id: 'x' }, data: { clientId: BORNEO } }],
      ['update', 'Cycle', { where: { id: 'x' }, data: { clientId: { set: BORNEO } } }],
      ['updateMany', 'Contact', { where: {}, data: { clientId: BORNEO } }],
      ['updateManyAndReturn', 'Contact', { where: {}, data: { clientId: BORNEO } }],
      ['upsert', 'Cycle', { where: { id: 'x' }, create: { clientId: BORNEO }, update: {} }],
      ['upsert', 'Cycle', { where: { id: 'x' }, create: {}, update: { clientId: BORNEO } }],
      ['update', 'Client', { where: { id: ACME }, data: { id: BORNEO } }],
    ];
    for (const [operation, model, args] of cases) {
      it(`is rejected in ${model}.${operation} ${JSON.stringify(args.data ?? { create: args.create, update: args.update })}`, () => {
        expect(() => scopeOperation(model, operation, args, ACME)).toThrow(TenantScopeViolation);
      });
    }
  });

  describe('nested writes', () => {
    const cases: [string, string, Record<string, unknown>][] = [
      ['create', 'CycleRequest', { data: { cycle: { connect: { id: 'x' } } } }],
      ['create', 'Cycle', { data: { requests: { create: { tokenHash: 'h' } } } }],
      ['update', 'RequestItem', { where: { id: 'x' }, data: { files: { deleteMany: {} } } }],
      ['updateMany', 'Contact', { where: {}, data: { client: { connect: { id: BORNEO } } } }],
      ['upsert', 'Cycle', { where: { id: 'x' }, create: { client: { connect: { id: BORNEO } } }, update: {} }],
      ['createMany', 'File', { data: [{ item: { connect: { id: 'x' } } }] }],
      ['update', 'Client', { where: { id: ACME }, data: { cycles: { create: { title: 't' } } } }],
    ];
    for (const [operation, model, args] of cases) {
      it(`are rejected in ${model}.${operation}`, () => {
        expect(() => scopeOperation(model, operation, args, ACME)).toThrow(/nested writes are refused/);
      });
    }

    it('let scalar update operators and JSON documents through', () => {
      expect(
        scopeOperation(
          'RequestItem',
          'update',
          { where: { id: 'x' }, data: { position: { increment: 1 }, status: { set: 'accepted' } } },
          ACME,
        ),
      ).toEqual({ where: { id: 'x', AND: [{ clientId: ACME }] }, data: { position: { increment: 1 }, status: { set: 'accepted' } } });
      expect(scopeOperation('AuditEvent', 'create', { data: { eventType: 'x', eventDataJson: { nested: { ok: true } } } }, ACME)).toEqual({
        data: { eventType: 'x', eventDataJson: { nested: { ok: true } }, clientId: ACME },
      });
    });

    it('let dates through: they are values, not relation writes', () => {
      const dueDate = new Date('2026-12-31T00:00:00Z');
      expect(scopeOperation('Cycle', 'update', { where: { id: 'x' }, data: { dueDate } }, ACME)).toEqual({
        where: { id: 'x', AND: [{ clientId: ACME }] },
        data: { dueDate },
      });
    });
  });

  describe('refusals', () => {
    it('refuses an unknown model rather than running it unscoped', () => {
      expect(() => scopeOperation('Invoice', 'findMany', {}, ACME)).toThrow(/Invoice: not a known model/);
    });

    it('refuses an unknown operation rather than running it unscoped', () => {
      for (const operation of ['findRaw', 'aggregateRaw', 'somethingNew']) {
        expect(() => scopeOperation('Cycle', operation, {}, ACME)).toThrow(/not a known operation/);
      }
    });

    it('refuses raw queries (no model)', () => {
      for (const operation of ['$queryRaw', '$executeRaw', '$queryRawUnsafe', '$executeRawUnsafe']) {
        expect(() => scopeOperation(undefined, operation, {}, ACME)).toThrow(/raw queries are refused/);
      }
    });

    for (const malformed of ['', '0', 'undefined', 'null', ' ', `${ACME},${BORNEO}`, `${ACME} `]) {
      it(`refuses the malformed client id ${JSON.stringify(malformed)} instead of scoping to nothing or everything`, () => {
        expect(() => scopeOperation('Cycle', 'findMany', {}, malformed)).toThrow(/well-formed client id/);
        // Firm-wide models too: a broken scope is a bug wherever it shows up.
        expect(() => scopeOperation('StaffUser', 'findMany', {}, malformed)).toThrow(TenantScopeViolation);
        expect(() => withTenantScope(malformed)).toThrow(TenantScopeViolation);
      });
    }

    it('refuses an undefined client id', () => {
      expect(() => scopeOperation('Cycle', 'findMany', {}, undefined as unknown as string)).toThrow(TenantScopeViolation);
    });
  });

  describe('firm-wide models', () => {
    for (const model of ['StaffUser', 'StaffSession', 'RouteKillSwitch']) {
      it(`${model} passes through unchanged`, () => {
        const args = { where: { id: 'x' }, data: { name: 'n' } };
        expect(scopeOperation(model, 'update', args, ACME)).toBe(args);
        expect(scopeOperation(model, 'findMany', undefined, ACME)).toBeUndefined();
      });
    }

    it('are exactly the models declared firm-wide, and hold no clientId', () => {
      // A deliberate second signature: a model passing the scope unchanged is a visible diff here too.
      expect([...FIRM_WIDE_MODELS].sort()).toEqual([
        'BulkJob',
        'FirmSetting',
        'RequestTemplate',
        'RouteKillSwitch',
        'StaffSession',
        'StaffUser',
      ]);
      for (const model of FIRM_WIDE_MODELS) expect(Object.values(scalarFieldsOf(model)), model).not.toContain('clientId');
    });
  });

  describe('which models are tenant models (derived from the generated client)', () => {
    const models = Object.values(Prisma.ModelName);

    it('every model is exactly one of: a tenant model, firm-wide, operator-only', () => {
      expect(models.length).toBeGreaterThan(20);
      for (const model of models) {
        const kinds = [Object.hasOwn(TENANT_MODELS, model), FIRM_WIDE_MODELS.has(model), OPERATOR_ONLY_MODELS.has(model)];
        expect(kinds.filter(Boolean), model).toHaveLength(1);
      }
      expect(Object.keys(TENANT_MODELS).every((model) => models.includes(model as never))).toBe(true);
    });

    it('Client is keyed by id, every other tenant model by clientId, a field it really has', () => {
      expect(TENANT_MODELS.Client).toBe('id');
      // The anchors of the design: these must stay tenant models whatever else changes.
      for (const model of ['Contact', 'Cycle', 'CycleRequest', 'RequestItem', 'File', 'AuditEvent'])
        expect(TENANT_MODELS[model], model).toBe('clientId');
      for (const [model, key] of Object.entries(TENANT_MODELS)) {
        expect(Object.values(scalarFieldsOf(model)), model).toContain(key);
        if (model !== 'Client') expect(key, model).toBe('clientId');
      }
    });

    it('every operator-only model is refused through a scoped client, for every operation', () => {
      expect(OPERATOR_ONLY_MODELS.size).toBeGreaterThan(0);
      for (const model of OPERATOR_ONLY_MODELS) {
        for (const operation of [...READ_AND_WHERE_WRITE_OPERATIONS, 'upsert', 'create', 'createMany', 'createManyAndReturn']) {
          expect(() => scopeOperation(model, operation, { where: {}, data: {} }, ACME), `${model}.${operation}`).toThrow(/operator-only/);
        }
      }
    });

    it('every tenant model is confined by its key for reads and creates', () => {
      for (const [model, key] of Object.entries(TENANT_MODELS)) {
        expect(scopeOperation(model, 'findMany', {}, ACME), model).toEqual({ where: { AND: [{ [key]: ACME }] } });
        if (key === 'clientId') expect(scopeOperation(model, 'create', { data: {} }, ACME), model).toEqual({ data: { clientId: ACME } });
      }
    });

    const fields = (table: Record<string, readonly string[]>) => (model: string) => table[model] ?? [];
    const none = new Set<string>();

    it('makes a new model with a clientId a tenant model without any list entry', () => {
      const derived = deriveTenantModels(['Client', 'Invoice'], fields({ Client: ['id'], Invoice: ['id', 'clientId'] }), {
        firmWide: none,
        operatorOnly: none,
      });
      expect(derived).toEqual({ Client: 'id', Invoice: 'clientId' });
    });

    it('refuses to load (so the app refuses to boot) with a model that has no clientId and no declaration', () => {
      const attempt = () =>
        deriveTenantModels(['Client', 'Ledger'], fields({ Client: ['id'], Ledger: ['id', 'firmId'] }), {
          firmWide: none,
          operatorOnly: none,
        });
      expect(attempt).toThrow(/Prisma model Ledger has no clientId: give it clientId .* or declare it in FIRM_WIDE_MODELS/);
      // Declared, it loads: firm-wide passes through, operator-only is refused.
      for (const declared of [
        { firmWide: new Set(['Ledger']), operatorOnly: none },
        { firmWide: none, operatorOnly: new Set(['Ledger']) },
      ]) {
        expect(deriveTenantModels(['Client', 'Ledger'], fields({ Client: ['id'], Ledger: ['id'] }), declared)).toEqual({ Client: 'id' });
      }
    });

    it('refuses a stale or contradictory declaration: an unknown model, one declared twice, a firm-wide model with a clientId', () => {
      const table = fields({ Client: ['id'], Ledger: ['id'], Note: ['id', 'clientId'] });
      const models = ['Client', 'Ledger', 'Note'];
      expect(() => deriveTenantModels(models, table, { firmWide: new Set(['Ledger', 'Gone']), operatorOnly: none })).toThrow(
        /FIRM_WIDE_MODELS names Gone, which is not a Prisma model/,
      );
      expect(() => deriveTenantModels(models, table, { firmWide: new Set(['Ledger']), operatorOnly: new Set(['Ledger']) })).toThrow(
        /Ledger is declared both firm-wide and operator-only/,
      );
      expect(() => deriveTenantModels(models, table, { firmWide: new Set(['Ledger', 'Note']), operatorOnly: none })).toThrow(
        /Note is declared firm-wide but has a clientId/,
      );
      expect(() => deriveTenantModels(models, table, { firmWide: new Set(['Ledger', 'Client']), operatorOnly: none })).toThrow(
        /Client is the tenant directory/,
      );
    });
  });
});

describe('the tenant scope against PostgreSQL', () => {
  let testDb: TestDatabase & { owner: Database };
  let appDb: Database;
  let storageDir: string;
  let acmeCycleId: string;
  let borneoCycleId: string;

  beforeAll(async () => {
    testDb = await createMigratedDatabase('spade_test_scope');
    storageDir = await mkdtemp(path.join(os.tmpdir(), 'spade-scope-'));
    await seedDemo(testDb.owner.prisma, { storageDir });
    appDb = await openDatabase({ kind: 'postgres', url: testDb.appUrl, poolMax: 4 });
    const cycles = await testDb.owner.prisma.cycle.findMany({ select: { id: true, clientId: true } });
    acmeCycleId = cycles.find((cycle) => cycle.clientId === ACME)!.id;
    borneoCycleId = cycles.find((cycle) => cycle.clientId === BORNEO)!.id;
  });

  afterAll(async () => {
    await appDb?.close();
    await testDb?.drop();
    if (storageDir) await rm(storageDir, { recursive: true, force: true });
  });

  /** One Acme unit of work on the app role, always rolled back. */
  async function asAcme<T>(fn: (tx: ScopedTx) => Promise<T>): Promise<T> {
    const unit = await appDb.clientUnit(ACME);
    try {
      return await fn(unit.tx);
    } finally {
      await unit.rollback();
    }
  }

  it("finds nothing when an Acme unit of work looks up Borneo's cycle by id", async () => {
    await asAcme(async (tx) => {
      expect(await tx.cycle.findUnique({ where: { id: borneoCycleId } })).toBeNull();
      expect(await tx.cycle.findFirst({ where: { id: borneoCycleId } })).toBeNull();
      await expect(tx.cycle.findUniqueOrThrow({ where: { id: borneoCycleId } })).rejects.toThrow();
      // The control: its own cycle is found the same way.
      expect(await tx.cycle.findUnique({ where: { id: acmeCycleId } })).toMatchObject({ id: acmeCycleId, clientId: ACME });
    });
  });

  it("lists only Acme's rows in an Acme unit of work", async () => {
    await asAcme(async (tx) => {
      const cycles = await tx.cycle.findMany();
      expect(cycles.map((cycle) => cycle.clientId)).toEqual([ACME]);
      const contacts = await tx.contact.findMany();
      expect(contacts.length).toBeGreaterThan(0);
      expect(new Set(contacts.map((contact) => contact.clientId))).toEqual(new Set([ACME]));
      expect((await tx.client.findMany()).map((client) => client.id)).toEqual([ACME]);
      expect(await tx.file.count()).toBe(1);
    });
  });

  it('refuses to create a row for Borneo in an Acme unit of work', async () => {
    await asAcme(async (tx) => {
      await expect(tx.cycle.create({ data: { clientId: BORNEO, kind: 'tax', period: '2026', title: 'cross-tenant' } })).rejects.toThrow(
        TenantScopeViolation,
      );
    });
    expect(await testDb.owner.prisma.cycle.count({ where: { title: 'cross-tenant' } })).toBe(0);
  });

  it('creates an Acme row without naming the client: the scope injects it', async () => {
    await asAcme(async (tx) => {
      const created = await tx.cycle.create({ data: { kind: 'tax', period: '2026', title: 'injected' } as never });
      expect(created.clientId).toBe(ACME);
    });
  });

  it('refuses raw queries in a client unit of work', async () => {
    await asAcme(async (tx) => {
      await expect(tx.$queryRaw`SELECT id FROM cycles`).rejects.toThrow(TenantScopeViolation);
      await expect(tx.$executeRaw`UPDATE cycles SET title = 'raw'`).rejects.toThrow(TenantScopeViolation);
      await expect(tx.$queryRawUnsafe('SELECT id FROM cycles')).rejects.toThrow(TenantScopeViolation);
    });
  });

  it("lets the audit INSERT through only for Acme's own rows, and on the owner's connection stops a row for Borneo by itself", async () => {
    const row = (clientId: string | null): AuditRowValues => ({
      eventType: 'cycle.read',
      actorType: 'system',
      actorId: null,
      clientId,
      entityType: 'cycle',
      entityId: 'x',
      requestId: `scope-test-${clientId}`,
      eventDataJson: { via: 'insertAuditRows' },
    });
    await asAcme(async (tx) => {
      await insertAuditRows(tx, [row(ACME), row(ACME)]);
      expect(await tx.auditEvent.count({ where: { requestId: `scope-test-${ACME}` } })).toBe(2);
      await expect(insertAuditRows(tx, [row(ACME), row(BORNEO)])).rejects.toThrow(TenantScopeViolation);
      await expect(insertAuditRows(tx, [row(null)])).rejects.toThrow(TenantScopeViolation);
      // The exception is that one statement: other raw SQL is still refused.
      await expect(tx.$executeRawUnsafe("UPDATE cycles SET title = 'raw'")).rejects.toThrow(TenantScopeViolation);
    });
    // Layer 3 alone: the owner (superuser) bypasses RLS, the extension still refuses Borneo's row.
    const scoped = testDb.owner.prisma.$extends(withTenantScope(ACME));
    await expect(scoped.$transaction((tx) => insertAuditRows(tx as never, [row(BORNEO)]))).rejects.toThrow(TenantScopeViolation);
    expect(await testDb.owner.prisma.auditEvent.count({ where: { requestId: `scope-test-${BORNEO}` } })).toBe(0);
  });

  it("does not update Borneo's cycle from an Acme unit of work", async () => {
    await asAcme(async (tx) => {
      const result = await tx.cycle.updateMany({ where: { id: borneoCycleId }, data: { title: 'hijacked' } });
      expect(result.count).toBe(0);
    });
    expect(await testDb.owner.prisma.cycle.count({ where: { title: 'hijacked' } })).toBe(0);
  });

  it("stops the cross-tenant lookup by itself, on the owner's connection where RLS does not apply", async () => {
    // The owner is a superuser: RLS is bypassed, so only layer 3 stands between Acme and Borneo.
    const owner = testDb.owner.prisma;
    expect(await owner.cycle.findUnique({ where: { id: borneoCycleId } })).toMatchObject({ clientId: BORNEO });

    const scoped = owner.$extends(withTenantScope(ACME));
    expect(await scoped.cycle.findUnique({ where: { id: borneoCycleId } })).toBeNull();
    expect(await scoped.client.findUnique({ where: { id: BORNEO } })).toBeNull();
    expect((await scoped.cycle.findMany()).map((cycle) => cycle.clientId)).toEqual([ACME]);
    expect(await scoped.auditEvent.count({ where: { clientId: BORNEO } })).toBe(0);
  });

  it('the tenant models are exactly the models whose table has a client_id, each mapping clientId to it (Client: clients, by id)', async () => {
    const schema = await readPrismaSchema();
    const tenantTables = await testDb.owner.withSql(readTenantTables);
    const withClientId = new Set(Object.keys(tenantTables).filter((table) => tenantTables[table] === 'client_id'));
    expect(withClientId.size).toBeGreaterThan(5);
    const byName = new Map(schema.map((model) => [model.name, model]));
    for (const model of schema) {
      // Any model on a table with a client_id is a tenant model: none of them may pass unscoped or be left out.
      if (withClientId.has(model.table)) expect(TENANT_MODELS[model.name], `${model.name} (${model.table})`).toBe('clientId');
    }
    for (const [name, key] of Object.entries(TENANT_MODELS)) {
      const model = byName.get(name);
      expect(model, name).toBeDefined();
      const field = model?.fields.find((f) => f.name === key);
      if (name === 'Client') {
        expect(model?.table).toBe('clients');
        expect(field).toMatchObject({ column: 'id', id: true });
      } else {
        // clientId is the tenant column itself, not another column that happens to name a client.
        expect(field?.column, `${name}.clientId`).toBe('client_id');
        expect(withClientId.has(model?.table ?? ''), `${name} (${model?.table})`).toBe(true);
      }
    }
  });

  /*
   * Firm-wide models pass through the extension unchanged, so none of them may have a
   * relation that leads anywhere but another firm-wide model: an include or nested write
   * through it would reach every client's rows (StaffUser.assignments once did; the
   * relation was removed), or the operator-only rows the scope refuses.
   */
  it('no firm-wide model has a relation to a tenant or operator-only model (an include through it would escape the scope)', async () => {
    const schema = await readPrismaSchema();
    const names = new Set(schema.map((model) => model.name));
    expect(schema.length).toBeGreaterThan(5);
    for (const firmWide of FIRM_WIDE_MODELS) {
      const model = schema.find((m) => m.name === firmWide);
      expect(model, firmWide).toBeDefined();
      const related = (model?.fields ?? []).map((field) => field.type).filter((type) => names.has(type));
      for (const target of related) expect(FIRM_WIDE_MODELS.has(target), `${firmWide} → ${target}`).toBe(true);
    }
    // The check can fail: Client relates to its tenant models.
    const client = schema.find((m) => m.name === 'Client');
    expect(client?.fields.some((field) => Object.hasOwn(TENANT_MODELS, field.type) && field.type !== 'Client')).toBe(true);
  });
});
