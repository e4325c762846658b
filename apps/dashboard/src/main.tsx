import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, describeError, onKeyRefused, storedKey, storeKey } from './api.js';
import { ErrorBoundary, ErrorBox } from './components.js';
import { FilesetPage, FilesetsPage, LineagePage } from './filesets.js';
import { DeadLettersPage, EventsPage, NodesPage } from './ops.js';
import { Link, navigate, useLocation } from './router.js';
import { JobPage, RunPage, RunsPage, SubmitPage } from './runs.js';
import './style.css';

function SignIn(props: { signedIn: (key: string) => void; why: string | undefined }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>(props.why);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      // Any read of the project tells whether the key is good.
      await api('/api/v1/runs?limit=1', { key: key.trim() });
      props.signedIn(key.trim());
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>acai</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label>
          API key
          <input
            name="key"
            type="password"
            autocomplete="off"
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
            required
          />
        </label>
        <p class="muted small">
          A key of your project (<code>npm run up</code> writes the default one to{' '}
          <code>$ACAI_HOME/default.key</code>). It is kept in this tab only.
        </p>
        <ErrorBox error={error} title="Not signed in" />
        <button type="submit" disabled={busy || key.trim() === ''}>
          Sign in
        </button>
      </form>
    </main>
  );
}

const NAV = [
  ['/runs', 'Runs'],
  ['/filesets', 'File sets'],
  ['/nodes', 'Nodes'],
  ['/events', 'Live events'],
  ['/dead-letters', 'Dead letters'],
] as const;

function Page(props: { url: URL }) {
  const { pathname, searchParams } = props.url;
  const part = (pattern: RegExp) => {
    const match = pattern.exec(pathname);
    return match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
  };
  const run = part(/^\/runs\/([^/]+)$/);
  if (run !== undefined) return <RunPage id={run} />;
  const job = part(/^\/jobs\/([^/]+)$/);
  if (job !== undefined) return <JobPage id={job} />;
  const fileset = part(/^\/filesets\/([^/]+)$/);
  if (fileset !== undefined) return <FilesetPage name={fileset} />;
  switch (pathname) {
    case '/':
    case '/runs':
      return <RunsPage />;
    case '/submit':
      return <SubmitPage />;
    case '/filesets':
      return (
        <FilesetsPage
          prefix={searchParams.get('prefix') ?? ''}
          label={searchParams.get('label') ?? ''}
        />
      );
    case '/lineage':
      return (
        <LineagePage
          fileset={searchParams.get('fileset') ?? ''}
          version={searchParams.get('version') ?? ''}
        />
      );
    case '/nodes':
      return <NodesPage />;
    case '/events':
      return <EventsPage type={searchParams.get('type') ?? ''} />;
    case '/dead-letters':
      return <DeadLettersPage />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            The dashboard has no page {pathname}. <Link href="/runs">See the runs</Link>.
          </p>
        </section>
      );
  }
}

function App() {
  const [key, setKey] = useState(storedKey());
  const [why, setWhy] = useState<string | undefined>(undefined);
  const url = useLocation();
  useEffect(
    () =>
      onKeyRefused(() => {
        storeKey(null);
        setKey(null);
        setWhy('The gateway refused the key (revoked, or wrong): sign in again.');
      }),
    [],
  );
  if (key === null) {
    return (
      <SignIn
        why={why}
        signedIn={(k) => {
          storeKey(k);
          setKey(k);
          setWhy(undefined);
        }}
      />
    );
  }
  const signOut = () => {
    storeKey(null);
    setKey(null);
    navigate('/');
  };
  return (
    <>
      <header>
        <Link href="/runs" class="brand">
          acai
        </Link>
        <nav>
          {NAV.map(([href, label]) => (
            <Link
              key={href}
              href={href}
              class={url.pathname.startsWith(href) ? 'active' : undefined}
            >
              {label}
            </Link>
          ))}
        </nav>
        <button class="link" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>
        <ErrorBoundary key={url.pathname}>
          <Page url={url} />
        </ErrorBoundary>
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
