import { Type } from 'typebox';
import { StaffRole, Timestamp, Uuid } from '../schemas.ts';

/** Staff sign-in and the TOTP second factor: bodies and views. */

export const StaffUser = Type.Object(
  { id: Uuid, email: Type.String(), name: Type.String(), role: StaffRole },
  { additionalProperties: false },
);

export const LoginBody = Type.Object(
  { email: Type.String({ format: 'email', maxLength: 254 }), password: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

export const StaffSession = Type.Object(
  {
    token: Type.String(),
    csrfToken: Type.String(),
    expiresAt: Timestamp,
    staffUser: StaffUser,
    // Present when the session is not usable yet: give a code (POST
    // /api/auth/second-factor/verify) or enrol one (…/enrol, …/confirm) first.
    secondFactor: Type.Optional(Type.Union([Type.Literal('required'), Type.Literal('enrol')])),
  },
  { additionalProperties: false },
);

// csrfToken: the console reloads with only its HttpOnly cookie and needs the header value for writes.
export const Me = Type.Object(
  { staffUser: StaffUser, clientIds: Type.Array(Uuid), csrfToken: Type.String() },
  { additionalProperties: false },
);

const Code = Type.String({ pattern: '^[0-9]{6}$' });
const RecoveryCode = Type.String({ pattern: '^[A-Za-z0-9-]{10,24}$' });

export const Enrolment = Type.Object(
  { otpauthUri: Type.String(), qrCodeDataUrl: Type.String(), secret: Type.String() },
  { additionalProperties: false },
);
export const ConfirmBody = Type.Object({ code: Code }, { additionalProperties: false });
export const RecoveryCodes = Type.Object({ recoveryCodes: Type.Array(Type.String()) }, { additionalProperties: false });
export const VerifyBody = Type.Union([
  Type.Object({ code: Code }, { additionalProperties: false }),
  Type.Object({ recoveryCode: RecoveryCode }, { additionalProperties: false }),
]);
