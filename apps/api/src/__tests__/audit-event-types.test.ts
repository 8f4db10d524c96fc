import { describe, expect, it } from 'vitest';
import { AUDIT_EVENT_TYPES, type AuditEventType } from '../services/audit-log.ts';

/*
 * The audit vocabulary is closed: the central list plus what each resource declares beside its
 * routes (ResourceAuditEvents, by module augmentation). `pnpm typecheck` proves the type stays
 * closed: were it widened to any string, the @ts-expect-error below would itself be an error.
 */
describe('audit event types', () => {
  it('admits the declared event types and refuses, at compile time, one nobody declared', () => {
    const declared: AuditEventType = 'cycle.created';
    // @ts-expect-error a misspelt event type is not an AuditEventType
    const misspelt: AuditEventType = 'cycle.creatd';
    expect(AUDIT_EVENT_TYPES).toContain(declared);
    expect(AUDIT_EVENT_TYPES).not.toContain(misspelt);
    expect(new Set(AUDIT_EVENT_TYPES).size).toBe(AUDIT_EVENT_TYPES.length);
  });
});
