import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sharedWithJobs } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

/**
 * The victim, a job of project `victim`: keeps a secret in its folder and in its /tmp, tells where
 * its folder is and its pid, and waits until the attacker is done.
 */
const VICTIM = `
const fs = require('node:fs');
const path = require('node:path');
fs.writeFileSync(path.join(process.env.ACAI_WORK_DIR, 'secret.txt'), 'victim data');
fs.writeFileSync('/tmp/secret.txt', 'victim data');
fs.writeFileSync(path.join(process.env.SHARED, 'victim.json'),
  JSON.stringify({ dir: process.env.ACAI_WORK_DIR, pid: process.pid }));
const until = Date.now() + 60000;
while (!fs.existsSync(path.join(process.env.SHARED, 'done')) && Date.now() < until) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
}
`;

/**
 * The attacker, a job of project `default`: tries each thing a hostile job would, and prints what
 * happened to each attempt (the error code, or 'DONE' when it worked).
 */
const ATTACKER = `
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const shared = process.env.SHARED;
const wait = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
for (let i = 0; i < 1200 && !fs.existsSync(path.join(shared, 'victim.json')); i++) wait(50);
const victim = JSON.parse(fs.readFileSync(path.join(shared, 'victim.json'), 'utf8'));
const attempt = (f) => { try { f(); return 'DONE'; } catch (e) { return e.code ?? String(e); } };
const cgroupFile = () => {
  const lines = fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\\n');
  const v1 = lines.find((l) => l.split(':')[1].split(',').includes('memory'));
  if (v1) return '/sys/fs/cgroup/memory' + v1.split(':')[2] + '/memory.limit_in_bytes';
  return '/sys/fs/cgroup' + lines.find((l) => l.startsWith('0::')).slice(3) + '/memory.max';
};
const results = {
  keyFile: attempt(() => fs.readFileSync(process.env.KEY_FILE)),
  home: attempt(() => fs.readdirSync(process.env.PLATFORM_HOME)),
  blob: attempt(() => fs.readFileSync(process.env.BLOB_FILE)),
  executorEnviron: attempt(() => fs.readFileSync('/proc/' + process.ppid + '/environ')),
  signalExecutor: attempt(() => process.kill(process.ppid, 0) || process.kill(process.ppid, 'SIGKILL')),
  victimFolder: attempt(() => fs.readdirSync(victim.dir)),
  victimFile: attempt(() => fs.readFileSync(path.join(victim.dir, 'secret.txt'))),
  victimTmp: attempt(() => fs.readFileSync('/tmp/secret.txt')),
  victimEnviron: attempt(() => fs.readFileSync('/proc/' + victim.pid + '/environ')),
  signalVictim: attempt(() => process.kill(victim.pid, 'SIGKILL')),
  raiseMemoryLimit: attempt(() => fs.writeFileSync(cgroupFile(), '9999999999999')),
  leaveCgroup: attempt(() => fs.writeFileSync(path.dirname(path.dirname(cgroupFile())) + '/cgroup.procs', String(process.pid))),
  platformEnv: Object.keys(process.env).filter((k) => /NATS|DATABASE|KEY_FILE|AWS|BOOTSTRAP|ACAI_HOME/.test(k) && k !== 'KEY_FILE').join(',') || 'none',
};
fs.writeFileSync(path.join(shared, 'done'), '');
console.log(JSON.stringify(results));
`;

/** Tries to open a TCP connection; prints how it went. */
const CONNECT = `
const net = require('node:net');
const [host, port] = process.argv.slice(2);
const socket = net.connect(Number(port), host);
socket.setTimeout(3000, () => { console.log('TIMEOUT'); process.exit(0); });
socket.on('connect', () => { console.log('CONNECTED'); process.exit(0); });
socket.on('error', (e) => { console.log(e.code); process.exit(0); });
`;

const asRoot = process.getuid?.() === 0;

/**
 * The security issue's hostile job: a job of one project tries to reach the platform's secrets,
 * another project's data and processes, and its own limits. Each attempt must fail; the expected
 * object names each attempt, so a failure says which one got through. Sandboxing by uid needs the
 * executor to run as root, as CI does.
 */
(asRoot ? describe : describe.skip)('a hostile job', () => {
  let system: TestSystem;
  let homeIn: string;

  beforeAll(async () => {
    // $ACAI_HOME where jobs could reach it if it were not closed to them (not under /tmp, which a
    // job sees a private one of).
    system = await startSystem({
      env: { ACAI_EXECUTOR_SLOTS: '2' },
      homeIn: (homeIn = await sharedWithJobs('acai-hostile-')),
    });
    await writeFile(path.join(system.shared, 'victim.cjs'), VICTIM);
    await writeFile(path.join(system.shared, 'attacker.cjs'), ATTACKER);
    await writeFile(path.join(system.shared, 'connect.cjs'), CONNECT);
  });

  afterAll(async () => {
    await system?.close();
    await rm(homeIn, { recursive: true, force: true });
  });

  it('cannot read keys, blobs, the executor’s environment, another project’s folder or processes, nor change its limits', async () => {
    const created = await system.api('POST', '/api/v1/projects', { name: 'victim' });
    expect(created.status).toBe(201);
    const victimKey = (created.body as { key: string }).key;
    // A blob of the victim's, on the platform's disk.
    const content = 'victim blob';
    const sha = createHash('sha256').update(content).digest('hex');
    const uploaded = await fetch(`${system.gatewayUrl}/api/v1/blobs/${sha}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${victimKey}`, 'content-type': 'application/octet-stream' },
      body: content,
    });
    expect(uploaded.status).toBe(201);

    const victimRun = await system.api(
      'POST',
      '/api/v1/runs',
      {
        name: 'victim',
        steps: [
          {
            name: 'holds-secrets',
            command: ['node', path.join(system.shared, 'victim.cjs')],
            env: { SHARED: system.shared },
            timeoutSeconds: 90,
          },
        ],
      },
      victimKey,
    );
    expect(victimRun.status).toBe(202);
    const attackerRun = await system.api('POST', '/api/v1/runs', {
      name: 'attacker',
      steps: [
        {
          name: 'attacks',
          command: ['node', path.join(system.shared, 'attacker.cjs')],
          env: {
            SHARED: system.shared,
            KEY_FILE: path.join(system.home, 'default.key'),
            PLATFORM_HOME: system.home,
            BLOB_FILE: path.join(
              system.home,
              'blobs',
              'sha256',
              sha.slice(0, 2),
              sha.slice(2, 4),
              sha,
            ),
          },
          timeoutSeconds: 90,
        },
      ],
    });
    expect(attackerRun.status).toBe(202);
    const { id } = attackerRun.body as { id: string; jobs: { id: string }[] };
    const run = await system.waitForRun(id, system.key, 120_000);
    const jobId = (attackerRun.body as { jobs: { id: string }[] }).jobs[0]!.id;
    const logs = (await system.api('GET', `/api/v1/jobs/${jobId}/logs`)).text;
    expect(run.status).toBe('succeeded');
    const results = JSON.parse(logs.trim().split('\n').at(-1)!) as Record<string, string>;
    expect(results).toEqual({
      keyFile: 'EACCES',
      home: 'EACCES',
      blob: 'EACCES',
      executorEnviron: 'EACCES',
      signalExecutor: 'EPERM',
      victimFolder: 'EACCES',
      victimFile: 'EACCES',
      // Its own /tmp is not the victim's.
      victimTmp: 'ENOENT',
      victimEnviron: 'EACCES',
      signalVictim: 'EPERM',
      raiseMemoryLimit: 'EACCES',
      leaveCgroup: 'EACCES',
      platformEnv: 'none',
    });
    const victim = await system.waitForRun(
      (victimRun.body as { id: string }).id,
      victimKey,
      120_000,
    );
    expect(victim.status).toBe('succeeded');
  }, 240_000);

  it('with network: none, reaches neither NATS nor Postgres (nor anything else)', async () => {
    const nats = new URL(system.env['NATS_URL']!);
    const database = new URL(system.env['DATABASE_URL']!);
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'offline',
      steps: [
        {
          name: 'nats',
          command: ['node', path.join(system.shared, 'connect.cjs'), nats.hostname, nats.port],
          network: 'none',
        },
        {
          name: 'postgres',
          command: [
            'node',
            path.join(system.shared, 'connect.cjs'),
            database.hostname,
            database.port || '5432',
          ],
          network: 'none',
        },
      ],
    });
    expect(submitted.status).toBe(202);
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    expect((await system.waitForRun(id)).status).toBe('succeeded');
    for (const job of jobs) {
      const logs = (await system.api('GET', `/api/v1/jobs/${job.id}/logs`)).text.trim();
      expect(logs).toBe('ENETUNREACH');
    }
  });

  it('leaves nothing running: a process started in the background is killed when the job ends', async () => {
    const pidFile = path.join(system.shared, 'background.pid');
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'lingers',
      steps: [
        {
          name: 'forks',
          command: [
            'sh',
            '-c',
            `(setsid sleep 300 > /dev/null 2>&1 & echo $! > ${pidFile}); echo started`,
          ],
        },
      ],
    });
    const { id } = submitted.body as { id: string };
    expect((await system.waitForRun(id)).status).toBe('succeeded');
    const pid = Number(await readFile(pidFile, 'utf8'));
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    expect(status === '' || /State:\s+Z/.test(status)).toBe(true);
  });

  it('refuses a network that does not exist, naming the field', async () => {
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'bad',
      steps: [{ name: 's', command: ['true'], network: 'host' }],
    });
    expect(submitted.status).toBe(400);
    expect(submitted.text).toContain('network');
  });
});
