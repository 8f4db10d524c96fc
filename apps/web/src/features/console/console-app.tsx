import { type ReactNode, useEffect } from 'react';
import { Link, Navigate, Route, Routes, useLocation, useNavigate } from 'react-router';
import { onSessionEnded, useLogout, useMe } from './api.ts';
import { AdminPage } from './pages/admin.tsx';
import { ClientPage } from './pages/client-page.tsx';
import { HomePage } from './pages/home.tsx';
import { IncidentsPage } from './pages/incidents.tsx';
import { LoginPage } from './pages/login.tsx';
import { NotFoundPage } from './pages/not-found.tsx';
import { RequestPage } from './pages/request-page.tsx';

function Shell({ children }: { children: ReactNode }) {
  const me = useMe();
  const logout = useLogout();
  const location = useLocation();
  if (me.isPending) return <p aria-live="polite">Loading…</p>;
  if (!me.data) return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return (
    <div className="console">
      <nav className="console-nav" aria-label="Main">
        <p className="brand">Spade</p>
        <p className="small">{me.data.staffUser.name}</p>
        <Link to="/">My clients</Link>
        {me.data.staffUser.role === 'admin' && (
          <>
            <Link to="/admin">Administration</Link>
            <Link to="/incidents">Incidents</Link>
          </>
        )}
        <button type="button" onClick={() => logout.mutate()}>
          Sign out
        </button>
      </nav>
      <main className="console-main">{children}</main>
    </div>
  );
}

/** The staff console. A 401 on any request (revoked or expired session) lands on the login page with nothing cached. */
export function ConsoleApp() {
  const navigate = useNavigate();
  useEffect(() => onSessionEnded(() => navigate('/login', { replace: true })), [navigate]);
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        path="/"
        element={
          <Shell>
            <HomePage />
          </Shell>
        }
      />
      <Route
        path="/clients/:clientId"
        element={
          <Shell>
            <ClientPage />
          </Shell>
        }
      />
      <Route
        path="/clients/:clientId/requests/:requestId"
        element={
          <Shell>
            <RequestPage />
          </Shell>
        }
      />
      <Route
        path="/admin"
        element={
          <Shell>
            <AdminPage />
          </Shell>
        }
      />
      <Route
        path="/incidents"
        element={
          <Shell>
            <IncidentsPage />
          </Shell>
        }
      />
      <Route
        path="*"
        element={
          <Shell>
            <NotFoundPage />
          </Shell>
        }
      />
    </Routes>
  );
}
