import type { Prisma } from '@breezycorp/db';
import { type Static, Type } from 'typebox';
import { ClientStatus, checked, columnsOf, iso, NonBlank, NullableString, Timestamp, Uuid } from '../schemas.ts';

/** Clients: bodies, the view and its mapper. */

const Name = NonBlank(200);
const Uen = Type.String({ pattern: '^[0-9A-Z]{9,10}$' });

export const ClientView = Type.Object(
  { id: Uuid, name: Type.String(), uen: NullableString, status: ClientStatus, createdAt: Timestamp },
  { additionalProperties: false },
);

/** Every column ClientView shows. */
export const CLIENT_COLUMNS = columnsOf(ClientView) satisfies Prisma.ClientSelect;
type ClientRow = Prisma.ClientGetPayload<{ select: typeof CLIENT_COLUMNS }>;

export function clientView(client: ClientRow) {
  return {
    id: client.id,
    name: client.name,
    uen: client.uen,
    status: checked<Static<typeof ClientStatus>>(client.status),
    createdAt: iso(client.createdAt),
  };
}

export const CreateClientBody = Type.Object({ name: Name, uen: Type.Optional(Uen) }, { additionalProperties: false });
export const UpdateClientBody = Type.Object(
  { name: Type.Optional(Name), uen: Type.Optional(Uen), status: Type.Optional(ClientStatus) },
  { additionalProperties: false },
);
