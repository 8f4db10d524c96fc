import { QueryClient, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { allPages, createApiClient, type ResponseOf, unwrap } from '../../lib/api-client.ts';
import { forgetSession, readSession, saveSession } from './session.ts';

/** Fired on any 401: the session ended (expired, rotated, cancelled, logged out). */
const listeners = new Set<() => void>();
export function onSessionEnded(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
export function endSession(): void {
  forgetSession();
  // No stale data stays on screen or in memory.
  portalQueryClient.clear();
  for (const listener of listeners) listener();
}

export const portalQueryClient = new QueryClient({
  defaultOptions: { queries: { retry: false, refetchOnWindowFocus: true, staleTime: 10_000 } },
});

export const api = createApiClient({ csrfToken: () => readSession()?.csrfToken ?? null, onUnauthenticated: endSession });

export type LinkSummary = ResponseOf<'/api/portal/links/{token}', 'get'>;
export type PortalRequest = ResponseOf<'/api/portal/clients/{clientId}/request', 'get'>;
export type PortalItem = PortalRequest['items'][number];
export type PortalFile = ResponseOf<'/api/portal/clients/{clientId}/files', 'get'>['files'][number];

/** Checks a link without using it (GET): null when it is not valid. */
export function useLinkCheck(token: string | null) {
  return useQuery({
    queryKey: ['link', token],
    enabled: token !== null,
    staleTime: Number.POSITIVE_INFINITY,
    queryFn: async (): Promise<LinkSummary | null> => {
      // The 401 of a dead link is not a session ending: no handler, just "invalid".
      const response = await fetch(`/api/portal/links/${encodeURIComponent(token ?? '')}`, { credentials: 'same-origin' });
      if (!response.ok) return null;
      return (await response.json()) as LinkSummary;
    },
  });
}

export function useExchange() {
  return useMutation({
    mutationFn: async (token: string) => {
      const response = await fetch('/api/portal/exchange', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token }),
      });
      if (!response.ok) return null;
      const grant = (await response.json()) as ResponseOf<'/api/portal/exchange', 'post'>;
      saveSession({ clientId: grant.clientId, csrfToken: grant.csrfToken });
      return grant;
    },
  });
}

/** What "email me a new link" can tell the contact: nothing about the address, only that it was asked or too often. */
export type NewLinkAnswer = 'asked' | 'rate_limited' | 'failed';

export function useNewLinkRequest() {
  return useMutation({
    mutationFn: async (email: string): Promise<NewLinkAnswer> => {
      const response = await fetch('/api/portal/new-link', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email }),
      }).catch(() => null);
      if (response?.status === 202) return 'asked';
      if (response?.status === 429) return 'rate_limited';
      return 'failed';
    },
  });
}

export function usePortalRequest(clientId: string) {
  return useQuery({
    queryKey: ['request', clientId],
    queryFn: async () => unwrap(await api.GET('/api/portal/clients/{clientId}/request', { params: { path: { clientId } } })),
  });
}

export function useOwnFiles(clientId: string) {
  return useQuery({
    queryKey: ['files', clientId],
    queryFn: () =>
      allPages(
        (query) => api.GET('/api/portal/clients/{clientId}/files', { params: { path: { clientId }, query } }),
        (body) => body.files,
      ),
  });
}

export function useRemoveFile(clientId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (fileId: string) =>
      unwrap(await api.DELETE('/api/portal/clients/{clientId}/files/{fileId}', { params: { path: { clientId, fileId } } })),
    onSettled: () => queryClient.invalidateQueries(),
  });
}

export function useLogout(clientId: string) {
  return useMutation({
    mutationFn: async () => {
      await api.POST('/api/portal/clients/{clientId}/logout', { params: { path: { clientId } } });
    },
    onSettled: () => {
      forgetSession();
      portalQueryClient.clear();
    },
  });
}

export function uploadUrl(clientId: string, itemId: string): string {
  return `/api/portal/clients/${encodeURIComponent(clientId)}/items/${encodeURIComponent(itemId)}/files`;
}
