import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import staticFiles from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/** apps/web's build output, beside this package in the workspace. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../../web/dist', import.meta.url));

/**
 * The pages' policy: scripts, styles and everything else from Spade's own origin only —
 * no inline script, no eval. Frames only for the console's own file previews.
 */
export const WEB_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "frame-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = { config: { routeScope: 'public', noDatabase: true }, schema: { hide: true } } as const;

/**
 * Serves the built web app on the API's own origin (DESIGN.md §8): `/portal…` (contacts)
 * and `/app…` (staff) each fall back to their single-page entry; hashed assets are cached
 * for good. `/api/*`, `/openapi.json`, `/healthz` and `/readyz` stay the API's.
 */
export default fp<{ root: string }>(
  async (app, { root }) => {
    await app.register(staticFiles, { root, serve: false });
    const built = (entry: string) => existsSync(`${root}/${entry}/index.html`);

    const page = (entry: 'portal' | 'app') => async (_request: FastifyRequest, reply: FastifyReply) => {
      if (!built(entry)) {
        return reply
          .code(503)
          .type('text/plain; charset=utf-8')
          .send('The web app is not built: run `pnpm --filter @breezycorp/web build`.');
      }
      return reply
        .header('content-security-policy', WEB_CSP)
        .header('cache-control', 'no-cache')
        .header('referrer-policy', 'no-referrer')
        .sendFile(`${entry}/index.html`, { cacheControl: false });
    };
    for (const entry of ['portal', 'app'] as const) {
      app.get(`/${entry}`, PAGE, page(entry));
      app.get(`/${entry}/*`, PAGE, page(entry));
    }
    app.get('/', PAGE, async (_request, reply) => reply.redirect('/app'));
    app.get('/assets/*', PAGE, async (request, reply) => {
      const file = (request.params as { '*': string })['*'];
      return reply.sendFile(`assets/${file}`, { maxAge: '365d', immutable: true });
    });
  },
  { name: 'web-app' },
);
