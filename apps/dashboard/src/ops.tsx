import { useEffect, useState } from 'preact/hooks';
import type { DeadLetterList, NodeView } from '@acai/contracts';
import { ApiError, api, call, describeError, query } from './api.js';
import { ErrorBox, Status, Time } from './components.js';
import { useLoad } from './hooks.js';
import { readText } from './logs.js';
import { SseParser, type SseMessage } from '@acai/sdk/sse';

/** Nodes and instances booting: what they run, how full they are, what they cost so far. */
export function NodesPage() {
  const nodes = useLoad(
    (signal) => api<{ items: NodeView[] }>('/api/v1/nodes', { signal }),
    [],
    () => 5000,
  );
  const now = Date.now();
  return (
    <section>
      <h1>Nodes</h1>
      <ErrorBox error={nodes.error} title="Could not list the nodes" />
      {nodes.data !== undefined &&
        (nodes.data.items.length === 0 ? (
          <p class="muted">No node is running an executor.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Node</th>
                <th>Provider / type</th>
                <th>Pool</th>
                <th>State</th>
                <th>CPU, memory</th>
                <th>Slots used</th>
                <th>Price</th>
                <th>Cost so far</th>
                <th>Last seen</th>
              </tr>
            </thead>
            <tbody>
              {nodes.data.items.map((node) => {
                const hours =
                  node.launchedAt === null ? null : (now - Date.parse(node.launchedAt)) / 3_600_000;
                return (
                  <tr key={node.id}>
                    <td class="mono">{node.id}</td>
                    <td>
                      {node.provider}
                      {node.instanceType !== null && ` / ${node.instanceType}`}
                    </td>
                    <td>{node.pool}</td>
                    <td>
                      <Status status={node.state} />
                    </td>
                    <td>
                      {node.cpu ?? '–'} CPU, {node.memoryMb === null ? '–' : `${node.memoryMb} MB`}
                    </td>
                    <td>
                      {node.jobs.length}
                      {node.slots !== null && ` of ${node.slots}`}
                      {node.slots !== null &&
                        node.slots > 0 &&
                        ` (${Math.round((100 * node.jobs.length) / node.slots)}%)`}
                    </td>
                    <td>
                      {node.pricePerHour === null ? '–' : `$${node.pricePerHour.toFixed(3)}/h`}
                    </td>
                    <td>
                      {node.pricePerHour === null || hours === null
                        ? '–'
                        : `$${(node.pricePerHour * hours).toFixed(4)}`}
                    </td>
                    <td>
                      <Time at={node.lastSeenAt} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        ))}
    </section>
  );
}

const KEEP = 200;

/** The project's live events (`GET /api/v1/events`, Server-Sent Events read with fetch). */
export function EventsPage(props: { type: string }) {
  const [type, setType] = useState(props.type);
  const [filter, setFilter] = useState(props.type);
  const [events, setEvents] = useState<SseMessage[]>([]);
  const [state, setState] = useState<'connecting' | 'live' | 'closed'>('connecting');
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    const controller = new AbortController();
    setEvents([]);
    setError(undefined);
    setState('connecting');
    const listen = async () => {
      try {
        const response = await call(`/api/v1/events${query({ type: filter })}`, {
          signal: controller.signal,
        });
        setState('live');
        const parser = new SseParser();
        await readText(response, controller.signal, (text) => {
          const arrived = parser.feed(text);
          if (arrived.length > 0)
            setEvents((seen) => [...arrived.reverse(), ...seen].slice(0, KEEP));
        });
        if (!controller.signal.aborted) setState('closed');
      } catch (failure) {
        if (controller.signal.aborted) return;
        setState('closed');
        setError(
          failure instanceof ApiError &&
            failure.status === 404 &&
            failure.reason === 'NO_SUCH_ROUTE'
            ? 'This gateway has no live event stream (GET /api/v1/events answered 404): it is older than the dashboard. Upgrade the gateway.'
            : describeError(failure),
        );
      }
    };
    void listen();
    return () => controller.abort();
  }, [filter]);
  return (
    <section>
      <h1>Live events</h1>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter(type.trim());
        }}
      >
        <label>
          Types{' '}
          <input
            name="type"
            placeholder="job.*,run.failed"
            value={type}
            onInput={(e) => setType(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Filter</button>
        <span class={`muted stream-${state}`}>
          {state === 'live'
            ? 'Live: new events appear at the top'
            : state === 'connecting'
              ? 'Connecting…'
              : 'Disconnected'}
        </span>
      </form>
      <ErrorBox error={error} title="The event stream failed" />
      <table>
        <thead>
          <tr>
            <th>#</th>
            <th>Type</th>
            <th>Event</th>
          </tr>
        </thead>
        <tbody>
          {events.map((event) => (
            <tr key={`${event.id ?? ''}-${event.data.length}`}>
              <td>{event.id}</td>
              <td class="mono">{event.event}</td>
              <td class="mono small">{event.data}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** Events a service gave up on (the platform admin key only), with a redrive button each. */
export function DeadLettersPage() {
  const letters = useLoad(
    (signal) => api<DeadLetterList>('/api/v1/admin/dead-letters?limit=100', { signal }),
    [],
  );
  const [message, setMessage] = useState<string | undefined>(undefined);
  const redrive = async (id: string) => {
    try {
      await call(`/api/v1/admin/dead-letters/${id}/redrive`, { method: 'POST', body: {} });
      setMessage(`Letter ${id} taken back.`);
      letters.reload();
    } catch (failure) {
      setMessage(describeError(failure));
    }
  };
  return (
    <section>
      <h1>Dead letters</h1>
      <ErrorBox error={letters.error} title="Could not list the dead letters" />
      {message !== undefined && <p>{message}</p>}
      {letters.data !== undefined && (
        <>
          <p class="muted">
            {letters.data.total} letters
            {letters.data.unanswered.length > 0 &&
              `; not answering: ${letters.data.unanswered.join(', ')}`}
          </p>
          <table>
            <thead>
              <tr>
                <th>When</th>
                <th>Service / consumer</th>
                <th>Event</th>
                <th>Reason</th>
                <th>Error</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {letters.data.items.map((letter) => (
                <tr key={letter.id}>
                  <td>
                    <Time at={letter.createdAt} />
                  </td>
                  <td>
                    {letter.service} / {letter.consumer}
                  </td>
                  <td class="mono small">
                    {letter.type ?? '?'} #{letter.seq}
                  </td>
                  <td>{letter.reason}</td>
                  <td class="small">{letter.error}</td>
                  <td>
                    <button onClick={() => void redrive(letter.id)}>Redrive</button>
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
