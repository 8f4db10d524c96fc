import type { Prisma } from '@breezycorp/db';
import { type Static, Type } from 'typebox';
import type { BulkResult } from '../../services/bulk-requests.ts';
import { CycleKind, checked, DateOnly, iso, NullableTimestamp, Timestamp, Uuid } from '../schemas.ts';

/** Bulk sends: the body, the job's view and its mapper. */

/** bulk_jobs.status's CHECK constraint. */
const BulkJobStatus = Type.Union([Type.Literal('running'), Type.Literal('finished'), Type.Literal('failed')]);

export const JobParams = Type.Object({ jobId: Uuid }, { additionalProperties: false });
export const JobStarted = Type.Object({ jobId: Uuid, total: Type.Integer() }, { additionalProperties: false });

export const StartBody = Type.Object(
  {
    templateId: Uuid,
    clientIds: Type.Optional(Type.Array(Uuid, { minItems: 1, maxItems: 2_000, uniqueItems: true })),
    allMyClients: Type.Optional(Type.Literal(true)),
    cycle: Type.Object(
      {
        kind: CycleKind,
        period: Type.String({ minLength: 1, maxLength: 40 }),
        title: Type.String({ minLength: 1, maxLength: 200 }),
        dueDate: Type.Optional(DateOnly),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export const JobView = Type.Object(
  {
    id: Uuid,
    status: BulkJobStatus,
    total: Type.Integer(),
    done: Type.Integer(),
    failed: Type.Integer(),
    createdAt: Timestamp,
    finishedAt: NullableTimestamp,
    results: Type.Union([
      Type.Array(
        Type.Object(
          {
            clientId: Uuid,
            outcome: Type.Union([Type.Literal('created'), Type.Literal('failed')]),
            requestId: Type.Optional(Uuid),
            error: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
      ),
      Type.Null(),
    ]),
  },
  { additionalProperties: false },
);

/** Every column JobView shows (the results are given separately: filtered to what the reader may see). */
export const JOB_COLUMNS = {
  id: true,
  status: true,
  total: true,
  done: true,
  failed: true,
  createdAt: true,
  finishedAt: true,
} as const satisfies Prisma.BulkJobSelect;
type JobRow = Prisma.BulkJobGetPayload<{ select: typeof JOB_COLUMNS }>;

export function jobView(job: JobRow, results: BulkResult[] | null) {
  return {
    id: job.id,
    status: checked<Static<typeof BulkJobStatus>>(job.status),
    total: job.total,
    done: job.done,
    failed: job.failed,
    createdAt: iso(job.createdAt),
    finishedAt: iso(job.finishedAt),
    results,
  };
}
