import { type Static, Type } from 'typebox';
import { type ItemRow, ItemView, itemView } from '../requests/schema.ts';
import { checked, DateOnly, ErrorBody, RequestStatus, Timestamp, Uuid } from '../schemas.ts';

/** The contact's portal: params, bodies and views (shared ones come from their resource's schema module). */

export const PortalItemParams = Type.Object({ clientId: Uuid, itemId: Uuid }, { additionalProperties: false });
/** Any string up to the URL limit: a malformed token must get the same 401 as an unknown one, not a 400. */
const LinkToken = Type.String({ minLength: 1, maxLength: 200 });
export const TokenParams = Type.Object({ token: LinkToken }, { additionalProperties: false });
export const TokenBody = Type.Object({ token: LinkToken }, { additionalProperties: false });
export const NewLinkBody = Type.Object({ email: Type.String({ minLength: 1, maxLength: 320 }) }, { additionalProperties: false });

/** The public routes' errors: no 403/404/409 (nothing is looked up that could be refused or missing). */
export const publicErrors = { 400: ErrorBody, 401: ErrorBody, 429: ErrorBody, 500: ErrorBody, 503: ErrorBody } as const;

export const LinkCheck = Type.Object(
  {
    valid: Type.Literal(true),
    expiresAt: Timestamp,
    firmName: Type.String(),
    clientName: Type.String(),
    cycleTitle: Type.String(),
    dueDate: Type.Union([DateOnly, Type.Null()]),
  },
  { additionalProperties: false },
);

export const PortalSession = Type.Object(
  {
    clientId: Uuid,
    requestId: Uuid,
    contactId: Uuid,
    sessionToken: Type.String(),
    csrfToken: Type.String(),
    expiresAt: Timestamp,
  },
  { additionalProperties: false },
);

export const NewLinkAccepted = Type.Object({ ok: Type.Literal(true), message: Type.String() }, { additionalProperties: false });

/** The contact sees their checklist and the outcome of each review, not which staff member reviewed it. */
const PortalItemView = Type.Omit(ItemView, ['reviewedBy']);
export const PortalRequestView = Type.Object(
  {
    id: Uuid,
    clientId: Uuid,
    cycleId: Uuid,
    status: RequestStatus,
    message: Type.Union([Type.String(), Type.Null()]),
    expiresAt: Timestamp,
    firmName: Type.String(),
    clientName: Type.String(),
    cycleTitle: Type.String(),
    dueDate: Type.Union([DateOnly, Type.Null()]),
    items: Type.Array(PortalItemView),
  },
  { additionalProperties: false },
);

export const portalItemView = (item: ItemRow) => {
  const { reviewedBy: _staffOnly, ...view } = itemView(item);
  return view;
};

/** The request's own status, as its CHECK constraint allows. */
export const requestStatus = (status: string) => checked<Static<typeof RequestStatus>>(status);

/**
 * The client's own access log: who at the firm downloaded each of the contact's files, and
 * when. Staff names and times only — no staff ids, no request ids, nothing of another file.
 */
const StaffAccess = Type.Object(
  { staffName: Type.String(), action: Type.Literal('downloaded'), at: Timestamp },
  { additionalProperties: false },
);
export const AccessLog = Type.Object(
  {
    files: Type.Array(
      Type.Object(
        { fileId: Uuid, filename: Type.String(), uploadedAt: Timestamp, accesses: Type.Array(StaffAccess) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
