import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

describe('tracing', () => {
  const exporter = new InMemorySpanExporter();
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  });

  afterAll(async () => {
    await system?.close();
  });

  it('follows one run as one trace through gateway, scheduler, provisioner, executor and provenance', async () => {
    const r = await system.api('POST', '/api/v1/runs', {
      name: 'traced',
      steps: [{ name: 'a', command: ['true'] }],
    });
    const { id } = r.body as { id: string };
    await system.waitForRun(id);

    const submit = exporter.getFinishedSpans().find((s) => s.name === 'send scheduler.submit_run');
    expect(submit).toBeDefined();
    const traceId = submit!.spanContext().traceId;
    const services = await eventually('spans of every service', () => {
      const seen = new Set(
        exporter
          .getFinishedSpans()
          .filter((s) => s.spanContext().traceId === traceId)
          .map((s) => String(s.attributes['acai.service'])),
      );
      return ['gateway', 'scheduler', 'provisioner', 'executor', 'provenance'].every((s) =>
        seen.has(s),
      )
        ? [...seen].sort()
        : undefined;
    });
    expect(services).toEqual(
      expect.arrayContaining(['executor', 'gateway', 'provenance', 'provisioner', 'scheduler']),
    );
  });
});
