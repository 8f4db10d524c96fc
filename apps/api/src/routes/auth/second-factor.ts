import { createHash, randomBytes } from 'node:crypto';
import { type Database, hashToken } from '@breezycorp/db';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import type { Config } from '../../config.ts';
import { AppError } from '../../errors.ts';
import { credentialOf } from '../../plugins/auth.ts';
import {
  beginSecondFactor,
  reportSecondFactor,
  type SecondFactorVerdict,
  secondFactorState,
  useRecoveryCode,
} from '../../services/token-lookups.ts';
import { errors, noStore, Ok } from '../schemas.ts';
import { ConfirmBody, Enrolment, RecoveryCodes, VerifyBody } from './schema.ts';

/**
 * Optional TOTP second factor for staff. Enrolment returns an otpauth URI and its QR code;
 * confirming it with a first code returns ten recovery codes once (stored as SHA-256 only).
 * A staff user who is enrolled — or who must enrol because the firm requires it — signs in
 * to a session that is anonymous everywhere except on these routes until a code is given.
 * The checks run in the database through SECURITY DEFINER functions, for the holder of the
 * session token only; each route runs outside a request unit of work (the embedded
 * database's one connection must stay free for them) and audits firm-wide.
 */

const ISSUER = 'Spade';
const RECOVERY_CODES = 10;

/** The session token's hash: the second-factor functions answer its holder only. */
function sessionTokenHash(request: FastifyRequest): string {
  const credential = credentialOf(request);
  if (!credential) throw new AppError('unauthenticated', 'Authentication required');
  return hashToken(credential.token);
}

/** Ten single-use codes, 50 bits each, shown once. */
function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODES }, () => {
    const raw = randomBytes(8).toString('hex').slice(0, 10).toUpperCase();
    return `${raw.slice(0, 5)}-${raw.slice(5)}`;
  });
}

export function recoveryCodeHash(code: string): string {
  return createHash('sha256')
    .update(`recovery:${code.toUpperCase().replace(/-/g, '')}`)
    .digest('hex');
}

async function checkCode(secret: string, code: string, lastTimeStep: number | null): Promise<{ ok: boolean; timeStep: number | null }> {
  const result = await verify({
    secret,
    token: code,
    epochTolerance: 30,
    ...(lastTimeStep !== null ? { afterTimeStep: lastTimeStep } : {}),
  }).catch(() => ({ valid: false as const }));
  return result.valid ? { ok: true, timeStep: 'timeStep' in result ? result.timeStep : null } : { ok: false, timeStep: null };
}

const secondFactor: FastifyPluginAsyncTypebox<{ config: Config; db: Database }> = async (app, { db }) => {
  app.post(
    '/api/auth/second-factor/enrol',
    {
      config: { routeScope: 'staff-only', ownTransactions: true, secondFactorStep: true },
      schema: {
        operationId: 'enrolSecondFactor',
        summary: 'Start enrolling a TOTP second factor (otpauth URI and QR code)',
        response: {
          200: Enrolment,
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const tokenHash = sessionTokenHash(request);
      const state = await secondFactorState(db, tokenHash);
      if (!state) throw new AppError('unauthenticated', 'Authentication required');
      const secret = generateSecret();
      if (!(await beginSecondFactor(db, tokenHash, secret))) {
        throw new AppError('conflict', 'A second factor is already enrolled; an admin can remove it');
      }
      const otpauthUri = generateURI({ issuer: ISSUER, label: state.email, secret });
      await request.auditFirmWide({ eventType: 'second_factor.enrolment_started', entityType: 'staff_user', entityId: state.staffUserId });
      noStore(reply);
      return { otpauthUri, qrCodeDataUrl: await QRCode.toDataURL(otpauthUri), secret };
    },
  );

  app.post(
    '/api/auth/second-factor/confirm',
    {
      config: { routeScope: 'staff-only', ownTransactions: true, secondFactorStep: true },
      schema: {
        operationId: 'confirmSecondFactor',
        summary: 'Confirm TOTP enrolment with a code (returns recovery codes once)',
        body: ConfirmBody,
        response: { 200: RecoveryCodes, ...errors },
      },
    },
    async (request, reply) => {
      const tokenHash = sessionTokenHash(request);
      const state = await secondFactorState(db, tokenHash);
      if (!state) throw new AppError('unauthenticated', 'Authentication required');
      if (!state.pendingSecret || state.secret) throw new AppError('conflict', 'No enrolment is in progress');
      const check = await checkCode(state.pendingSecret, request.body.code, state.lastTimeStep);
      const recoveryCodes = newRecoveryCodes();
      const verdict = await reportSecondFactor(db, tokenHash, {
        ok: check.ok,
        timeStep: check.timeStep,
        recoveryCodeHashes: check.ok ? recoveryCodes.map(recoveryCodeHash) : null,
      });
      if (verdict !== 'ok') {
        await request.auditFirmWide({
          eventType: 'second_factor.failed',
          entityType: 'staff_user',
          entityId: state.staffUserId,
          data: { step: 'enrol', verdict },
        });
        throw new AppError('bad_request', 'That code is not valid; try the current one');
      }
      await request.auditFirmWide({ eventType: 'second_factor.enrolled', entityType: 'staff_user', entityId: state.staffUserId });
      noStore(reply);
      return { recoveryCodes };
    },
  );

  app.post(
    '/api/auth/second-factor/verify',
    {
      config: { routeScope: 'staff-only', ownTransactions: true, secondFactorStep: true },
      schema: {
        operationId: 'verifySecondFactor',
        summary: 'Complete sign-in with a TOTP or recovery code',
        body: VerifyBody,
        response: { 200: Ok, ...errors },
      },
    },
    async (request) => {
      const tokenHash = sessionTokenHash(request);
      const state = await secondFactorState(db, tokenHash);
      if (!state?.sessionPending || !state.secret) throw new AppError('conflict', 'No second factor is owed on this session');
      const body = request.body as { code?: string; recoveryCode?: string };
      let verdict: SecondFactorVerdict;
      if (body.recoveryCode !== undefined) {
        verdict = await useRecoveryCode(db, tokenHash, recoveryCodeHash(body.recoveryCode));
      } else {
        const check = await checkCode(state.secret, body.code ?? '', state.lastTimeStep);
        verdict = await reportSecondFactor(db, tokenHash, { ok: check.ok, timeStep: check.timeStep, recoveryCodeHashes: null });
      }
      const via = body.recoveryCode !== undefined ? 'recovery_code' : 'totp';
      if (verdict !== 'ok') {
        await request.auditFirmWide({
          eventType: 'second_factor.failed',
          entityType: 'staff_user',
          entityId: state.staffUserId,
          data: { step: 'sign_in', via, verdict, ip: request.ip },
        });
        // One answer for a wrong, replayed or locked-out code.
        throw new AppError('unauthenticated', 'Invalid code');
      }
      await request.auditFirmWide({
        eventType: via === 'recovery_code' ? 'second_factor.recovery_used' : 'second_factor.verified',
        entityType: 'staff_session',
        entityId: request.actor.kind === 'staff' ? request.actor.sessionId : null,
      });
      return { ok: true as const };
    },
  );
};

export default secondFactor;
