import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startStack, type Stack } from '@acai/devstack';
import { eventually } from '@acai/testkit';

const root = path.resolve(import.meta.dirname, '../..');

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
}
interface OtlpExport {
  resourceSpans: {
    resource: { attributes: OtlpAttribute[] };
    scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[];
  }[];
}
interface SeenSpan extends OtlpSpan {
  service: string;
  scope: string;
}

const SERVER = 2;

function attribute(attributes: OtlpAttribute[] | undefined, key: string): string | undefined {
  const value = attributes?.find((a) => a.key === key)?.value;
  return value?.stringValue ?? (value?.intValue === undefined ? undefined : String(value.intValue));
}

/**
 * The services as `npm run up` starts them, each its own process, exporting traces over OTLP/HTTP
 * to a collector played by this test: one run is one trace across every service, and the
 * libraries they talk through (HTTP, Postgres) appear in it without code of acai's.
 */
describe('traces exported over OTLP from real service processes', () => {
  const spans: SeenSpan[] = [];
  let collector: Server;
  let stack: Stack | undefined;
  let home: string;

  beforeAll(async () => {
    collector = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        if (request.url === '/v1/traces') {
          const exported = JSON.parse(body) as OtlpExport;
          for (const resource of exported.resourceSpans) {
            const service = attribute(resource.resource.attributes, 'service.name') ?? '?';
            for (const scope of resource.scopeSpans) {
              for (const span of scope.spans)
                spans.push({ ...span, service, scope: scope.scope.name });
            }
          }
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const port = (collector.address() as AddressInfo).port;
    home = await mkdtemp(path.join(os.tmpdir(), 'acai-otlp-'));
    stack = await startStack({
      root,
      home,
      gatewayPort: 0,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, ACAI_LOG_LEVEL: 'warn' },
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await new Promise((resolve) => collector.close(resolve));
    await rm(home, { recursive: true, force: true });
  });

  it('follows a run from the HTTP request through every service and its Postgres queries, and sends the last spans at shutdown', async () => {
    const spec = JSON.parse(
      (await readFile(path.join(root, 'examples/hello/run.json'), 'utf8')).replaceAll(
        '{{examples}}',
        await stack!.examples(),
      ),
    ) as unknown;
    const headers = {
      authorization: `Bearer ${stack!.key()}`,
      'content-type': 'application/json',
    };
    const submitted = await fetch(`${stack!.gatewayUrl}/api/v1/runs`, {
      method: 'POST',
      headers,
      body: JSON.stringify(spec),
    });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    await eventually('the run to succeed', async () => {
      const run = (await (
        await fetch(`${stack!.gatewayUrl}/api/v1/runs/${id}`, { headers })
      ).json()) as { status: string };
      return run.status === 'succeeded' ? run : undefined;
    });
    // Stopping flushes what each service's exporter still holds.
    await stack!.stop();
    stack = undefined;

    // The request, as the HTTP instrumentation saw it in the gateway...
    const request = spans.find(
      (s) =>
        s.service === 'gateway' &&
        s.kind === SERVER &&
        attribute(s.attributes, 'http.route') === '/api/v1/runs' &&
        (attribute(s.attributes, 'http.request.method') ??
          attribute(s.attributes, 'http.method')) === 'POST',
    );
    expect(request).toBeDefined();
    // ...is the root of the run's trace, which every service took part in.
    const trace = spans.filter((s) => s.traceId === request!.traceId);
    const services = [...new Set(trace.map((s) => s.service))].sort();
    expect(services).toEqual(
      expect.arrayContaining(['executor', 'gateway', 'provenance', 'provisioner', 'scheduler']),
    );
    expect(trace.some((s) => s.name === 'send scheduler.submit_run')).toBe(true);
    // Postgres queries are spans too, from the pg instrumentation, in the services that query.
    const queries = spans.filter((s) => s.scope.includes('instrumentation-pg'));
    expect(queries.length).toBeGreaterThan(0);
    expect(queries.some((s) => s.traceId === request!.traceId)).toBe(true);
    // Health checks are not traced.
    expect(
      spans.some((s) => /healthz|readyz/.test(attribute(s.attributes, 'url.path') ?? '')),
    ).toBe(false);
  });
});
