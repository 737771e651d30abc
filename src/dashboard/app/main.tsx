import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { client, errorText, type Session } from './api.js';
import { ErrorNote } from './components.js';
import { closeEvents } from './live.js';
import { Link, useLocation } from './router.js';
import { SessionContext } from './session.js';
import { AlertsPage } from './pages/alerts.js';
import { JobPage, JobsPage } from './pages/jobs.js';
import { OverviewPage } from './pages/overview.js';
import { RunPage } from './pages/run.js';
import { RunsPage } from './pages/runs.js';
import { WorkersPage } from './pages/workers.js';

type Theme = 'light' | 'dark' | 'system';
const THEME_KEY = 'jobdeck-theme';

function applyTheme(theme: Theme): void {
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(
    () => (localStorage.getItem(THEME_KEY) as Theme | null) ?? 'system',
  );
  useEffect(() => {
    applyTheme(theme);
    if (theme === 'system') localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, theme);
  }, [theme]);
  return (
    <label class="theme">
      <span>Theme</span>
      <select value={theme} onChange={(e) => setTheme(e.currentTarget.value as Theme)}>
        <option value="system">System</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </label>
  );
}

const NAV = [
  ['/dashboard', 'Overview'],
  ['/dashboard/runs', 'Runs'],
  ['/dashboard/jobs', 'Jobs'],
  ['/dashboard/workers', 'Workers'],
  ['/dashboard/alerts', 'Alerts'],
] as const;

function Page({ path }: { path: string }) {
  const parts = path.replace(/\/+$/, '').split('/').slice(2).map(decodeURIComponent);
  const [section, id] = parts;
  if (section === undefined) return <OverviewPage />;
  if (section === 'runs') return id ? <RunPage id={id} key={id} /> : <RunsPage />;
  if (section === 'jobs') return id ? <JobPage name={id} key={id} /> : <JobsPage />;
  if (section === 'workers' && !id) return <WorkersPage />;
  if (section === 'alerts' && !id) return <AlertsPage />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No dashboard page at {path}. <Link href="/dashboard">Go to the overview</Link>.
      </p>
    </section>
  );
}

function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { path } = useLocation();
  useEffect(() => {
    client
      .session()
      .then((s) => setSession(s as Session))
      .catch((err: unknown) => setError(errorText(err)));
  }, []);
  const firstPath = useRef(true);
  useEffect(() => {
    window.scrollTo(0, 0);
    // A new page starts the keyboard at its content, as a page load would (not on the first).
    if (firstPath.current) firstPath.current = false;
    else document.getElementById('main')?.focus({ preventScroll: true });
  }, [path]);

  const signOut = async () => {
    try {
      closeEvents();
      await client.signOut();
      location.reload();
    } catch (err) {
      setError(errorText(err));
    }
  };

  const current = NAV.filter(([href]) => path === href || path.startsWith(href + '/')).pop()?.[0];
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href="/dashboard" class="brand">
          Jobdeck
        </Link>
        <nav aria-label="Main">
          {NAV.map(([href, label]) => (
            <Link key={href} href={href} aria-current={current === href ? 'page' : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <div class="who">
          {session ? (
            <span class="principal" aria-label="Signed in as">
              {session.principal} <span class="role">{session.role}</span>
            </span>
          ) : null}
          <ThemeToggle />
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <ErrorNote error={error} />
        {session ? (
          <SessionContext.Provider value={session}>
            <Page path={path} />
          </SessionContext.Provider>
        ) : null}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
