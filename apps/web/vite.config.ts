import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * Two apps in one build: the contacts' portal and the staff console are separate entries,
 * so a contact on a phone never downloads the console. The API serves `dist/` (plugins/web-app.ts).
 */
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No inline module-preload polyfill script: the API's CSP allows no inline script.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    rollupOptions: {
      input: { portal: 'portal/index.html', app: 'app/index.html' },
      // The code both apps share (React, TanStack Query, the API client) gets a name that says so.
      output: { chunkFileNames: 'assets/shared-[hash].js' },
    },
  },
});
