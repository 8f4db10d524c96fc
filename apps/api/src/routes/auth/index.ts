import { hashPassword, hashToken, newToken, verifyPassword } from '@breezycorp/db';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config.ts';
import { AppError } from '../../errors.ts';
import { csrfTokenFor, STAFF_COOKIE } from '../../plugins/auth.ts';
import { firmDb } from '../../plugins/unit-of-work.ts';
import { staffActor } from '../../tenancy/actors.ts';
import { errors, Ok, Timestamp, Uuid } from '../schemas.ts';

const StaffUser = Type.Object(
  { id: Uuid, email: Type.String(), name: Type.String(), role: Type.Union([Type.Literal('admin'), Type.Literal('staff')]) },
  { additionalProperties: false },
);

const LoginBody = Type.Object(
  { email: Type.String({ format: 'email', maxLength: 254 }), password: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

/** Compared against when the email is unknown, so both failures take the same time. */
const DUMMY_HASH = await hashPassword('spade-timing-equaliser');

const auth: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, { config }) => {
  app.post(
    '/api/auth/login',
    {
      config: {
        routeScope: 'public',
        rateLimit: { max: config.rateLimit.loginPerMinute, timeWindow: '1 minute' },
      },
      schema: {
        body: LoginBody,
        response: {
          200: Type.Object(
            { token: Type.String(), csrfToken: Type.String(), expiresAt: Timestamp, staffUser: StaffUser },
            { additionalProperties: false },
          ),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const db = firmDb(request);
      const email = request.body.email.trim().toLowerCase();
      const user = await db.staffUser.findFirst({ where: { email: { equals: email, mode: 'insensitive' }, disabledAt: null } });
      const passwordOk = await verifyPassword(request.body.password, user?.passwordHash ?? DUMMY_HASH);
      if (!user || !passwordOk) {
        await request.auditFirmWide({
          eventType: 'auth.login_failed',
          entityType: 'staff_user',
          entityId: user?.id ?? null,
          data: { reason: user ? 'wrong_password' : 'unknown_email', ip: request.ip },
        });
        throw new AppError('unauthenticated', 'Invalid email or password');
      }
      const token = newToken('staff');
      const expiresAt = new Date(Date.now() + config.staffSessionTtlMs);
      const session = await db.staffSession.create({ data: { staffUserId: user.id, tokenHash: hashToken(token), expiresAt } });
      request.actor = {
        kind: 'staff',
        staffUserId: user.id,
        role: user.role === 'admin' ? 'admin' : 'staff',
        sessionId: session.id,
        clientIds: [],
        viaCookie: false,
        csrfToken: csrfTokenFor(token),
      };
      await request.audit({ eventType: 'auth.login', entityType: 'staff_session', entityId: session.id, clientId: null });
      reply.setCookie(STAFF_COOKIE, token, {
        httpOnly: true,
        sameSite: 'strict',
        secure: config.cookieSecure,
        path: '/',
        expires: expiresAt,
      });
      return {
        token,
        csrfToken: csrfTokenFor(token),
        expiresAt: expiresAt.toISOString(),
        staffUser: {
          id: user.id,
          email: user.email,
          name: user.name,
          role: user.role === 'admin' ? ('admin' as const) : ('staff' as const),
        },
      };
    },
  );

  app.post(
    '/api/auth/logout',
    { config: { routeScope: 'staff-only' }, schema: { response: { 200: Ok, ...errors } } },
    async (request, reply) => {
      const actor = staffActor(request);
      await firmDb(request).staffSession.update({
        where: { id: actor.sessionId },
        data: { revokedAt: new Date(), revokedReason: 'logout' },
      });
      await request.audit({ eventType: 'auth.logout', entityType: 'staff_session', entityId: actor.sessionId, clientId: null });
      reply.clearCookie(STAFF_COOKIE, { path: '/' });
      return { ok: true as const };
    },
  );

  app.get(
    '/api/auth/me',
    {
      config: { routeScope: 'staff-only' },
      schema: {
        response: {
          // csrfToken: the console reloads with only its HttpOnly cookie and needs the header value for writes.
          200: Type.Object(
            { staffUser: StaffUser, clientIds: Type.Array(Uuid), csrfToken: Type.String() },
            { additionalProperties: false },
          ),
          ...errors,
        },
      },
    },
    async (request) => {
      const actor = staffActor(request);
      const user = await firmDb(request).staffUser.findUniqueOrThrow({ where: { id: actor.staffUserId } });
      return {
        staffUser: { id: user.id, email: user.email, name: user.name, role: actor.role },
        clientIds: [...actor.clientIds],
        csrfToken: actor.csrfToken,
      };
    },
  );
};

export default auth;
