import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

// The real `acai` binary (node_modules/.bin/acai, the workspace bin link to apps/cli, built by
// scripts/build.mjs) against the real stack, as a user runs it.
const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'node_modules', '.bin', 'acai');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('the acai CLI', () => {
  let system: TestSystem;
  let home: string;
  let env: NodeJS.ProcessEnv;

  /** Runs `acai` with these arguments (no terminal: stdout is a pipe). */
  const acai = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> =>
    run(bin, args, { ...env, ...extra });
  /** Runs a shell command line in a pseudo-terminal (util-linux `script`): stdout is a TTY. */
  const inPty = (line: string): Promise<Ran> =>
    run('script', ['-qfec', line, '/dev/null'], { ...env, ...admin(), TERM: 'xterm' });
  /** The default project's admin key from the environment: a test that runs alone needs no login. */
  const admin = () => ({ ACAI_URL: system.gatewayUrl, ACAI_API_KEY: system.key });

  beforeAll(async () => {
    system = await startSystem();
    home = await mkdtemp(path.join(os.tmpdir(), 'acai-cli-e2e-'));
    env = {
      PATH: `${path.join(root, 'node_modules', '.bin')}:${process.env['PATH'] ?? ''}`,
      HOME: home,
      ACAI_CONFIG: path.join(home, 'config', 'acai.json'),
    };
  });

  afterAll(async () => {
    await system?.close();
    if (home !== undefined) await rm(home, { recursive: true, force: true });
  });

  it('logs in, pushes a folder, runs a spec to its end, shows its logs, and says what failed', async () => {
    // login: checked, then stored for the owner only.
    const badLogin = await acai(['login', '--url', system.gatewayUrl, '--key', 'acai_nope']);
    expect(badLogin.code).toBe(4);
    expect(badLogin.stderr).toContain('acai login');
    const login = await acai(['login', '--url', system.gatewayUrl, '--key', system.key]);
    expect(login).toMatchObject({ code: 0, stderr: '' });
    expect((await stat(env['ACAI_CONFIG']!)).mode & 0o777).toBe(0o600);

    // fileset push: a folder, each file streamed and verified; --json parsed.
    const data = path.join(home, 'data');
    await mkdir(path.join(data, 'sub'), { recursive: true });
    const a = randomBytes(300_000);
    await writeFile(path.join(data, 'a.bin'), a);
    await writeFile(path.join(data, 'sub', 'b.txt'), 'hello\n');
    const push = await acai([
      'fileset',
      'push',
      'cli-data',
      data,
      '--label',
      'raw',
      '--meta',
      'rows=2',
    ]);
    expect(push.code).toBe(0);
    expect(push.stdout).toContain('uploading a.bin (1/2)');
    expect(push.stdout).toContain('committed cli-data v1: 2 files');
    const again = await acai(['--json', 'fileset', 'push', 'cli-data', data]);
    expect(JSON.parse(again.stdout)).toMatchObject({ committed: false, version: 1 });

    const shown = await acai(['fileset', 'show', 'cli-data', 'latest', '--json']);
    expect(shown.code).toBe(0);
    const version = JSON.parse(shown.stdout) as {
      version: number;
      labels: string[];
      metadata: unknown;
      items: { path: string; sha256: string }[];
    };
    expect(version).toMatchObject({ version: 1, labels: ['raw'], metadata: { rows: 2 } });
    expect(version.items.map((f) => [f.path, f.sha256])).toEqual([
      ['a.bin', createHash('sha256').update(a).digest('hex')],
      ['sub/b.txt', createHash('sha256').update('hello\n').digest('hex')],
    ]);
    const ls = await acai(['fileset', 'ls']);
    expect(ls.stdout).toMatch(/cli-data\s+v1\s+/);
    const found = await acai([
      '--json',
      'fileset',
      'search',
      '--versions',
      'label=raw',
      'meta.rows[gte]=2',
    ]);
    expect(
      (JSON.parse(found.stdout) as { items: { fileset: string; version: number }[] }).items.map(
        (v) => [v.fileset, v.version],
      ),
    ).toEqual([['cli-data', 1]]);
    const byName = await acai(['fileset', 'search', 'prefix=cli-d']);
    expect(byName.stdout).toMatch(/^name\s+latest[^\n]*\ncli-data\s+v1/);

    // fileset pull: the same bytes back.
    const out = path.join(home, 'out');
    const pull = await acai(['fileset', 'pull', 'cli-data', '1', '--to', out]);
    expect(pull.code).toBe(0);
    expect((await readFile(path.join(out, 'a.bin'))).equals(a)).toBe(true);
    expect(await readFile(path.join(out, 'sub', 'b.txt'), 'utf8')).toBe('hello\n');

    // run submit --follow of a YAML spec: plain lines (no terminal), exit 0 when it succeeds.
    const spec = path.join(home, 'hello.yaml');
    await writeFile(
      spec,
      [
        'name: cli-hello',
        'steps:',
        '  - name: count',
        '    command: [sh, -c, "echo counting; sleep 0.5; echo done counting"]',
        '',
      ].join('\n'),
    );
    const submitted = await acai(['run', 'submit', spec, '--follow', '--interval', '200']);
    expect(submitted.stderr).toBe('');
    expect(submitted.code).toBe(0);
    const runId = /submitted run (run-[0-9a-z]+)/.exec(submitted.stdout)?.[1];
    expect(runId).toBeDefined();
    expect(submitted.stdout).toMatch(/cli-hello (queued|running) \| jobs 0\/1/);
    expect(submitted.stdout).toContain(`run ${runId} succeeded`);
    expect(submitted.stdout).not.toContain('\u001b['); // no escape sequences when not a terminal

    const show = await acai(['run', 'show', runId!, '--json']);
    const view = JSON.parse(show.stdout) as {
      status: string;
      jobs: { id: string; name: string }[];
    };
    expect(view.status).toBe('succeeded');
    const jobId = view.jobs[0]!.id;
    const logs = await acai(['logs', jobId]);
    expect(logs).toMatchObject({ code: 0, stdout: 'counting\ndone counting\n' });
    const followed = await acai(['logs', '-f', jobId]);
    expect(followed).toMatchObject({ code: 0, stdout: 'counting\ndone counting\n' });
    const runs = await acai(['--json', 'run', 'ls']);
    expect(
      (JSON.parse(runs.stdout) as { items: { id: string }[] }).items.map((r) => r.id),
    ).toContain(runId);

    const history = await acai(['history', jobId]);
    expect(history.stdout).toMatch(/job\.queued[\s\S]*job\.succeeded/);
    const timeline = await acai(['--json', 'run', 'timeline', runId!]);
    expect(timeline.code).toBe(0);

    // A second version, its diff, a pin; keys made, listed and revoked.
    await writeFile(path.join(data, 'c.txt'), 'new\n');
    expect((await acai(['fileset', 'push', 'cli-data', data])).stdout).toContain(
      'committed cli-data v2',
    );
    const diff = await acai(['fileset', 'diff', 'cli-data', '1', '2']);
    expect(diff.stdout).toBe('cli-data v1 → v2\n+ c.txt\n');
    expect((await acai(['fileset', 'pin', 'cli-data', '2'])).stdout).toBe('cli-data v2 pinned\n');
    const created = await acai([
      '--json',
      'keys',
      'create',
      '--scope',
      'read',
      '--name',
      'cli-e2e',
    ]);
    const key = JSON.parse(created.stdout) as { id: string; key: string };
    expect((await acai(['run', 'ls'], { ACAI_API_KEY: key.key })).code).toBe(0);
    const forbidden = await acai(['run', 'cancel', runId!], { ACAI_API_KEY: key.key });
    expect(forbidden.code).toBe(4);
    expect(forbidden.stderr).toContain('this key may not do that');
    expect((await acai(['keys', 'ls'])).stdout).toContain(key.id);
    expect((await acai(['keys', 'revoke', key.id])).code).toBe(0);
    expect((await acai(['run', 'ls'], { ACAI_API_KEY: key.key })).code).toBe(4);

    // A run that fails: exit 1, and where to look.
    const failing = path.join(home, 'fail.json');
    await writeFile(
      failing,
      JSON.stringify({
        name: 'cli-fail',
        steps: [{ name: 'boom', command: ['sh', '-c', 'exit 3'] }],
      }),
    );
    const failed = await acai(['run', 'submit', failing, '-f', '--interval', '200']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/run run-[0-9a-z]+ failed: see `acai run timeline/);
  });

  it('follows a running job’s logs live, stops on Ctrl-C, and cancels the run', async () => {
    const spec = path.join(home, 'long.json');
    await writeFile(
      spec,
      JSON.stringify({
        name: 'cli-long',
        steps: [{ name: 'tick', command: ['sh', '-c', 'echo started; sleep 60; echo never'] }],
      }),
    );
    const submitted = await acai(['--json', 'run', 'submit', spec], admin());
    const { id, jobs } = JSON.parse(submitted.stdout) as { id: string; jobs: { id: string }[] };
    const follower = spawn(bin, ['logs', '-f', jobs[0]!.id], { env: { ...env, ...admin() } });
    let lines = '';
    follower.stdout.on('data', (c: Buffer) => (lines += c.toString()));
    const exited = new Promise<number | null>((resolve) => follower.on('close', resolve));
    await eventually('the first line, live', () => (lines === 'started\n' ? true : undefined));
    follower.kill('SIGINT');
    expect(await exited).toBe(130);

    expect((await acai(['run', 'cancel', id], admin())).stdout).toBe(`cancelling run ${id}\n`);
    const shown = await acai(['run', 'show', id, '-f', '--interval', '200'], admin());
    expect(shown.code).toBe(1);
    expect(shown.stdout).toContain(`run ${id} cancelled`);
  });

  it('exits 3 for what is not there, 4 for a refused key, 2 for a bad command line or spec', async () => {
    const missing = await acai(['fileset', 'show', 'no-such-set'], admin());
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^acai: .*no-such-set/);
    const missingRun = await acai(
      ['--json', 'run', 'show', 'run-0000000000000000000000000'],
      admin(),
    );
    expect(missingRun.code).toBe(3);
    expect(JSON.parse(missingRun.stderr)).toMatchObject({ error: { exitCode: 3, status: 404 } });

    const refused = await acai(['run', 'ls'], { ...admin(), ACAI_API_KEY: 'acai_not_a_key' });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('refused the API key');

    expect((await acai(['run', 'ls', '--bogus'])).code).toBe(2);
    const bad = path.join(home, 'bad.json');
    await writeFile(bad, JSON.stringify({ name: 'x', steps: [] }));
    const badSpec = await acai(['run', 'submit', bad], admin());
    expect(badSpec.code).toBe(2);
    expect(badSpec.stderr).toContain('steps: a run needs at least one step');
    for (const r of [missing, refused, badSpec]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('follows the project’s events live, and reads them from a position', async () => {
    // events -f: started first, it prints the events of a run submitted afterwards, as they happen.
    const follower = spawn(bin, ['--json', 'events', '-f', '--type', 'run.*'], {
      env: { ...env, ...admin() },
    });
    let followed = '';
    follower.stdout.on('data', (c: Buffer) => (followed += c.toString()));
    const exited = new Promise<number | null>((resolve) => follower.on('close', resolve));
    const spec = path.join(home, 'events.json');
    await writeFile(
      spec,
      JSON.stringify({ name: 'cli-events', steps: [{ name: 'one', command: ['echo', 'one'] }] }),
    );
    // The follower connects on its own time: submit until it has seen a run of ours whole, from
    // its submission to its end (one submitted while it connected shows only its later events).
    let runId = '';
    await eventually('the follower to see a run from its submission to its end', async () => {
      const submitted = await acai(
        ['--json', 'run', 'submit', spec, '-f', '--interval', '200'],
        admin(),
      );
      runId = (JSON.parse(submitted.stdout) as { id: string }).id;
      const seen = followed
        .split('\n')
        .filter((l) => l.includes(`"aggregateId":"${runId}"`) && l.endsWith('}'))
        .map((l) => (JSON.parse(l) as { type: string }).type);
      return seen[0] === 'run.submitted' && seen.includes('run.succeeded') ? true : undefined;
    });
    follower.kill('SIGINT');
    expect(await exited).toBe(0);
    const lines = followed
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { position: number; type: string; aggregateId: string });
    expect(lines.every((e) => e.type.startsWith('run.'))).toBe(true);
    const positions = lines.map((e) => e.position);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    const ours = lines.filter((e) => e.aggregateId === runId).map((e) => e.type);
    expect(ours[0]).toBe('run.submitted');
    expect(ours.at(-1)).toBe('run.succeeded');

    // events --after: the same run's events again from the log, then it stops when quiet.
    const first = lines.find((e) => e.aggregateId === runId)!.position;
    const replayed = await acai(
      ['events', '--after', String(first - 1), '--run', runId, '--idle', '1500'],
      admin(),
    );
    expect(replayed.code).toBe(0);
    expect(replayed.stdout).toMatch(new RegExp(`^${first}  \\S+  run\\.submitted  ${runId}$`, 'm'));
    expect(replayed.stdout).toMatch(/ job\.succeeded /);

    const bad = await acai(['events', '--type', 'nope.*'], admin());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('type');
  });

  it('draws progress bars in a terminal', async () => {
    const big = path.join(home, 'big.bin');
    await writeFile(big, randomBytes(8 * 1024 * 1024));
    const push = await inPty(`acai fileset push cli-big ${big}`);
    expect(push.code).toBe(0);
    expect(push.stdout).toMatch(/uploading big\.bin \(1\/1\) \[[█░]+\] 100% 8\.4 MB of 8\.4 MB/);
    expect(push.stdout).toContain('\u001b[?25l'); // the bar hides the cursor while it draws
    expect(push.stdout).toContain('committed cli-big v1');
    const pulled = path.join(home, 'pulled');
    const pull = await inPty(`acai fileset pull cli-big --to ${pulled}`);
    expect(pull.code).toBe(0);
    expect(pull.stdout).toMatch(/downloading big\.bin \[[█░]+\] 100% 8\.4 MB of 8\.4 MB/);
    expect((await readFile(path.join(pulled, 'big.bin'))).equals(await readFile(big))).toBe(true);

    const spec = path.join(home, 'slow.json');
    await writeFile(
      spec,
      JSON.stringify({
        name: 'cli-slow',
        steps: [
          {
            name: 'nap',
            command: [
              'sh',
              '-c',
              'for i in 1 2 3 4; do echo "##acai metric loss=0.5 step=$i steps_total=4"; sleep 1; done',
            ],
          },
        ],
      }),
    );
    const followed = await inPty(`acai run submit ${spec} --follow --interval 200`);
    expect(followed.code).toBe(0);
    expect(followed.stdout).toMatch(/\[[█░]+\] cli-slow (queued|running) \| jobs 0\/1/);
    expect(followed.stdout).toMatch(/\[[█░]+\] cli-slow running \| jobs 0\/1 \| nap [1-4]\/4/);
    expect(followed.stdout).toMatch(/\[█+\] cli-slow succeeded \| jobs 1\/1/);
  });

  // Last: it stops the gateway.
  it('says in one line what is wrong with an endpoint it cannot use, and what to do', async () => {
    /** One line on stderr, no stack trace, nothing on stdout. */
    const oneLine = (r: Ran) => {
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at |TypeError|node:internal/);
    };
    // A URL that can never be a gateway's: usage (2), said before any request.
    for (const [url, said] of [
      ['http://127.0.0.1:1', 'has port 1, which HTTP clients refuse to connect to'],
      ['http://localhost:99999', 'has port 99999, past 65535'],
      ['notaurl', 'is not a URL'],
    ] as const) {
      const r = await acai(['--url', url, 'run', 'ls'], admin());
      expect([url, r.code]).toEqual([url, 2]);
      oneLine(r);
      expect(r.stderr).toContain(`acai: --url: '${url}' ${said}: pass the gateway’s URL`);
    }
    const fromEnv = await acai(['run', 'ls'], { ...admin(), ACAI_URL: 'notaurl' });
    expect(fromEnv.code).toBe(2);
    oneLine(fromEnv);
    expect(fromEnv.stderr).toContain('set ACAI_URL to the gateway’s URL');

    // The gateway down: unavailable (5), asking whether the stack is up.
    await system.stop('gateway');
    const down = await acai(['run', 'ls'], admin());
    expect(down.code).toBe(5);
    oneLine(down);
    expect(down.stderr).toBe(
      `acai: cannot reach acai at ${system.gatewayUrl}: nothing listens there (connection refused). Is the stack up (\`npm run up\`)? Check the URL (--url, ACAI_URL or \`acai login --url <url> --key <key>\`).\n`,
    );
    const json = await acai(['--json', 'run', 'ls'], admin());
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stderr)).toMatchObject({
      error: { exitCode: 5, message: expect.stringContaining('connection refused') },
    });
  });
});

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
