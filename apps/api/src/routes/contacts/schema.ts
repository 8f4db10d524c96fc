import type { Prisma } from '@breezycorp/db';
import { Type } from 'typebox';
import { columnsOf, iso, NonBlank, NullableString, Timestamp, Uuid } from '../schemas.ts';

/** A client's contacts: params, bodies, the view and its mapper. */

const Name = NonBlank(200);
const Email = Type.String({ format: 'email', maxLength: 254 });
const Phone = Type.String({ minLength: 1, maxLength: 40, pattern: '^[0-9+()\\-. ]+$' });

export const ContactParams = Type.Object({ clientId: Uuid, contactId: Uuid }, { additionalProperties: false });

export const ContactView = Type.Object(
  {
    id: Uuid,
    clientId: Uuid,
    name: Type.String(),
    email: Type.String(),
    phone: NullableString,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { additionalProperties: false },
);

/** Every column ContactView shows. */
export const CONTACT_COLUMNS = columnsOf(ContactView) satisfies Prisma.ContactSelect;
type ContactRow = Prisma.ContactGetPayload<{ select: typeof CONTACT_COLUMNS }>;

export function contactView(c: ContactRow) {
  return {
    id: c.id,
    clientId: c.clientId,
    name: c.name,
    email: c.email,
    phone: c.phone,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
  };
}

export const CreateContactBody = Type.Object({ name: Name, email: Email, phone: Type.Optional(Phone) }, { additionalProperties: false });
export const UpdateContactBody = Type.Object(
  { name: Type.Optional(Name), email: Type.Optional(Email), phone: Type.Optional(Type.Union([Phone, Type.Null()])) },
  { additionalProperties: false, minProperties: 1 },
);
