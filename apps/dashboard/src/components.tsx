import { Component, type ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { Graph, layout } from '@dagrejs/dagre';
import { describeError } from './api.js';
import { navigate } from './router.js';

export function ErrorBox(props: { error: string | undefined; title?: string }) {
  if (props.error === undefined) return null;
  return (
    <div class="error" role="alert">
      <strong>{props.title ?? 'Something went wrong'}:</strong> {props.error}
    </div>
  );
}

export function Status(props: { status: string }) {
  return <span class={`status status-${props.status}`}>{props.status}</span>;
}

/** A JSON value: inline when short, folded when long. */
export function Json(props: { value: unknown }) {
  const text = JSON.stringify(props.value);
  if (text.length <= 160) return <span class="mono small">{text}</span>;
  return (
    <details>
      <summary class="mono small">{text.slice(0, 120)}…</summary>
      <pre>{JSON.stringify(props.value, null, 2)}</pre>
    </details>
  );
}

export function Time(props: { at: string | null | undefined }) {
  if (props.at === null || props.at === undefined) return <span class="muted">–</span>;
  const date = new Date(props.at);
  return <time dateTime={props.at}>{date.toLocaleString()}</time>;
}

/** A page that throws while rendering shows what went wrong, never a blank page. */
export class ErrorBoundary extends Component<{ children: ComponentChildren }, { error?: string }> {
  override state: { error?: string } = {};

  override componentDidCatch(error: unknown): void {
    this.setState({ error: describeError(error) });
  }

  override render() {
    if (this.state.error !== undefined) {
      return (
        <div>
          <ErrorBox title="This page failed" error={this.state.error} />
          <button onClick={() => this.setState({ error: undefined })}>Try again</button>
        </div>
      );
    }
    return this.props.children;
  }
}

export interface DagNode {
  readonly id: string;
  readonly label: string;
  readonly sublabel?: string;
  readonly status?: string;
  readonly href?: string;
}

const NODE_WIDTH = 170;
const NODE_HEIGHT = 46;

/** A directed graph laid out by dagre, left to right, as SVG: each node a box, its status its colour. */
export function Dag(props: {
  nodes: readonly DagNode[];
  edges: readonly (readonly [string, string])[];
  label: string;
}) {
  const graph = new Graph<{ rankdir: string; nodesep: number; ranksep: number }>();
  graph.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 60 });
  graph.setDefaultEdgeLabel(() => ({}));
  const known = new Set(props.nodes.map((n) => n.id));
  for (const node of props.nodes)
    graph.setNode(node.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const [from, to] of props.edges) {
    if (known.has(from) && known.has(to)) graph.setEdge(from, to);
  }
  layout(graph);
  const size = graph.graph() as { width?: number; height?: number };
  const width = (size.width ?? 0) + 20;
  const height = (size.height ?? 0) + 20;
  return (
    <svg
      class="dag"
      role="img"
      aria-label={props.label}
      width={width}
      height={height}
      viewBox={`-10 -10 ${width} ${height}`}
    >
      <defs>
        <marker
          id="arrow"
          viewBox="0 0 10 10"
          refX="9"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto"
        >
          <path d="M0,0 L10,5 L0,10 z" class="dag-arrow" />
        </marker>
      </defs>
      {graph.edges().map((edge) => {
        const points = (graph.edge(edge) as { points?: { x: number; y: number }[] }).points ?? [];
        const d = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x},${p.y}`).join(' ');
        return (
          <path key={`${edge.v}->${edge.w}`} d={d} class="dag-edge" marker-end="url(#arrow)" />
        );
      })}
      {props.nodes.map((node) => {
        const at = graph.node(node.id) as { x: number; y: number };
        const open = node.href === undefined ? undefined : () => navigate(node.href ?? '/');
        return (
          <g
            key={node.id}
            class={`dag-node status-${node.status ?? 'none'}${open === undefined ? '' : ' clickable'}`}
            data-node={node.label}
            data-status={node.status}
            transform={`translate(${at.x - NODE_WIDTH / 2},${at.y - NODE_HEIGHT / 2})`}
            onClick={open}
          >
            <title>{`${node.label}${node.status === undefined ? '' : `: ${node.status}`}`}</title>
            <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx="6" />
            <text x="10" y="19" class="dag-label">
              {node.label.length > 22 ? `${node.label.slice(0, 21)}…` : node.label}
            </text>
            <text x="10" y="36" class="dag-sublabel">
              {node.sublabel ?? node.status ?? ''}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

const WHOLE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 100_000];

/** One metric's values by step (or by report, when it gave no step), drawn with uPlot. */
export function MetricChart(props: { name: string; points: readonly { x: number; y: number }[] }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = host.current;
    if (element === null) return;
    const xs = props.points.map((p) => p.x);
    const ys = props.points.map((p) => p.y);
    const plot = new uPlot(
      {
        title: props.name,
        width: Math.min(560, Math.max(320, element.clientWidth || 560)),
        height: 220,
        scales: { x: { time: false } },
        // Epochs and steps are whole numbers: no tick at 1.5.
        axes: [{ label: 'epoch / step', incrs: WHOLE_STEPS }, { label: props.name }],
        series: [
          { label: 'step' },
          { label: props.name, stroke: '#2563eb', width: 2, points: { show: true } },
        ],
      },
      [xs, ys],
      element,
    );
    return () => plot.destroy();
  }, [props.name, props.points]);
  return <div class="chart" data-metric={props.name} ref={host} />;
}
