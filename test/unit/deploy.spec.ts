import { describe, it, expect } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { deploymentNatsUsers, natsAuthConfig } from '@acai/devstack';
import fs from 'node:fs';
import path from 'node:path';
import { defaultTopology } from '@acai/contracts';
import { silentLogger, type Bus } from '@acai/eventing';
import { ServiceMetrics } from '../../libs/platform/src/metrics.js';
import { ConsumerMetrics } from '../../libs/platform/src/consumer-metrics.js';
import { dispatchMetrics } from '../../apps/scheduler/src/dispatch/dispatch-metrics.js';
import { busMetrics } from '../../apps/gateway/src/events/event-log-metrics.js';
import { ProjectEvents } from '../../apps/gateway/src/events/event-stream.js';

// Static checks of deploy/: the compose stack and the Kubernetes manifests stay complete and consistent.
const root = path.resolve(import.meta.dirname, '../..');
const deployDir = path.join(root, 'deploy');
const k8sDir = path.join(deployDir, 'k8s');
const SERVICES = ['gateway', 'catalog', 'provisioner', 'scheduler', 'executor', 'provenance'];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const at = (v: unknown, ...keys: string[]): unknown => keys.reduce((o, k) => obj(o)[k], v);

/** A YAML file's documents as plain values (none if it does not parse), path relative to the root. */
function readYaml(file: string): { file: string; docs: unknown[]; errors: string[] } {
  const docs = Array.from(parseAllDocuments(fs.readFileSync(file, 'utf8'), { merge: true }));
  const errors = docs.flatMap((d) => d.errors.map((e) => e.message));
  return {
    file: path.relative(root, file),
    errors,
    docs: errors.length > 0 ? [] : docs.map((d): unknown => d.toJS()).filter((d) => d != null),
  };
}

const yamlFiles = fs
  .readdirSync(deployDir, { recursive: true, encoding: 'utf8' })
  .filter((f) => /\.ya?ml$/.test(f))
  .sort()
  .map((f) => readYaml(path.join(deployDir, f)));
const k8sFiles = yamlFiles.filter((y) => y.file.startsWith(path.join('deploy', 'k8s') + path.sep));
const k8sDocs = k8sFiles.flatMap((y) => y.docs.map((doc) => ({ file: y.file, doc })));
const ofKind = (kind: string) => k8sDocs.filter(({ doc }) => at(doc, 'kind') === kind);
const compose = yamlFiles.find((y) => y.file === path.join('deploy', 'compose', 'compose.yaml'));
const composeServices = obj(at(compose?.docs[0], 'services'));

function* leaves(v: unknown, key = ''): Generator<[string, string]> {
  if (typeof v === 'string') yield [key, v];
  else if (Array.isArray(v)) for (const x of v) yield* leaves(x, key);
  else if (isObj(v)) for (const [k, x] of Object.entries(v)) yield* leaves(x, k);
}

describe('deploy/', () => {
  it('has a compose file and Kubernetes manifests', () => {
    expect(compose?.file).toBe(path.join('deploy', 'compose', 'compose.yaml'));
    expect(k8sFiles.length).toBeGreaterThan(SERVICES.length);
  });

  it('every YAML document parses without errors', () => {
    const problems = yamlFiles.flatMap((y) => y.errors.map((e) => `${y.file}: ${e}`));
    expect(problems).toEqual([]);
  });

  it('every Kubernetes document has apiVersion, kind and metadata.name', () => {
    const problems = k8sDocs.flatMap(({ file, doc }) =>
      [['apiVersion'], ['kind'], ['metadata', 'name']]
        .filter((keys) => !str(at(doc, ...keys)))
        .map((keys) => `${file}: a ${str(at(doc, 'kind')) ?? '?'} has no ${keys.join('.')}`),
    );
    expect(problems).toEqual([]);
  });

  it('runs exactly one Deployment per service, and no others', () => {
    const names = ofKind('Deployment').map(({ doc }) => str(at(doc, 'metadata', 'name')) ?? '?');
    expect(names.sort()).toEqual([...SERVICES].sort());
  });

  it('every Deployment probes /healthz and /readyz, takes acai-config and acai-secrets, runs as non-root', () => {
    const problems: string[] = [];
    for (const { file, doc } of ofKind('Deployment')) {
      const pod = at(doc, 'spec', 'template', 'spec');
      const containers = arr(at(pod, 'containers'));
      if (containers.length === 0) problems.push(`${file}: Deployment has no containers`);
      for (const c of containers) {
        const where = `${file}: container ${str(at(c, 'name')) ?? '?'}`;
        if (at(c, 'livenessProbe', 'httpGet', 'path') !== '/healthz')
          problems.push(`${where}: livenessProbe is not GET /healthz`);
        if (at(c, 'readinessProbe', 'httpGet', 'path') !== '/readyz')
          problems.push(`${where}: readinessProbe is not GET /readyz`);
        const refs = arr(at(c, 'envFrom')).map(
          (e) => at(e, 'configMapRef', 'name') ?? at(e, 'secretRef', 'name'),
        );
        for (const name of ['acai-config', 'acai-secrets']) {
          if (!refs.includes(name)) problems.push(`${where}: envFrom does not include ${name}`);
        }
        if (
          at(pod, 'securityContext', 'runAsNonRoot') !== true &&
          at(c, 'securityContext', 'runAsNonRoot') !== true
        ) {
          problems.push(`${where}: securityContext.runAsNonRoot is not true`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('kustomization.yaml lists every other manifest in deploy/k8s', () => {
    const kustomization = k8sFiles.find((y) => path.basename(y.file) === 'kustomization.yaml');
    const listed = arr(at(kustomization?.docs[0], 'resources')).map((r) => str(r) ?? '?');
    const present = fs
      .readdirSync(k8sDir)
      .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
    expect(listed.sort()).toEqual(present.sort());
  });

  it('runs NATS as a 3-node JetStream cluster in compose and in Kubernetes', () => {
    const natsNodes = Object.entries(composeServices).filter(([, s]) =>
      str(at(s, 'image'))?.startsWith('nats:'),
    );
    expect(natsNodes.map(([name]) => name)).toHaveLength(3);
    const problems = natsNodes
      .filter(([, s]) => !arr(at(s, 'command')).includes('-js'))
      .map(([name]) => `compose service ${name} does not start nats-server with -js`);
    expect(problems).toEqual([]);
    const sets = ofKind('StatefulSet').filter(({ doc }) => at(doc, 'metadata', 'name') === 'nats');
    expect(sets.map(({ doc }) => at(doc, 'spec', 'replicas'))).toEqual([3]);
  });

  it('compose defines the six services, nats and postgres; each service depends on nats and postgres', () => {
    expect(Object.keys(composeServices)).toEqual(
      expect.arrayContaining([...SERVICES, 'nats', 'postgres']),
    );
    const problems = SERVICES.flatMap((name) => {
      const d = at(composeServices[name], 'depends_on');
      const deps = Array.isArray(d) ? d.map((x) => str(x)) : Object.keys(obj(d));
      return ['nats', 'postgres']
        .filter((n) => !deps.includes(n))
        .map((n) => `compose service ${name} does not depend_on ${n}`);
    });
    expect(problems).toEqual([]);
  });

  it('no manifest carries a real-looking secret', () => {
    const problems: string[] = [];
    for (const y of yamlFiles) {
      for (const [key, value] of leaves(y.docs)) {
        // Map form (KEY: value) and list form (KEY=value) of environment variables.
        const [name, setting] = /^\w+=/.test(value) ? value.split(/=(.*)/s) : [key, value];
        // CHANGE_ME, CHANGE_ME_<user>, or compose's ${VAR:-CHANGE_ME_<user>} from the shell.
        const placeholder = /^(\$\{\w+:-)?CHANGE_ME(_\w+)?\}?$/;
        if (/PASSWORD|TOKEN|API_KEY/i.test(name ?? '') && !placeholder.test(setting ?? ''))
          problems.push(`${y.file}: ${name} is not CHANGE_ME`);
        for (const m of value.matchAll(/postgres(?:ql)?:\/\/[^:@/\s]+:([^@\s]*)@/g)) {
          // A placeholder, or a reference to a variable that holds the password.
          if (!placeholder.test(m[1] ?? '') && !/^\$\(\w+\)$/.test(m[1] ?? ''))
            problems.push(`${y.file}: ${key} has a password other than CHANGE_ME`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('every NATS in compose and Kubernetes requires the users of deploy/nats/auth.conf, generated from the bus roles', () => {
    const generated = natsAuthConfig(deploymentNatsUsers());
    const body = (text: string) =>
      text
        .split('\n')
        .filter((line) => !line.startsWith('#') && line.trim() !== '')
        .join('\n');
    const file = fs.readFileSync(path.join(deployDir, 'nats', 'auth.conf'), 'utf8');
    expect(body(file)).toBe(body(generated));
    const config = ofKind('ConfigMap').find(
      ({ doc }) => at(doc, 'metadata', 'name') === 'nats-config',
    );
    expect(body(str(at(config?.doc, 'data', 'auth.conf')) ?? '')).toBe(body(generated));
    expect(str(at(config?.doc, 'data', 'nats.conf'))).toContain('include ./auth.conf');
    const natsNodes = Object.entries(composeServices).filter(([, s]) =>
      str(at(s, 'image'))?.startsWith('nats:'),
    );
    for (const [name, node] of natsNodes) {
      expect([name, arr(at(node, 'command'))]).toEqual([
        name,
        expect.arrayContaining(['--config=/etc/nats/auth.conf']),
      ]);
    }
  });

  it('every service logs in to Postgres as its own role, made by the roles step, in compose and in Kubernetes', () => {
    const problems: string[] = [];
    const role = (url: unknown) => /^postgres:\/\/([^:@/]+):/.exec(str(url) ?? '')?.[1];
    for (const name of SERVICES) {
      const service = composeServices[name];
      if (role(at(service, 'environment', 'DATABASE_URL')) !== `acai_${name}`)
        problems.push(`compose service ${name} does not log in to Postgres as acai_${name}`);
      if (at(service, 'depends_on', 'db-roles', 'condition') !== 'service_completed_successfully')
        problems.push(`compose service ${name} does not wait for db-roles`);
    }
    const rolesStep = composeServices['db-roles'];
    expect(arr(at(rolesStep, 'command'))).toContain('libs/devstack/dist/db-roles-main.js');
    for (const { file, doc } of ofKind('Deployment')) {
      const name = str(at(doc, 'metadata', 'name'));
      for (const c of arr(at(doc, 'spec', 'template', 'spec', 'containers'))) {
        const env = arr(at(c, 'env'));
        const url = env.find((e) => at(e, 'name') === 'DATABASE_URL');
        const password = env.find((e) => at(e, 'name') === 'ACAI_DB_PASSWORD');
        if (role(at(url, 'value')) !== `acai_${name}`)
          problems.push(`${file}: DATABASE_URL does not log in as acai_${name}`);
        if (at(password, 'valueFrom', 'secretKeyRef', 'name') !== 'postgres-users')
          problems.push(`${file}: ACAI_DB_PASSWORD does not come from Secret postgres-users`);
        // The admin URL is the roles job's only.
        const refs = arr(at(c, 'envFrom')).map((e) => at(e, 'secretRef', 'name'));
        if (refs.includes('postgres-admin')) problems.push(`${file}: sees Secret postgres-admin`);
      }
    }
    const jobs = ofKind('Job').map(({ doc }) => str(at(doc, 'metadata', 'name')));
    expect(jobs).toContain('acai-db-roles');
    expect(problems).toEqual([]);
  });

  it('every service logs in to NATS as itself, in compose and in Kubernetes', () => {
    const problems: string[] = [];
    for (const name of SERVICES) {
      if (at(composeServices[name], 'environment', 'ACAI_NATS_USER') !== name)
        problems.push(`compose service ${name} does not log in to NATS as ${name}`);
    }
    for (const { file, doc } of ofKind('Deployment')) {
      const name = str(at(doc, 'metadata', 'name'));
      for (const c of arr(at(doc, 'spec', 'template', 'spec', 'containers'))) {
        const env = arr(at(c, 'env'));
        const user = env.find((e) => at(e, 'name') === 'ACAI_NATS_USER');
        const password = env.find((e) => at(e, 'name') === 'ACAI_NATS_PASSWORD');
        if (at(user, 'value') !== name) problems.push(`${file}: ACAI_NATS_USER is not ${name}`);
        if (at(password, 'valueFrom', 'secretKeyRef', 'name') !== 'nats-users')
          problems.push(`${file}: ACAI_NATS_PASSWORD does not come from Secret nats-users`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('deploy/grafana and deploy/prometheus', () => {
  const dashboard = JSON.parse(
    fs.readFileSync(path.join(deployDir, 'grafana', 'acai-dashboard.json'), 'utf8'),
  ) as { panels: { title: string; targets: { expr: string }[] }[] };
  const scrape = readYaml(path.join(deployDir, 'prometheus', 'prometheus.yml'));

  /** Every metric the services register, made by the code that registers them in each service. */
  function exported(): Set<string> {
    const metrics = new ServiceMetrics('any');
    new ConsumerMetrics(metrics.registry, () => Promise.resolve(new Map()));
    dispatchMetrics(metrics, silentLogger);
    const bus = { topology: defaultTopology } as unknown as Bus;
    busMetrics(metrics, bus);
    new ProjectEvents(bus, metrics);
    return new Set(
      metrics.registry.getMetricsAsArray().flatMap((m) => {
        const name = m.name;
        // A histogram is queried by its series: name_bucket, name_sum, name_count.
        return String(m.type) === 'histogram'
          ? [`${name}_bucket`, `${name}_sum`, `${name}_count`]
          : [name];
      }),
    );
  }

  it('has the panels an operator needs, each with a query', () => {
    const titles = dashboard.panels.map((p) => p.title);
    for (const needed of [
      'Events per second',
      'Consumer lag',
      'Dead letters',
      'Queue depth per pool',
      'Job outcomes',
      'API p95 latency',
    ]) {
      expect(titles).toContain(needed);
    }
    for (const panel of dashboard.panels) expect(panel.targets.length).toBeGreaterThan(0);
  });

  it('uses only metrics some service exports', () => {
    const names = exported();
    const used = dashboard.panels.flatMap((p) =>
      p.targets.flatMap((t) => [...t.expr.matchAll(/\bacai_[a-z0-9_]+/g)].map((m) => m[0])),
    );
    expect(used.length).toBeGreaterThan(10);
    expect([...new Set(used)].filter((name) => !names.has(name))).toEqual([]);
  });

  it('scrapes /metrics of every service, on the ports the compose stack gives them', () => {
    expect(scrape.errors).toEqual([]);
    const jobs = arr(at(scrape.docs[0], 'scrape_configs'));
    const targets = jobs
      .flatMap((j) => arr(at(j, 'static_configs')))
      .flatMap((c) => arr(at(c, 'targets')))
      .map(String);
    const ports = SERVICES.map((s) => {
      const env = obj(at(composeServices[s], 'environment'));
      return `${s}:${str(env['ACAI_HTTP_PORT']) ?? '?'}`;
    });
    expect(targets.sort()).toEqual(ports.sort());
    for (const job of jobs) expect(at(job, 'metrics_path')).toBe('/metrics');
  });
});
