import { infiniteQueryOptions, QueryClient, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { allPages, createApiClient, type ResponseOf, unwrap } from '../../lib/api-client.ts';

let csrfToken: string | null = null;
const listeners = new Set<() => void>();

/** A 401 anywhere: the session is over (logged out, expired, revoked). Forget everything. */
export function onSessionEnded(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
function sessionEnded() {
  csrfToken = null;
  consoleQueryClient.clear();
  for (const listener of listeners) listener();
}

export const consoleQueryClient = new QueryClient({
  defaultOptions: { queries: { retry: false, staleTime: 5_000 } },
});
export const api = createApiClient({
  csrfToken: () => csrfToken,
  // "Who am I?" answering 401 is how the console learns it must sign in, not a session ending mid-way.
  onUnauthenticated: (path) => {
    if (path !== '/api/auth/me') sessionEnded();
  },
});

export type Me = ResponseOf<'/api/auth/me', 'get'>;
export type Client = ResponseOf<'/api/clients/{clientId}', 'get'>;
export type Contact = ResponseOf<'/api/clients/{clientId}/contacts', 'get'>['contacts'][number];
export type Cycle = ResponseOf<'/api/clients/{clientId}/cycles', 'get'>['cycles'][number];
export type RequestSummary = ResponseOf<'/api/clients/{clientId}/cycles/{cycleId}/requests', 'get'>['requests'][number];
export type RequestDetail = ResponseOf<'/api/clients/{clientId}/requests/{requestId}', 'get'>;
export type StoredFile = ResponseOf<'/api/clients/{clientId}/files', 'get'>['files'][number];
export type AuditEvent = ResponseOf<'/api/clients/{clientId}/audit-events', 'get'>['events'][number];
export type StaffUser = ResponseOf<'/api/staff-users', 'get'>['staffUsers'][number];
export type IncidentList = ResponseOf<'/api/admin/incidents', 'get'>;
export type IncidentSummary = IncidentList['incidents'][number];
export type IncidentDetail = ResponseOf<'/api/admin/incidents/{incidentId}', 'get'>;
export type DetectionState = ResponseOf<'/api/admin/detection', 'get'>;

export function useMe() {
  return useQuery({
    queryKey: ['me'],
    queryFn: async () => {
      const result = await api.GET('/api/auth/me');
      if (result.response.status === 401) return null;
      const me = unwrap(result);
      csrfToken = me.csrfToken;
      return me;
    },
  });
}

export function useLogin() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (body: { email: string; password: string }) => {
      const response = await fetch('/api/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        credentials: 'same-origin',
      });
      if (response.status === 401 || response.status === 400) throw new Error('That email and password do not match.');
      if (response.status === 429) throw new Error('Too many attempts. Wait a minute and try again.');
      if (!response.ok) throw new Error('Signing in failed. Try again.');
      const session = (await response.json()) as ResponseOf<'/api/auth/login', 'post'>;
      csrfToken = session.csrfToken;
      return session;
    },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['me'] }),
  });
}

export function useLogout() {
  return useMutation({
    mutationFn: async () => {
      await api.POST('/api/auth/logout');
    },
    onSettled: sessionEnded,
  });
}

/** A mutation that refreshes every query once it settles (lists, counts and the audit trail all move). */
export function useWrite<TVariables, TResult>(fn: (variables: TVariables) => Promise<TResult>) {
  const queryClient = useQueryClient();
  return useMutation({ mutationFn: fn, onSettled: () => queryClient.invalidateQueries() });
}

export const queries = {
  clients: () => ({
    queryKey: ['clients'],
    queryFn: () =>
      allPages(
        (query) => api.GET('/api/clients', { params: { query } }),
        (body) => body.clients,
      ),
  }),
  outstanding: () => ({
    queryKey: ['outstanding'],
    queryFn: () =>
      allPages(
        (query) => api.GET('/api/outstanding-items', { params: { query } }),
        (body) => body.clients,
      ),
  }),
  dueSoon: () => ({
    queryKey: ['due-soon'],
    queryFn: () =>
      allPages(
        (query) => api.GET('/api/cycles/due-soon', { params: { query: { days: 30, ...query } } }),
        (body) => body.cycles,
      ),
  }),
  client: (clientId: string) => ({
    queryKey: ['client', clientId],
    queryFn: async () => unwrap(await api.GET('/api/clients/{clientId}', { params: { path: { clientId } } })),
  }),
  contacts: (clientId: string) => ({
    queryKey: ['contacts', clientId],
    queryFn: () =>
      allPages(
        (query) => api.GET('/api/clients/{clientId}/contacts', { params: { path: { clientId }, query } }),
        (body) => body.contacts,
      ),
  }),
  cycles: (clientId: string) => ({
    queryKey: ['cycles', clientId],
    queryFn: () =>
      allPages(
        (query) => api.GET('/api/clients/{clientId}/cycles', { params: { path: { clientId }, query } }),
        (body) => body.cycles,
      ),
  }),
  requests: (clientId: string, cycleId: string) => ({
    queryKey: ['requests', clientId, cycleId],
    queryFn: () =>
      allPages(
        (query) => api.GET('/api/clients/{clientId}/cycles/{cycleId}/requests', { params: { path: { clientId, cycleId }, query } }),
        (body) => body.requests,
      ),
  }),
  request: (clientId: string, requestId: string) => ({
    queryKey: ['request', clientId, requestId],
    queryFn: async () =>
      unwrap(await api.GET('/api/clients/{clientId}/requests/{requestId}', { params: { path: { clientId, requestId } } })),
  }),
  files: (clientId: string, requestId?: string) => ({
    queryKey: ['files', clientId, requestId ?? 'all'],
    queryFn: () =>
      allPages(
        (query) =>
          api.GET('/api/clients/{clientId}/files', {
            params: { path: { clientId }, query: { ...query, ...(requestId && { requestId }) } },
          }),
        (body) => body.files,
      ),
  }),
  /** The audit trail a page (200 events) at a time, newest first: the next page follows its X-Next-Cursor ("Load more"). */
  audit: (clientId: string, filters: { eventType?: string; since?: string; until?: string }) =>
    infiniteQueryOptions({
      queryKey: ['audit', clientId, filters],
      initialPageParam: null as string | null,
      queryFn: async ({ pageParam }) => {
        const result = await api.GET('/api/clients/{clientId}/audit-events', {
          params: {
            path: { clientId },
            query: {
              limit: 200,
              ...(pageParam !== null && { cursor: pageParam }),
              ...(filters.eventType && { eventType: filters.eventType }),
              ...(filters.since && { since: new Date(`${filters.since}T00:00:00`).toISOString() }),
              ...(filters.until && { until: new Date(`${filters.until}T00:00:00`).toISOString() }),
            },
          },
        });
        return { events: unwrap(result).events, next: result.response.headers.get('x-next-cursor') };
      },
      getNextPageParam: (page) => page.next,
    }),
  staffUsers: () => ({
    queryKey: ['staff-users'],
    queryFn: () =>
      allPages(
        (query) => api.GET('/api/staff-users', { params: { query } }),
        (body) => body.staffUsers,
      ),
  }),
  // The incident console (admins): re-read every minute, so a freeze or a new alert shows up.
  incidents: () => ({
    queryKey: ['admin-incidents'],
    queryFn: async () => ({ ...unwrap(await api.GET('/api/admin/incidents')), receivedAt: Date.now() }),
    refetchInterval: 60_000,
  }),
  incident: (incidentId: string) => ({
    queryKey: ['admin-incident', incidentId],
    queryFn: async () => unwrap(await api.GET('/api/admin/incidents/{incidentId}', { params: { path: { incidentId } } })),
    refetchInterval: 60_000,
  }),
  detection: () => ({
    queryKey: ['admin-detection'],
    queryFn: async () => unwrap(await api.GET('/api/admin/detection')),
    refetchInterval: 60_000,
  }),
  assignments: (staffUserId: string) => ({
    queryKey: ['assignments', staffUserId],
    queryFn: () =>
      allPages(
        (query) => api.GET('/api/staff-users/{staffUserId}/assignments', { params: { path: { staffUserId }, query } }),
        (body) => body.assignments,
      ),
  }),
};

export const fileUrl = (clientId: string, fileId: string, kind: 'download' | 'preview') =>
  `/api/clients/${encodeURIComponent(clientId)}/files/${encodeURIComponent(fileId)}/${kind}`;
