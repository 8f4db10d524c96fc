import type { Prisma } from '@breezycorp/db';
import { type Static, Type } from 'typebox';
import { checked, iso, NonBlank, NullableTimestamp, StaffRole, Timestamp, Uuid } from '../schemas.ts';

/** Firm administration: staff users, assignments, sessions, firm settings. */

export const StaffUserParams = Type.Object({ staffUserId: Uuid }, { additionalProperties: false });
export const AssignmentParams = Type.Object({ staffUserId: Uuid, clientId: Uuid }, { additionalProperties: false });

/** The whitelist of a staff user: never password_hash, never session tokens. */
export const StaffUserView = Type.Object(
  { id: Uuid, email: Type.String(), name: Type.String(), role: StaffRole, disabledAt: NullableTimestamp, createdAt: Timestamp },
  { additionalProperties: false },
);
/** Selected explicitly, so the hash is never even loaded into the handler. */
export const STAFF_USER_FIELDS = {
  id: true,
  email: true,
  name: true,
  role: true,
  disabledAt: true,
  createdAt: true,
} as const satisfies Prisma.StaffUserSelect;
type StaffUserRow = Prisma.StaffUserGetPayload<{ select: typeof STAFF_USER_FIELDS }>;

export function staffUserView(user: StaffUserRow) {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: checked<Static<typeof StaffRole>>(user.role),
    disabledAt: iso(user.disabledAt),
    createdAt: iso(user.createdAt),
  };
}

export const AssignmentView = Type.Object(
  { id: Uuid, clientId: Uuid, clientName: Type.String(), staffUserId: Uuid, createdAt: Timestamp },
  { additionalProperties: false },
);

export function assignmentView(row: { id: string; clientId: string; staffUserId: string; createdAt: Date }, clientName: string) {
  return { id: row.id, clientId: row.clientId, clientName, staffUserId: row.staffUserId, createdAt: iso(row.createdAt) };
}

export const CreateStaffUserBody = Type.Object(
  {
    email: Type.String({ format: 'email', maxLength: 254 }),
    name: NonBlank(200),
    role: StaffRole,
    password: Type.String({ minLength: 12, maxLength: 200 }),
  },
  { additionalProperties: false },
);

export const CreateAssignmentBody = Type.Object({ clientId: Uuid }, { additionalProperties: false });

/** resetSecondFactor=true also removes the user's TOTP enrolment (a lost or stolen phone). */
export const RevokeSessionsQuery = Type.Object({ resetSecondFactor: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
export const RevokedSessions = Type.Object(
  { revoked: Type.Integer({ minimum: 0 }), secondFactorReset: Type.Boolean() },
  { additionalProperties: false },
);

export const FirmSettings = Type.Object({ requireStaffSecondFactor: Type.Boolean() }, { additionalProperties: false });
