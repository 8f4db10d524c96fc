import { hashPasswordWithParams, hashToken, newToken } from '@breezycorp/db';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../../errors.ts';
import { csrfTokenFor, STAFF_COOKIE } from '../../plugins/auth.ts';
import { firmDb } from '../../plugins/unit-of-work.ts';
import { staffLogin, staffPasswordParams } from '../../services/token-lookups.ts';
import { staffActor } from '../../tenancy/actor.ts';
import type { RouteOptions } from '../index.ts';
import { errors, iso, Ok } from '../schemas.ts';
import { LoginBody, Me, StaffSession } from './schema.ts';
import secondFactor from './second-factor.ts';

/** What routes/index.ts hands this module: sign-in runs before any unit of work (spade_staff_login), so on the Database. */
export const routeDeps = ['config', 'db'] as const;

const auth: FastifyPluginAsyncTypebox<RouteOptions<typeof routeDeps>> = async (app, { config, db }) => {
  await app.register(secondFactor, { config, db });
  app.post(
    '/api/auth/login',
    {
      config: {
        routeScope: 'public',
        // Sign-in runs in the database on its own (spade_staff_login): a failure must be
        // counted although the request then fails, and PGlite has one connection.
        ownTransactions: true,
        rateLimit: { max: config.rateLimit.loginPerMinute, timeWindow: '1 minute' },
      },
      schema: {
        operationId: 'login',
        summary: 'Sign in as a staff member',
        body: LoginBody,
        response: {
          200: StaffSession,
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const email = request.body.email.trim().toLowerCase();
      // The API never reads a stored hash: it derives the presented password's hash with the
      // account's salt (a made-up one for an unknown email: same scrypt, same time) and the
      // database compares, counts failures per account and creates the session.
      const params = await staffPasswordParams(db, email);
      const passwordHash = await hashPasswordWithParams(request.body.password, params);
      const token = newToken('staff');
      const expiresAt = new Date(Date.now() + config.staffSessionTtlMs);
      const result = await staffLogin(db, { email, passwordHash, sessionTokenHash: hashToken(token), expiresAt });
      if (!('sessionId' in result)) {
        await request.auditFirmWide({
          eventType: result.verdict === 'locked' ? 'auth.login_locked' : 'auth.login_failed',
          entityType: 'staff_user',
          entityId: result.staffUserId,
          data: { reason: result.verdict, ip: request.ip },
        });
        // One answer for an unknown email, a wrong password and a locked account.
        throw new AppError('unauthenticated', 'Invalid email or password');
      }
      const user = { id: result.staffUserId, email: result.email, name: result.name, role: result.role };
      const session = { id: result.sessionId };
      request.actor = {
        kind: 'staff',
        staffUserId: user.id,
        role: result.role,
        sessionId: session.id,
        clientIds: [],
        viaCookie: false,
        csrfToken: csrfTokenFor(token),
      };
      const owed: 'required' | 'enrol' | null =
        result.verdict === 'second_factor' ? 'required' : result.verdict === 'enrol_second_factor' ? 'enrol' : null;
      // A firm-wide event in its own transaction (this route has none of its own).
      await request.auditFirmWide({
        eventType: 'auth.login',
        entityType: 'staff_session',
        entityId: session.id,
        ...(owed && { data: { secondFactor: owed } }),
      });
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
        expiresAt: iso(expiresAt),
        ...(owed && { secondFactor: owed }),
        staffUser: {
          id: user.id,
          email: user.email,
          name: user.name,
          role: user.role,
        },
      };
    },
  );

  app.post(
    '/api/auth/logout',
    {
      config: { routeScope: 'staff-only' },
      schema: { operationId: 'logout', summary: 'Sign out (end this staff session)', response: { 200: Ok, ...errors } },
    },
    async (request, reply) => {
      const actor = staffActor(request);
      await firmDb(request).staffSession.updateMany({
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
        operationId: 'getMe',
        summary: 'The signed-in staff member and the clients they serve',
        response: {
          200: Me,
          ...errors,
        },
      },
    },
    async (request) => {
      const actor = staffActor(request);
      const user = await firmDb(request).staffUser.findUniqueOrThrow({
        where: { id: actor.staffUserId },
        select: { id: true, email: true, name: true },
      });
      return {
        staffUser: { id: user.id, email: user.email, name: user.name, role: actor.role },
        clientIds: [...actor.clientIds],
        csrfToken: actor.csrfToken,
      };
    },
  );
};

export default auth;
