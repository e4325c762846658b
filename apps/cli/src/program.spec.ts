import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AcaiApiError, AcaiConnectionError } from '@acai/sdk';
import { ExitCode, exitCodeOf } from './exit.js';
import { metadataOf, run, termsToQuery } from './program.js';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _e: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

let dir: string;
let server: Server;
let url: string;
const keysSeen: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'acai-cli-'));
  // A gateway stand-in: key `good` may list runs, any other key is refused.
  server = createServer((req, res) => {
    keysSeen.push(req.headers.authorization ?? '');
    res.setHeader('content-type', 'application/json');
    if (req.headers.authorization !== 'Bearer good') {
      res.statusCode = 401;
      res.end(JSON.stringify({ status: 401, code: 'UNAUTHENTICATED', detail: 'Unknown API key' }));
      return;
    }
    if (req.url?.startsWith('/api/v1/runs/')) {
      res.statusCode = 404;
      res.end(
        JSON.stringify({
          status: 404,
          code: 'NOT_FOUND',
          reason: 'RUN_NOT_FOUND',
          detail: 'No run run-x',
        }),
      );
      return;
    }
    res.end(JSON.stringify({ items: [], nextCursor: null }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

async function acai(args: string[], env: NodeJS.ProcessEnv = {}, stdin = '') {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await run(args, {
    stdout,
    stderr,
    stdin: Readable.from([stdin]),
    env: { HOME: dir, ACAI_CONFIG: path.join(dir, 'config.json'), ...env },
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('acai command line', () => {
  it('an unknown flag or command is a message and exit 2', async () => {
    const r = await acai(['run', 'ls', '--bogus']);
    expect(r.code).toBe(ExitCode.Usage);
    expect(r.stderr).toContain("unknown option '--bogus'");
    expect((await acai(['frobnicate'])).code).toBe(ExitCode.Usage);
    const bare = await acai(['fileset']);
    expect(bare.code).toBe(ExitCode.Usage);
    expect(bare.stderr).toContain('Usage: acai fileset');
    const help = await acai(['run', '--help']);
    expect(help.code).toBe(ExitCode.Ok);
    expect(help.stdout).toContain('submit [options] <spec>');
    expect((await acai(['run', 'submit'])).stderr).toContain("missing required argument 'spec'");
    expect((await acai(['run', 'ls', '--limit', 'ten'])).stderr).toContain(
      '--limit must be a whole number',
    );
  });

  it('a bad spec file is a message naming what is wrong and exit 2, before anything is sent', async () => {
    const broken = path.join(dir, 'broken.json');
    await writeFile(broken, '{"name": "x", ');
    const invalid = path.join(dir, 'invalid.yaml');
    await writeFile(invalid, 'name: x\nsteps:\n  - name: a\n    command: 12\n');
    const env = { ACAI_URL: url, ACAI_API_KEY: 'good' };
    const before = keysSeen.length;
    const a = await acai(['run', 'submit', broken], env);
    expect(a).toMatchObject({ code: ExitCode.Usage });
    expect(a.stderr).toContain('broken.json is not valid JSON');
    const b = await acai(['run', 'submit', invalid], env);
    expect(b.code).toBe(ExitCode.Usage);
    expect(b.stderr).toMatch(/invalid\.yaml is not a valid run spec:\n {2}steps\.0\.command/);
    expect(keysSeen.length).toBe(before);
    expect(b.stderr).not.toMatch(/\bat .*\.(ts|js):\d+/);
  });

  it('without a login it says how to log in (exit 4)', async () => {
    const r = await acai(['run', 'ls']);
    expect(r.code).toBe(ExitCode.Auth);
    expect(r.stderr).toContain('acai login --url <url> --key <key>');
  });

  it('login checks the key, then stores it readable by its owner only', async () => {
    const refused = await acai(['login', '--url', url, '--key', 'bad']);
    expect(refused.code).toBe(ExitCode.Auth);
    expect(refused.stderr).toContain('refused the API key: Unknown API key');
    await expect(stat(path.join(dir, 'config.json'))).rejects.toThrow();

    const ok = await acai(['login', '--url', url, '--key', 'good', '--project', 'p1']);
    expect(ok.code).toBe(ExitCode.Ok);
    const file = path.join(dir, 'config.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ url, key: 'good', project: 'p1' });

    // --key - reads the key from stdin (not the command line, where `ps` shows it).
    const piped = await acai(['login', '--url', url, '--key', '-'], {}, 'good\n');
    expect(piped.code).toBe(ExitCode.Ok);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({
      key: 'good',
      project: 'default',
    });

    // Stored, it is used; the environment overrides it.
    expect((await acai(['run', 'ls'])).code).toBe(ExitCode.Ok);
    expect((await acai(['run', 'ls'], { ACAI_API_KEY: 'other' })).code).toBe(ExitCode.Auth);
    expect(keysSeen.at(-1)).toBe('Bearer other');
  });

  it('--json prints the result as JSON, and an error as JSON with its exit code', async () => {
    const env = { ACAI_URL: url, ACAI_API_KEY: 'good' };
    const ok = await acai(['--json', 'run', 'ls'], env);
    expect(JSON.parse(ok.stdout)).toEqual({ items: [], nextCursor: null });
    const missing = await acai(['run', 'show', 'run-x', '--json'], env);
    expect(missing.code).toBe(ExitCode.NotFound);
    expect(JSON.parse(missing.stderr)).toEqual({
      error: {
        message: 'No run run-x',
        exitCode: 3,
        status: 404,
        code: 'NOT_FOUND',
        reason: 'RUN_NOT_FOUND',
      },
    });
  });

  it('a server that cannot be reached is exit 5 and one line saying what to check', async () => {
    // A port nothing listens on: taken, then freed.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const r = await acai(['--url', `http://127.0.0.1:${port}`, 'run', 'ls'], {
      ACAI_API_KEY: 'good',
    });
    expect(r.code).toBe(ExitCode.Unavailable);
    expect(r.stderr).toBe(
      `acai: cannot reach acai at http://127.0.0.1:${port}: nothing listens there (connection refused). Is the stack up (\`npm run up\`)? Check the URL (--url, ACAI_URL or \`acai login --url <url> --key <key>\`).\n`,
    );
  });

  it.each([
    ['http://127.0.0.1:1', "--url: 'http://127.0.0.1:1' has port 1, which HTTP clients refuse"],
    ['http://localhost:99999', "--url: 'http://localhost:99999' has port 99999, past 65535"],
    ['notaurl', "--url: 'notaurl' is not a URL"],
    ['ftp://127.0.0.1/', "--url: 'ftp://127.0.0.1/' is not an http(s) URL (ftp)"],
  ])('--url %s is exit 2 and one line, before any request', async (bad, said) => {
    const before = keysSeen.length;
    const r = await acai(['--url', bad, 'run', 'ls'], { ACAI_API_KEY: 'good' });
    expect(r.code).toBe(ExitCode.Usage);
    expect(r.stderr).toMatch(
      new RegExp(`^acai: ${escape(said)}.*e\\.g\\. --url http://127\\.0\\.0\\.1:8080\\n$`),
    );
    expect(keysSeen.length).toBe(before);
  });

  it('names where a bad URL came from: ACAI_URL, or the login to redo', async () => {
    const fromEnv = await acai(['run', 'ls'], { ACAI_URL: 'notaurl', ACAI_API_KEY: 'good' });
    expect(fromEnv).toMatchObject({ code: ExitCode.Usage });
    expect(fromEnv.stderr).toContain("ACAI_URL: 'notaurl' is not a URL: set ACAI_URL");
    const config = path.join(dir, 'bad-url.json');
    await writeFile(config, JSON.stringify({ url: 'http://127.0.0.1:1', key: 'good' }));
    const fromLogin = await acai(['run', 'ls'], { ACAI_CONFIG: config });
    expect(fromLogin).toMatchObject({ code: ExitCode.Usage });
    expect(fromLogin.stderr).toContain(`${config}: 'http://127.0.0.1:1' has port 1`);
    expect(fromLogin.stderr).toContain('run `acai login --url <url> --key <key>`');
  });

  it('--url before the command is the gateway for that command', async () => {
    const r = await acai(['--url', url, 'run', 'ls'], {
      ACAI_URL: 'http://127.0.0.1:1',
      ACAI_API_KEY: 'good',
    });
    expect(r).toMatchObject({ code: ExitCode.Ok, stderr: '' });
  });
});

describe('exit codes', () => {
  const api = (status: number) => new AcaiApiError(status, 'GET', '/x', undefined, '');
  it.each([
    [400, ExitCode.Usage],
    [401, ExitCode.Auth],
    [403, ExitCode.Auth],
    [404, ExitCode.NotFound],
    [409, ExitCode.Refused],
    [422, ExitCode.Refused],
    [429, ExitCode.Unavailable],
    [500, ExitCode.Unavailable],
    [503, ExitCode.Unavailable],
  ])('HTTP %i exits %i', (status, code) => {
    expect(exitCodeOf(api(status))).toBe(code);
  });
  it('an unreachable server exits 5', () => {
    expect(exitCodeOf(new AcaiConnectionError('http://x', new Error('ECONNREFUSED')))).toBe(5);
  });
});

describe('terms', () => {
  it('reads key=value search terms, a repeated key as a list', () => {
    expect(termsToQuery(['label=a', 'label=b', 'meta.x[gte]=0.9', 'q=a=b'])).toEqual({
      label: ['a', 'b'],
      'meta.x[gte]': '0.9',
      q: 'a=b',
    });
    expect(() => termsToQuery(['vision'])).toThrow(/write key=value/);
  });
  it('reads metadata values as JSON when they are', () => {
    expect(metadataOf(['n=10', 'ok=true', 'tags=["a"]', 'task=digits'])).toEqual({
      n: 10,
      ok: true,
      tags: ['a'],
      task: 'digits',
    });
  });
});
