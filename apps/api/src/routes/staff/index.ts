import { hashPassword, type TxClient } from '@breezycorp/db';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, notFound, rethrowUniqueAs } from '../../errors.ts';
import { firmDb } from '../../plugins/unit-of-work.ts';
import { resetSecondFactor } from '../../services/token-lookups.ts';
import { pagedBody, pageQuery, pager, readPage } from '../pagination.ts';
import { errors, Ok } from '../schemas.ts';
import {
  AssignmentParams,
  AssignmentView,
  assignmentView,
  CreateAssignmentBody,
  CreateStaffUserBody,
  FirmSettings,
  RevokedSessions,
  RevokeSessionsQuery,
  STAFF_USER_FIELDS,
  StaffUserParams,
  StaffUserView,
  staffUserView,
} from './schema.ts';

/**
 * Firm administration: staff users, their client assignments and their sessions. Every
 * route here is admin-only; it runs as the spade_firm_admin role (unit-of-work firmContext),
 * which may read every row and write staff_users, assignments and staff_sessions.
 * A non-admin gets the same 404 as for an unknown URL.
 */

/** 404 for an unknown staff user; the check runs as spade_firm_admin, which sees all of them. */
async function requireStaffUser(db: TxClient, staffUserId: string) {
  const user = await db.staffUser.findUnique({ where: { id: staffUserId }, select: STAFF_USER_FIELDS });
  if (!user) throw notFound();
  return user;
}

const STAFF_PAGE = pager('listStaffUsers', 'asc', [{ field: 'name', kind: 'text' }]);
const ASSIGNMENTS_PAGE = pager('listAssignments', 'asc', [
  { field: 'createdAt', kind: 'instant', column: 'staff_client_assignments.created_at' },
]);

const staff: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/staff-users',
    {
      config: { routeScope: 'staff-only', adminOnly: true },
      schema: {
        operationId: 'listStaffUsers',
        summary: 'List staff users (admin; by name, a page at a time)',
        querystring: pageQuery({}),
        response: { 200: pagedBody({ staffUsers: Type.Array(StaffUserView) }), ...errors },
      },
    },
    async (request, reply) => {
      const rows = await readPage(request, reply, STAFF_PAGE, (page) =>
        firmDb(request).staffUser.findMany({ ...page, select: STAFF_USER_FIELDS }),
      );
      // Staff users are firm-wide records: one firm-wide event for the listing.
      await request.audit({
        eventType: 'staff_user.read',
        entityType: 'staff_user',
        entityId: null,
        clientId: null,
        data: { via: 'list', count: rows.length },
      });
      return { staffUsers: rows.map(staffUserView) };
    },
  );

  app.post(
    '/api/staff-users',
    {
      config: { routeScope: 'staff-only', adminOnly: true },
      schema: {
        operationId: 'createStaffUser',
        summary: 'Create a staff user (admin)',
        body: CreateStaffUserBody,
        response: { 201: StaffUserView, ...errors },
      },
    },
    async (request, reply) => {
      const db = firmDb(request);
      // Login looks emails up lower-cased; the unique index is on lower(email).
      const email = request.body.email.trim().toLowerCase();
      const conflict = () => new AppError('conflict', 'A staff user with this email already exists');
      if (await db.staffUser.findFirst({ where: { email: { equals: email, mode: 'insensitive' } }, select: { id: true } })) {
        throw conflict();
      }
      const user = await db.staffUser
        .create({
          data: { email, name: request.body.name.trim(), role: request.body.role, passwordHash: await hashPassword(request.body.password) },
          select: STAFF_USER_FIELDS,
        })
        .catch(rethrowUniqueAs(conflict));
      await request.audit({
        eventType: 'staff_user.created',
        entityType: 'staff_user',
        entityId: user.id,
        clientId: null,
        data: { role: user.role },
      });
      return reply.code(201).send(staffUserView(user));
    },
  );

  app.get(
    '/api/staff-users/:staffUserId/assignments',
    {
      config: { routeScope: 'staff-only', adminOnly: true },
      schema: {
        operationId: 'listAssignments',
        summary: "List a staff member's client assignments (admin)",
        params: StaffUserParams,
        querystring: pageQuery({}),
        response: { 200: pagedBody({ assignments: Type.Array(AssignmentView) }), ...errors },
      },
    },
    async (request, reply) => {
      const db = firmDb(request);
      await requireStaffUser(db, request.params.staffUserId);
      const rows = await readPage(request, reply, ASSIGNMENTS_PAGE, (page) =>
        db.staffClientAssignment.findMany({
          ...page,
          where: { AND: [{ staffUserId: request.params.staffUserId }, page.where] },
          include: { client: { select: { name: true } } },
        }),
      );
      // Assignments are rows of several clients: one cross_tenant_read per client returned.
      await request.auditMany(
        rows.map((row) => ({
          eventType: 'cross_tenant_read',
          clientId: row.clientId,
          entityType: 'staff_client_assignment',
          entityId: row.id,
          data: { route: 'GET /api/staff-users/:staffUserId/assignments', staffUserId: row.staffUserId },
        })),
      );
      return {
        assignments: rows.map((row) => assignmentView(row, row.client.name)),
      };
    },
  );

  app.post(
    '/api/staff-users/:staffUserId/assignments',
    {
      config: { routeScope: 'staff-only', adminOnly: true },
      schema: {
        operationId: 'createAssignment',
        summary: 'Assign a staff member to a client (admin)',
        params: StaffUserParams,
        body: CreateAssignmentBody,
        response: { 201: AssignmentView, ...errors },
      },
    },
    async (request, reply) => {
      const db = firmDb(request);
      const { staffUserId } = request.params;
      const { clientId } = request.body;
      await requireStaffUser(db, staffUserId);
      const client = await db.client.findUnique({ where: { id: clientId }, select: { id: true, name: true } });
      if (!client) throw notFound();
      const conflict = () => new AppError('conflict', 'This staff user is already assigned to this client');
      if (await db.staffClientAssignment.findFirst({ where: { staffUserId, clientId }, select: { id: true } })) throw conflict();
      const assignment = await db.staffClientAssignment.create({ data: { staffUserId, clientId } }).catch(rethrowUniqueAs(conflict));
      await request.audit({
        eventType: 'assignment.created',
        entityType: 'staff_client_assignment',
        entityId: assignment.id,
        clientId,
        data: { staffUserId },
      });
      return reply.code(201).send(assignmentView(assignment, client.name));
    },
  );

  app.delete(
    '/api/staff-users/:staffUserId/assignments/:clientId',
    {
      config: { routeScope: 'staff-only', adminOnly: true },
      schema: {
        operationId: 'deleteAssignment',
        summary: 'Unassign a staff member from a client (admin)',
        params: AssignmentParams,
        response: { 200: Ok, ...errors },
      },
    },
    async (request) => {
      const db = firmDb(request);
      const { staffUserId, clientId } = request.params;
      const assignment = await db.staffClientAssignment.findFirst({ where: { staffUserId, clientId }, select: { id: true } });
      if (!assignment) throw notFound();
      await db.staffClientAssignment.deleteMany({ where: { id: assignment.id } });
      // The staff member's next request resolves their clients afresh, so access ends there.
      await request.audit({
        eventType: 'assignment.deleted',
        entityType: 'staff_client_assignment',
        entityId: assignment.id,
        clientId,
        data: { staffUserId },
      });
      return { ok: true as const };
    },
  );

  app.post(
    '/api/staff-users/:staffUserId/sessions/revoke',
    {
      config: { routeScope: 'staff-only', adminOnly: true },
      schema: {
        operationId: 'revokeStaffSessions',
        summary: 'Revoke every session of a staff member (admin)',
        params: StaffUserParams,
        querystring: RevokeSessionsQuery,
        response: {
          200: RevokedSessions,
          ...errors,
        },
      },
    },
    async (request) => {
      const db = firmDb(request);
      const { staffUserId } = request.params;
      await requireStaffUser(db, staffUserId);
      const now = new Date();
      // The same effect as the runbook's UPDATE staff_sessions: the next request is anonymous.
      const { count } = await db.staffSession.updateMany({
        where: { staffUserId, revokedAt: null, expiresAt: { gt: now } },
        data: { revokedAt: now, revokedReason: 'admin_revoked' },
      });
      await request.audit({
        eventType: 'session.revoked',
        entityType: 'staff_user',
        entityId: staffUserId,
        clientId: null,
        data: { count, reason: 'admin_revoked' },
      });
      // Runs as spade_firm_admin (this admin unit of work); spade_app cannot execute it.
      const secondFactorReset = request.query.resetSecondFactor === true && (await resetSecondFactor(db, staffUserId));
      if (request.query.resetSecondFactor === true) {
        await request.audit({
          eventType: 'second_factor.reset',
          entityType: 'staff_user',
          entityId: staffUserId,
          clientId: null,
          data: { wasEnrolled: secondFactorReset },
        });
      }
      return { revoked: count, secondFactorReset };
    },
  );

  app.get(
    '/api/firm-settings',
    {
      config: { routeScope: 'staff-only', adminOnly: true },
      schema: { operationId: 'getFirmSettings', summary: 'Firm-wide settings (admin)', response: { 200: FirmSettings, ...errors } },
    },
    async (request) => {
      const settings = await firmDb(request).firmSetting.findUniqueOrThrow({
        where: { id: true },
        select: { requireStaffSecondFactor: true },
      });
      return { requireStaffSecondFactor: settings.requireStaffSecondFactor };
    },
  );

  app.patch(
    '/api/firm-settings',
    {
      config: { routeScope: 'staff-only', adminOnly: true },
      schema: {
        operationId: 'updateFirmSettings',
        summary: 'Change firm-wide settings, e.g. require a second factor (admin)',
        body: FirmSettings,
        response: { 200: FirmSettings, ...errors },
      },
    },
    async (request) => {
      const actor = request.actor.kind === 'staff' ? request.actor.staffUserId : null;
      const settings = await firmDb(request).firmSetting.update({
        where: { id: true },
        data: { requireStaffSecondFactor: request.body.requireStaffSecondFactor, updatedAt: new Date(), updatedBy: actor },
        select: { requireStaffSecondFactor: true },
      });
      await request.audit({
        eventType: 'firm_settings.updated',
        entityType: 'firm_settings',
        entityId: null,
        clientId: null,
        data: { requireStaffSecondFactor: settings.requireStaffSecondFactor },
      });
      return { requireStaffSecondFactor: settings.requireStaffSecondFactor };
    },
  );
};

export default staff;
