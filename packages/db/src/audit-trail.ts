import type { SqlExecutor } from './sql-executor.ts';

/**
 * The tamper-evident audit trail (migration 0009). A seal appends every audit row not sealed
 * yet as an entry (its position is the chain's monotonic id, its sha256 the row's canonical
 * hash) and writes a digest chaining the entries' sha256 to the previous digest's hash.
 * Verification recomputes all of it from the rows and names the first thing that differs.
 */

/** A row committed later than this after it occurred is outside the seal's look-back (see 0009). */
export const SEAL_LOOKBACK = '15 minutes';
const SEAL_LOOKBACK_MS = 15 * 60_000;
export const GENESIS_HASH = '0'.repeat(64);

export interface Digest {
  seq: number;
  sealedAt: Date;
  sealedBy: string;
  firstPosition: number;
  lastPosition: number;
  rowCount: number;
  entriesSha256: string;
  prevHash: string;
  hash: string;
}

export interface SealResult {
  seq: number;
  rowCount: number;
  firstPosition: number;
  lastPosition: number;
  hash: string;
  sealedAt: Date;
}

/** Seals every unsealed audit row into one digest; null when there was nothing to seal. */
export async function sealAudit(sql: SqlExecutor, sealedBy: string): Promise<SealResult | null> {
  const rows = await sql.query<{
    seq: string;
    row_count: number;
    first_position: string;
    last_position: string;
    hash: string;
    sealed_at: Date;
  }>('SELECT seq, row_count, first_position, last_position, hash, sealed_at FROM spade_seal_audit($1, $2::interval)', [
    sealedBy,
    SEAL_LOOKBACK,
  ]);
  const row = rows[0];
  if (!row) return null;
  return {
    seq: Number(row.seq),
    rowCount: row.row_count,
    firstPosition: Number(row.first_position),
    lastPosition: Number(row.last_position),
    hash: row.hash,
    sealedAt: row.sealed_at,
  };
}

export type ProblemKind =
  | 'digest_missing'
  | 'digest_chain_broken'
  | 'digest_altered'
  | 'digest_entries_altered'
  | 'digest_rewritten'
  | 'row_edited'
  | 'row_deleted'
  | 'row_inserted_out_of_order';

export interface Problem {
  kind: ProblemKind;
  digestSeq: number | null;
  position: number | null;
  auditEventId: string | null;
  detail: string;
}

export interface VerifyOptions {
  /** Verify digests sealed at or after this time (and their link to the one before). */
  since?: Date;
  /** Only these digests (evidence: the digests that cover a request's rows). */
  fromSeq?: number;
  toSeq?: number;
  /** Digests exported earlier (`spade audit export-digests`): the database's must still match them. */
  exported?: Pick<Digest, 'seq' | 'hash'>[];
}

export interface VerifyReport {
  ok: boolean;
  digests: number;
  rows: number;
  /** Rows sealed by no digest yet (recent, awaiting the next seal). */
  unsealed: number;
  problems: Problem[];
  elapsedMs: number;
  rowsPerSecond: number;
}

type DigestRow = {
  seq: string;
  sealed_at: Date;
  sealed_by: string;
  first_position: string;
  last_position: string;
  row_count: number;
  entries_sha256: string;
  prev_hash: string;
  hash: string;
  recomputed: string;
};

function toDigest(row: DigestRow): Digest {
  return {
    seq: Number(row.seq),
    sealedAt: row.sealed_at,
    sealedBy: row.sealed_by,
    firstPosition: Number(row.first_position),
    lastPosition: Number(row.last_position),
    rowCount: row.row_count,
    entriesSha256: row.entries_sha256,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

const DIGEST_COLUMNS = `seq, sealed_at, sealed_by, first_position, last_position, row_count, entries_sha256, prev_hash, hash,
  spade_audit_digest_hash(seq, prev_hash, sealed_at, sealed_by, first_position, last_position, row_count, entries_sha256) AS recomputed`;

export async function listDigests(sql: SqlExecutor, options: { fromSeq?: number; toSeq?: number } = {}): Promise<Digest[]> {
  const rows = await sql.query<DigestRow>(`SELECT ${DIGEST_COLUMNS} FROM audit_digests WHERE seq >= $1 AND seq <= $2 ORDER BY seq`, [
    options.fromSeq ?? 1,
    options.toSeq ?? Number.MAX_SAFE_INTEGER,
  ]);
  return rows.map(toDigest);
}

/** The digests whose entries cover these audit event ids. */
export async function digestsCovering(
  sql: SqlExecutor,
  auditEventIds: readonly string[],
): Promise<{ digests: Digest[]; unsealed: string[] }> {
  if (auditEventIds.length === 0) return { digests: [], unsealed: [] };
  const entries = await sql.query<{ audit_event_id: string; digest_seq: string }>(
    'SELECT audit_event_id::text, digest_seq FROM audit_digest_entries WHERE audit_event_id = ANY($1::uuid[])',
    [auditEventIds],
  );
  const covered = new Set(entries.map((e) => e.audit_event_id));
  const seqs = [...new Set(entries.map((e) => Number(e.digest_seq)))].sort((a, b) => a - b);
  const digests = seqs.length === 0 ? [] : await listDigests(sql, { fromSeq: seqs[0], toSeq: seqs.at(-1) });
  return { digests: digests.filter((d) => seqs.includes(d.seq)), unsealed: auditEventIds.filter((id) => !covered.has(id)) };
}

/**
 * Recomputes the chain: each digest's link to the previous one and its own hash, the sha256 of
 * its entries, and every entry against the row it names (edited, deleted). Rows that occurred
 * before a seal but were sealed much later, or never, were inserted out of order (backdated).
 */
export async function verifyAuditTrail(sql: SqlExecutor, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = performance.now();
  const problems: Problem[] = [];
  let fromSeq = options.fromSeq ?? 1;
  if (options.since) {
    const [first] = await sql.query<{ seq: string | null }>('SELECT min(seq) AS seq FROM audit_digests WHERE sealed_at >= $1', [
      options.since,
    ]);
    fromSeq = first?.seq === null || first?.seq === undefined ? Number.MAX_SAFE_INTEGER : Number(first.seq);
  }
  const toSeq = options.toSeq ?? Number.MAX_SAFE_INTEGER;
  const rows = await sql.query<DigestRow>(`SELECT ${DIGEST_COLUMNS} FROM audit_digests WHERE seq >= $1 AND seq <= $2 ORDER BY seq`, [
    Math.max(1, fromSeq - 1),
    toSeq,
  ]);
  const all = rows.map((row) => ({ digest: toDigest(row), recomputed: row.recomputed }));
  const previous = all[0] && all[0].digest.seq < fromSeq ? all.shift() : undefined;
  if (fromSeq > 1 && fromSeq !== Number.MAX_SAFE_INTEGER && !previous && all.length > 0) {
    problems.push({
      kind: 'digest_missing',
      digestSeq: fromSeq - 1,
      position: null,
      auditEventId: null,
      detail: `digest ${fromSeq - 1}, which digest ${fromSeq} chains to, is missing`,
    });
  }

  const aggregates = new Map<number, { count: number; min: number; max: number; sha: string }>();
  if (all.length > 0) {
    const agg = await sql.query<{ digest_seq: string; n: number; min: string; max: string; sha: string }>(
      `SELECT digest_seq, count(*)::int AS n, min(position) AS min, max(position) AS max,
              encode(sha256(string_agg(row_hash, ''::bytea ORDER BY position)), 'hex') AS sha
       FROM audit_digest_entries WHERE digest_seq >= $1 AND digest_seq <= $2 GROUP BY digest_seq`,
      [all[0]!.digest.seq, all.at(-1)!.digest.seq],
    );
    for (const a of agg) aggregates.set(Number(a.digest_seq), { count: a.n, min: Number(a.min), max: Number(a.max), sha: a.sha });
  }

  const exported = new Map((options.exported ?? []).map((d) => [d.seq, d.hash]));
  let prev = previous?.digest ?? null;
  let rowCount = 0;
  for (const { digest, recomputed } of all) {
    const at = { digestSeq: digest.seq, position: null, auditEventId: null };
    if (prev && digest.seq !== prev.seq + 1) {
      problems.push({ ...at, kind: 'digest_missing', detail: `digests ${prev.seq + 1}…${digest.seq - 1} are missing` });
    }
    const expectedPrev = prev ? prev.hash : digest.seq === 1 ? GENESIS_HASH : null;
    if (expectedPrev !== null && digest.prevHash !== expectedPrev) {
      problems.push({
        ...at,
        kind: 'digest_chain_broken',
        detail: `digest ${digest.seq} does not chain to digest ${digest.seq - 1}'s hash`,
      });
    }
    if (prev && digest.firstPosition !== prev.lastPosition + 1) {
      problems.push({
        ...at,
        kind: 'digest_chain_broken',
        detail: `digest ${digest.seq} starts at position ${digest.firstPosition}, expected ${prev.lastPosition + 1}`,
      });
    }
    if (recomputed !== digest.hash) {
      problems.push({ ...at, kind: 'digest_altered', detail: `digest ${digest.seq}'s fields no longer hash to its stored hash` });
    }
    const exportedHash = exported.get(digest.seq);
    if (exportedHash !== undefined && exportedHash !== digest.hash) {
      problems.push({ ...at, kind: 'digest_rewritten', detail: `digest ${digest.seq} differs from the exported copy` });
    }
    const entries = aggregates.get(digest.seq);
    if (
      !entries ||
      entries.sha !== digest.entriesSha256 ||
      entries.count !== digest.rowCount ||
      entries.min !== digest.firstPosition ||
      entries.max !== digest.lastPosition
    ) {
      problems.push({
        ...at,
        kind: 'digest_entries_altered',
        detail: `digest ${digest.seq}'s entries (positions ${digest.firstPosition}…${digest.lastPosition}) no longer match its entries_sha256 or count`,
      });
    }
    rowCount += digest.rowCount;
    prev = digest;
  }

  if (all.length > 0) {
    const first = all[0]!.digest.firstPosition;
    const last = all.at(-1)!.digest.lastPosition;
    const bad = await sql.query<{ position: string; digest_seq: string; audit_event_id: string; missing: boolean }>(
      `SELECT e.position, e.digest_seq, e.audit_event_id::text, a.id IS NULL AS missing
       FROM audit_digest_entries e
       LEFT JOIN audit_events a ON a.id = e.audit_event_id
       WHERE e.position BETWEEN $1 AND $2 AND (a.id IS NULL OR spade_audit_row_hash(a) <> e.row_hash)
       ORDER BY e.position LIMIT 100`,
      [first, last],
    );
    for (const row of bad) {
      problems.push({
        kind: row.missing ? 'row_deleted' : 'row_edited',
        digestSeq: Number(row.digest_seq),
        position: Number(row.position),
        auditEventId: row.audit_event_id,
        detail: row.missing
          ? `audit row ${row.audit_event_id} (position ${row.position}) was deleted`
          : `audit row ${row.audit_event_id} (position ${row.position}) was edited after it was sealed`,
      });
    }
    // Sealed, but occurred well before the previous seal: written (backdated) after that seal.
    const late = await sql.query<{ position: string; digest_seq: string; audit_event_id: string }>(
      `SELECT e.position, e.digest_seq, e.audit_event_id::text
       FROM audit_digest_entries e
       JOIN audit_events a ON a.id = e.audit_event_id
       JOIN audit_digests p ON p.seq = e.digest_seq - 1
       WHERE e.position BETWEEN $1 AND $2 AND a.occurred_at < p.sealed_at - $3::interval
       ORDER BY e.position LIMIT 100`,
      [first, last, SEAL_LOOKBACK],
    );
    for (const row of late) {
      problems.push({
        kind: 'row_inserted_out_of_order',
        digestSeq: Number(row.digest_seq),
        position: Number(row.position),
        auditEventId: row.audit_event_id,
        detail: `audit row ${row.audit_event_id} (position ${row.position}) claims a time before digest ${Number(row.digest_seq) - 1} was sealed, but was sealed only by digest ${row.digest_seq}`,
      });
    }
  }

  // Rows in no digest: recent ones await the next seal; older ones were inserted after their time was sealed.
  const [latest] = await sql.query<{ sealed_at: Date | null }>('SELECT max(sealed_at) AS sealed_at FROM audit_digests');
  const horizon = latest?.sealed_at ? new Date(latest.sealed_at.getTime() - SEAL_LOOKBACK_MS) : null;
  const [unsealed] = await sql.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM audit_events a WHERE NOT EXISTS (SELECT 1 FROM audit_digest_entries e WHERE e.audit_event_id = a.id)',
  );
  if (horizon && options.toSeq === undefined) {
    const orphans = await sql.query<{ id: string; occurred_at: Date }>(
      `SELECT a.id::text, a.occurred_at FROM audit_events a
       WHERE a.occurred_at < $1 AND NOT EXISTS (SELECT 1 FROM audit_digest_entries e WHERE e.audit_event_id = a.id)
       ORDER BY a.occurred_at LIMIT 100`,
      [horizon],
    );
    for (const row of orphans) {
      problems.push({
        kind: 'row_inserted_out_of_order',
        digestSeq: null,
        position: null,
        auditEventId: row.id,
        detail: `audit row ${row.id} claims ${row.occurred_at.toISOString()}, before the latest seal, but no digest covers it`,
      });
    }
  }

  problems.sort(
    (a, b) =>
      (a.digestSeq ?? Number.MAX_SAFE_INTEGER) - (b.digestSeq ?? Number.MAX_SAFE_INTEGER) || (a.position ?? -1) - (b.position ?? -1),
  );
  const elapsedMs = performance.now() - started;
  return {
    ok: problems.length === 0,
    digests: all.length,
    rows: rowCount,
    unsealed: unsealed?.n ?? 0,
    problems,
    elapsedMs,
    rowsPerSecond: elapsedMs > 0 ? Math.round((rowCount / elapsedMs) * 1000) : 0,
  };
}

/** One JSON line per digest: a copy of the chain to keep outside the database. */
export function digestsToJsonLines(digests: readonly Digest[]): string {
  return digests.map((d) => JSON.stringify({ ...d, sealedAt: d.sealedAt.toISOString() })).join('\n') + (digests.length ? '\n' : '');
}

export function digestsFromJsonLines(text: string): Pick<Digest, 'seq' | 'hash'>[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const parsed = JSON.parse(line) as { seq?: unknown; hash?: unknown };
      if (typeof parsed.seq !== 'number' || typeof parsed.hash !== 'string') throw new Error('not a digest export line');
      return { seq: parsed.seq, hash: parsed.hash };
    });
}
