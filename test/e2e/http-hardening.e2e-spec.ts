import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSystem, type TestSystem } from '../support/system.js';

const sha = (data: string) => createHash('sha256').update(data).digest('hex');

/**
 * Speaks raw HTTP/1.1 to the gateway: writes `request` and collects everything the server sends
 * until it closes the connection.
 */
function raw(url: string, request: string): Promise<{ text: string; closed: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(request));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ text, closed: true }));
  });
}

/**
 * Headers a browser and the gateway agree on, clients that cannot hold the gateway, and a job that
 * cannot flood the logs stream.
 */
describe('downloads, slow or oversized requests, and floods of output', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem({
      env: {
        ACAI_MAX_UPLOAD_BYTES: String(64 * 1024),
        ACAI_HEADERS_TIMEOUT_MS: '1000',
        ACAI_MAX_LOG_BYTES: '4000',
      },
    });
    expect((await system.api('POST', '/api/v1/filesets', { name: 'report' })).status).toBe(201);
  });

  afterAll(async () => {
    await system?.close();
  });

  const download = (name: string, path: string) =>
    fetch(`${system.gatewayUrl}/api/v1/filesets/${name}/versions/latest/files/${path}`, {
      headers: { authorization: `Bearer ${system.key}` },
    });

  it('serves HTML and SVG as attachments, and every file with nosniff and a sandbox', async () => {
    const page = '<script>fetch("/api/v1/runs")</script>';
    const svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>';
    const csv = 'a,b\n1,2\n';
    for (const content of [page, svg, csv]) await system.upload(content, sha(content));
    const committed = await system.api('POST', '/api/v1/filesets/report/versions', {
      parent: 0,
      put: [
        { path: 'index.html', sha256: sha(page), mediaType: 'text/html; charset=utf-8' },
        { path: 'plot.svg', sha256: sha(svg), mediaType: 'image/svg+xml' },
        { path: 'table.csv', sha256: sha(csv) },
      ],
    });
    expect(committed.status).toBe(201);

    const html = await download('report', 'index.html');
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html.headers.get('content-disposition')).toBe(
      `attachment; filename="index.html"; filename*=UTF-8''index.html`,
    );
    expect(html.headers.get('x-content-type-options')).toBe('nosniff');
    expect(html.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
    expect(await html.text()).toBe(page);

    const image = await download('report', 'plot.svg');
    expect(image.headers.get('content-disposition')).toMatch(/^attachment; filename="plot.svg"/);

    const table = await download('report', 'table.csv');
    expect(table.headers.get('content-type')).toBe('text/csv');
    expect(table.headers.get('content-disposition')).toBeNull();
    expect(table.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('refuses a commit whose media type is not one (a header smuggled in it), keeping nothing', async () => {
    const content = 'hello\n';
    await system.upload(content, sha(content));
    const before = await system.api('GET', '/api/v1/filesets/report');
    const refused = await system.api('POST', '/api/v1/filesets/report/versions', {
      parent: 1,
      put: [
        { path: 'hello.txt', sha256: sha(content), mediaType: 'text/plain\r\nSet-Cookie: k=v' },
      ],
    });
    expect(refused.status).toBe(400);
    const error = (refused.body as { error: { details?: { path?: string; message: string }[] } })
      .error;
    expect(error.details?.[0]?.path).toBe('put.0.mediaType');
    expect(error.details?.[0]?.message).toContain("'type/subtype'");
    expect((await system.api('GET', '/api/v1/filesets/report')).body).toEqual(before.body);
  });

  it('answers an upload declared larger than the limit with 413 before reading its body', async () => {
    // Only the headers are sent: the answer must come without the body, and the connection
    // closes so the rest would never be read.
    const { text } = await raw(
      system.gatewayUrl,
      [
        'POST /api/v1/blobs HTTP/1.1',
        `Host: ${new URL(system.gatewayUrl).host}`,
        `Authorization: Bearer ${system.key}`,
        'Content-Type: application/octet-stream',
        `Content-Length: ${10 * 1024 * 1024 * 1024}`,
        '',
        '',
      ].join('\r\n'),
    );
    expect(text).toMatch(/^HTTP\/1.1 413 /);
    expect(text.toLowerCase()).toContain('connection: close');
    expect(text).toContain('UPLOAD_TOO_LARGE');
  });

  it('answers a request that is not HTTP, or whose headers are too large, with a problem document and closes', async () => {
    const host = new URL(system.gatewayUrl).host;
    const problem = (text: string) => {
      const [head, body] = text.split('\r\n\r\n');
      return { head: head!.toLowerCase(), body: JSON.parse(body!) as { status: number } };
    };
    for (const request of [
      `GET /api/v1/runs\u0000 HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
      `GET /api/v1/runs HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n`,
    ]) {
      const { text } = await raw(system.gatewayUrl, request);
      expect(text).toMatch(/^HTTP\/1.1 400 /);
      const { head, body } = problem(text);
      expect(head).toContain('connection: close');
      expect(head).toContain('content-type: application/problem+json');
      expect(body).toMatchObject({ status: 400, reason: 'INVALID_REQUEST' });
    }
    const { text } = await raw(
      system.gatewayUrl,
      `GET /api/v1/filesets/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    );
    expect(text).toMatch(/^HTTP\/1.1 431 /);
    expect(problem(text).body).toMatchObject({ status: 431, reason: 'INVALID_REQUEST' });
  });

  it('disconnects a client that does not finish its headers in time', async () => {
    const { text, closed } = await raw(
      system.gatewayUrl,
      `GET /healthz HTTP/1.1\r\nHost: ${new URL(system.gatewayUrl).host}\r\n`,
    );
    expect(closed).toBe(true);
    // Node answers 408 when it gives up on the headers.
    expect(text).toMatch(/^HTTP\/1.1 408 |^$/);
    // The stack allows 1 s for headers; Node's own default would hold the connection for 60 s or
    // more, past this test's 30 s, so the test fails without the setting.
  }, 30_000);

  it('cuts a job’s output at ACAI_MAX_LOG_BYTES with a line saying so; the job still succeeds', async () => {
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'chatty',
      steps: [
        {
          name: 'flood',
          command: [
            'sh',
            '-c',
            'for i in $(seq 1 2000); do echo "line $i of a flood of output"; done',
          ],
        },
      ],
    });
    expect(submitted.status).toBe(202);
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    expect((await system.waitForRun(id)).status).toBe('succeeded');
    const logs = await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/logs`);
    const lines = logs.text.trimEnd().split('\n');
    expect(lines[0]).toBe('line 1 of a flood of output');
    expect(lines.at(-1)).toBe(
      'acai: output truncated: this attempt printed more than 4000 bytes (ACAI_MAX_LOG_BYTES); the rest is not kept',
    );
    expect(logs.text).not.toContain('line 2000 ');
    expect(Buffer.byteLength(logs.text)).toBeLessThan(4000 + 200);
  });

  it('records the failure of a job that prints megabytes without a newline, with bounded last lines', async () => {
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'one-long-line',
      steps: [
        {
          name: 'no-newline',
          // 20 MB on one line, then a failure: read in bounded pieces, recorded with its end.
          command: ['sh', '-c', "head -c 20000000 /dev/zero | tr '\\0' x; exit 3"],
        },
      ],
    });
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    expect((await system.waitForRun(id, system.key, 60_000)).status).toBe('failed');
    const history = (await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/history`)).body as {
      type: string;
      data: { reason: string; lastLines: string[] };
    }[];
    const failed = history.find((e) => e.type === 'job.failed')!;
    expect(failed.data.reason).toBe('nonzero_exit');
    expect(failed.data.lastLines.join('').length).toBeLessThanOrEqual(8 * 1024);
    expect(failed.data.lastLines.at(-1)).toMatch(/^…?x+$/);
  });
});
