import { useState } from 'preact/hooks';
import type { FilesetHit, FilesetView, LineageView, Page } from '@acai/contracts';
import { api, query } from './api.js';
import { Dag, ErrorBox, Time } from './components.js';
import { useLoad } from './hooks.js';
import { Link, navigate } from './router.js';

function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** File sets by name prefix and label (`GET /api/v1/filesets`), a page at a time. */
export function FilesetsPage(props: { prefix: string; label: string }) {
  const [prefix, setPrefix] = useState(props.prefix);
  const [label, setLabel] = useState(props.label);
  const [cursor, setCursor] = useState<string | null>(null);
  const hits = useLoad(
    (signal) =>
      api<Page<FilesetHit>>(
        `/api/v1/filesets${query({ prefix: props.prefix, label: props.label, limit: 50, cursor })}`,
        { signal },
      ),
    [props.prefix, props.label, cursor],
  );
  const search = (event: Event) => {
    event.preventDefault();
    setCursor(null);
    navigate(`/filesets${query({ prefix, label })}`);
  };
  return (
    <section>
      <h1>File sets</h1>
      <form class="inline" onSubmit={search} role="search">
        <label>
          Name starts with{' '}
          <input name="prefix" value={prefix} onInput={(e) => setPrefix(e.currentTarget.value)} />
        </label>
        <label>
          Label{' '}
          <input name="label" value={label} onInput={(e) => setLabel(e.currentTarget.value)} />
        </label>
        <button type="submit">Search</button>
      </form>
      <ErrorBox error={hits.error} title="The search failed" />
      {hits.data !== undefined &&
        (hits.data.items.length === 0 ? (
          <p class="muted">No file set matches.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Latest version</th>
                <th>Labels</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {hits.data.items.map((hit) => (
                <tr key={hit.name}>
                  <td>
                    <Link href={`/filesets/${encodeURIComponent(hit.name)}`}>{hit.name}</Link>
                  </td>
                  <td>{hit.latestVersion}</td>
                  <td>{hit.labels.join(', ')}</td>
                  <td>
                    <Time at={hit.updatedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
      {hits.data?.nextCursor !== null && hits.data?.nextCursor !== undefined && (
        <button onClick={() => setCursor(hits.data?.nextCursor ?? null)}>Next page →</button>
      )}
    </section>
  );
}

/** A file set and its versions, each with a link to its lineage. */
export function FilesetPage(props: { name: string }) {
  const fileset = useLoad(
    (signal) => api<FilesetView>(`/api/v1/filesets/${encodeURIComponent(props.name)}`, { signal }),
    [props.name],
  );
  return (
    <section>
      <h1>File set {props.name}</h1>
      <ErrorBox error={fileset.error} title="Could not load the file set" />
      {fileset.data !== undefined && (
        <>
          <p>
            Labels: {fileset.data.labels.join(', ') || 'none'}; metadata:{' '}
            <span class="mono">{JSON.stringify(fileset.data.metadata)}</span>
          </p>
          <table>
            <thead>
              <tr>
                <th>Version</th>
                <th>Files</th>
                <th>Size</th>
                <th>Labels</th>
                <th>Made by</th>
                <th>State</th>
                <th>Lineage</th>
              </tr>
            </thead>
            <tbody>
              {[...fileset.data.versions].reverse().map((v) => (
                <tr key={v.version}>
                  <td>{v.version}</td>
                  <td>{v.files}</td>
                  <td>{bytes(v.bytes)}</td>
                  <td>{v.labels.join(', ')}</td>
                  <td class="mono small">{JSON.stringify(v.createdBy)}</td>
                  <td>
                    {[v.pinned ? 'pinned' : '', v.evicted ? 'evicted' : '']
                      .filter(Boolean)
                      .join(', ')}
                  </td>
                  <td>
                    <Link href={`/lineage${query({ fileset: v.fileset, version: v.version })}`}>
                      graph
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

/** The lineage of a version, both ways (`GET /api/v1/lineage`), laid out as a graph. */
export function LineagePage(props: { fileset: string; version: string }) {
  const lineage = useLoad(
    (signal) =>
      api<LineageView>(
        `/api/v1/lineage${query({ fileset: props.fileset, version: props.version, direction: 'both', depth: 6, limit: 500 })}`,
        { signal },
      ),
    [props.fileset, props.version],
  );
  const view = lineage.data;
  const nodes = view === undefined ? [] : [view.start, ...view.items];
  return (
    <section>
      <h1>
        Lineage of {props.fileset} v{props.version}
      </h1>
      <ErrorBox error={lineage.error} title="Could not load the lineage" />
      {view !== undefined && (
        <div class="scroll">
          <Dag
            label={`Lineage of ${props.fileset} version ${props.version}`}
            nodes={[...new Map(nodes.map((n) => [n.id, n])).values()].map((node) =>
              node.kind === 'job'
                ? {
                    id: node.id,
                    label: node.step ?? node.jobId,
                    sublabel: `job ${node.status}`,
                    status: node.status,
                    href: `/jobs/${node.jobId}`,
                  }
                : {
                    id: node.id,
                    label: `${node.fileset} v${node.version}`,
                    sublabel: node.evicted ? 'evicted' : 'version',
                    href: `/filesets/${encodeURIComponent(node.fileset)}`,
                  },
            )}
            edges={view.edges.map((e) => [e.from, e.to] as const)}
          />
          {view.nextCursor !== null && (
            <p class="muted">The graph is larger than shown (first 500 nodes).</p>
          )}
        </div>
      )}
    </section>
  );
}
