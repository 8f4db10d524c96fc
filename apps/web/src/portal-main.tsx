import { QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { portalQueryClient } from './features/portal/api.ts';
import { PortalApp } from './features/portal/portal-app.tsx';
import './styles.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={portalQueryClient}>
      <PortalApp />
    </QueryClientProvider>
  </StrictMode>,
);
