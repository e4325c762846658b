import { spawn } from 'node:child_process';
import {
  chown,
  mkdir,
  mkdtemp,
  open,
  readFile,
  rm,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  envFileText,
  killUser,
  Sandbox,
  SandboxError,
  TMP_FOLDER,
  type Launch,
  type Slot,
} from './sandbox.js';

/**
 * Runs a launch to its end, its files handed over as the executor does (opened, removed, given as
 * fds 3, …); answers its exit code and what it printed.
 */
async function runLaunch(
  launch: Pick<Launch, 'argv' | 'env'> & { handOver?: string[] },
  cwd: string,
): Promise<{ code: number | null; out: string; err: string; pid: number }> {
  const handed: FileHandle[] = [];
  for (const file of launch.handOver ?? []) {
    handed.push(await open(file, 'r'));
    await rm(file);
  }
  return new Promise((resolve, reject) => {
    const [program, ...args] = launch.argv as [string, ...string[]];
    const child = spawn(program, args, {
      cwd,
      env: launch.env,
      stdio: ['ignore', 'pipe', 'pipe', ...handed.map((h) => h.fd)],
    });
    void Promise.all(handed.map((h) => h.close()));
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out, err, pid: child.pid! }));
  });
}

describe('envFileText', () => {
  it('hands any value over literally: quotes, newlines, $ and backticks are not interpreted', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'acai-env-'));
    const values = {
      QUOTES: `it's "quoted" ''`,
      LINES: 'one\ntwo\n',
      EXPANSIONS: '$HOME $(touch pwned) `touch pwned` ${X:-y} \\n',
      EMPTY: '',
    };
    const file = path.join(dir, 'env');
    await writeFile(file, envFileText(values));
    const { out } = await runLaunch(
      {
        argv: [
          '/bin/sh',
          '-c',
          '. "$0"; node -e "process.stdout.write(JSON.stringify(process.env))"',
          file,
        ],
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
      },
      dir,
    );
    const env = JSON.parse(out) as Record<string, string>;
    for (const [name, value] of Object.entries(values)) expect(env[name]).toBe(value);
    await expect(readFile(path.join(dir, 'pwned'))).rejects.toThrow();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses names a shell cannot export and values with NUL', () => {
    expect(() => envFileText({ 'A-B': 'x' })).toThrow(SandboxError);
    expect(() => envFileText({ A: 'x\u0000y' })).toThrow(/NUL/);
  });
});

describe('Sandbox without the uid sandbox (ACAI_SANDBOX=none)', () => {
  it('refuses to start as a non-root user unless none is asked for, and says how', async () => {
    const open = (requested: 'auto' | 'none') =>
      Sandbox.open({
        requested,
        slots: 1,
        slotName: (i) => `test-slot-${i}`,
        uidBase: 64000,
        claimsDir: '/nonexistent',
        isRoot: false,
      });
    await expect(open('auto')).rejects.toThrow(/ACAI_SANDBOX=none/);
    const sandbox = await open('none');
    expect(sandbox.mode).toBe('none');
    expect(sandbox.slots).toEqual([{ name: 'test-slot-0', user: null }]);
    expect(sandbox.refuses('none')).toMatch(/uid sandbox/);
  });

  it('joins the cgroups listed before the job runs, and hands over only the job’s environment, by a file the job does not keep open', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'acai-none-'));
    const sandbox = await Sandbox.open({
      requested: 'none',
      slots: 1,
      slotName: () => 'test-slot',
      uidBase: 64000,
      claimsDir: '/nonexistent',
    });
    const procs = path.join(dir, 'cgroup.procs');
    await writeFile(procs, '');
    const envFile = path.join(dir, '.acai-env');
    await writeFile(envFile, envFileText({ PATH: '/usr/bin:/bin', STEP: 'value' }));
    const ran = await runLaunch(
      sandbox.launch(
        sandbox.slots[0]!,
        [
          'sh',
          '-c',
          'echo $$; echo "$STEP"; [ -e /proc/$$/fd/3 ] && echo fd3 || echo no-fd3; env | sort',
        ],
        { cgroupProcs: [procs], envFile, network: 'default' },
      ),
      dir,
    );
    const [pid, step, fd3, ...env] = ran.out.trim().split('\n');
    // The job kept the trampoline's pid: the pid that joined is the job's own.
    expect((await readFile(procs, 'utf8')).trim()).toBe(pid);
    expect(Number(pid)).toBe(ran.pid);
    expect(step).toBe('value');
    expect(fd3).toBe('no-fd3');
    expect(env.some((line) => line.startsWith('ACAI_CGROUP_PROCS='))).toBe(false);
    await rm(dir, { recursive: true, force: true });
  });
});

const root = process.getuid?.() === 0;

// The uid sandbox needs root (CI runs as root); as another user these cannot run at all.
(root ? describe : describe.skip)('Sandbox as root (uid per slot)', () => {
  const claimsDir = path.join(os.tmpdir(), `acai-claims-${process.pid}`);
  const base = 64000;
  let sandbox: Sandbox;
  let slot: Slot;
  let dir: string;
  let tmpDir: string;

  beforeAll(async () => {
    sandbox = await Sandbox.open({
      requested: 'auto',
      slots: 2,
      slotName: () => 'unused',
      uidBase: base,
      claimsDir,
    });
    slot = sandbox.slots[0]!;
    // Not under /tmp or /var/tmp: a job gets private ones, and would not see this folder.
    await mkdir('/var/lib/acai-test', { recursive: true, mode: 0o755 });
    dir = await mkdtemp(path.join('/var/lib/acai-test', 'uid-'));
    // A job's folder is its own (the executor's WorkFolders make it so), and so is its temp folder.
    await chown(dir, slot.user!.uid, slot.user!.gid);
    tmpDir = path.join(dir, TMP_FOLDER);
    await mkdir(tmpDir, { mode: 0o700 });
    await chown(tmpDir, slot.user!.uid, slot.user!.gid);
  });
  afterAll(async () => {
    await sandbox?.release();
    await rm(dir, { recursive: true, force: true });
    await rm(claimsDir, { recursive: true, force: true });
  });

  /** Runs `script` as a job in slot 0, with `env`. */
  const job = async (
    script: string,
    env: Record<string, string> = {},
    network: 'default' | 'none' = 'default',
  ) => {
    const envFile = path.join(dir, '.acai-env');
    await writeFile(envFile, envFileText({ PATH: '/usr/bin:/bin', ...env }), { mode: 0o600 });
    await chown(envFile, slot.user!.uid, slot.user!.gid);
    return runLaunch(
      sandbox.launch(slot, ['sh', '-c', script], { cgroupProcs: [], envFile, network }),
      dir,
    );
  };

  it('claims distinct slots with their own users, and another executor gets others', async () => {
    expect(sandbox.mode).toBe('uid');
    expect(sandbox.slots.map((s) => s.user?.uid)).toEqual([base, base + 1]);
    expect(sandbox.slots[0]!.user!.name).toBe(`acai-job-${base}`);
    const second = await Sandbox.open({
      requested: 'uid',
      slots: 1,
      slotName: () => 'unused',
      uidBase: base,
      claimsDir,
    });
    expect(second.slots[0]!.user!.uid).toBe(base + 2);
    await second.release();
  });

  it('runs the job as the slot’s user, with no groups, no way to gain privileges and a private /tmp', async () => {
    await writeFile('/tmp/acai-visible-to-root-only', 'x');
    const ran = await job(
      'id -u; id -g; id -G; grep NoNewPrivs /proc/self/status; ls -A /tmp | wc -l; echo made > /tmp/mine; cat /tmp/mine; ' +
        'cat /var/tmp/mine; ls -A /dev/shm | wc -l; grep " /dev/shm " /proc/self/mountinfo | tail -n 1 | grep -c "nosuid,nodev"',
    );
    expect(ran.err).toBe('');
    expect(ran.out.trim().split('\n')).toEqual([
      String(base),
      String(base),
      String(base),
      'NoNewPrivs:\t1',
      '0',
      'made',
      // /var/tmp is the same private folder; /dev/shm an empty tmpfs of its own.
      'made',
      '0',
      '1',
    ]);
    // Its /tmp was its own folder, on disk: nothing it wrote is in the host's.
    await expect(readFile('/tmp/mine')).rejects.toThrow();
    expect(await readFile(path.join(tmpDir, 'mine'), 'utf8')).toBe('made\n');
    await rm('/tmp/acai-visible-to-root-only', { force: true });
  });

  it('cannot read the executor’s environment, and LD_PRELOAD reaches only the job’s own program', async () => {
    const ran = await job(
      `cat /proc/${process.pid}/environ > /dev/null 2>&1 && echo read-environ || echo denied`,
      { LD_PRELOAD: '/nonexistent/hook.so' },
    );
    expect(ran.code).toBe(0);
    expect(ran.out.trim()).toBe('denied');
    // The loader complains once per program the job runs (sh, cat), never for the trampoline.
    expect(ran.err).toContain('hook.so');
  });

  it('network: none leaves the job with no interface but a down loopback', async () => {
    const ran = await job('tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "', {}, 'none');
    expect(ran.out.trim()).toBe('lo');
    const normal = await job('tail -n +3 /proc/net/dev | wc -l');
    expect(Number(normal.out.trim())).toBeGreaterThanOrEqual(1);
  });

  it('the job dies with the process that started it (parent-death signal)', async () => {
    const envFile = path.join(dir, '.acai-env');
    await writeFile(envFile, envFileText({ PATH: '/usr/bin:/bin' }), { mode: 0o600 });
    await chown(envFile, slot.user!.uid, slot.user!.gid);
    const launch = sandbox.launch(slot, ['sleep', '300'], {
      cgroupProcs: [],
      envFile,
      network: 'default',
    });
    // A stand-in executor: a process that starts the job and is then SIGKILLed.
    const parent = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs'); const env = fs.openSync(process.argv[5], 'r'); fs.unlinkSync(process.argv[5]); const c = require('node:child_process').spawn(process.argv[1], JSON.parse(process.argv[2]), { cwd: process.argv[3], env: JSON.parse(process.argv[4]), stdio: ['ignore', 'ignore', 'ignore', env] }); c.on('spawn', () => console.log(c.pid));`,
        launch.argv[0]!,
        JSON.stringify(launch.argv.slice(1)),
        dir,
        JSON.stringify(launch.env),
        launch.handOver[0]!,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const pid = Number(
      await new Promise<string>((resolve) =>
        parent.stdout.once('data', (d: Buffer) => resolve(String(d))),
      ),
    );
    // Wait until the job runs as the slot user (past the trampoline), then kill its parent.
    for (let i = 0; i < 200; i++) {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      if (status.includes(`Uid:\t${base}`) && status.includes('Name:\tsleep')) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    parent.kill('SIGKILL');
    let state = 'running';
    for (let i = 0; i < 200 && state === 'running'; i++) {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      state = status === '' || /State:\s+Z/.test(status) ? 'gone' : 'running';
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(state).toBe('gone');
  });

  it('clears what a job left running in the background before the next one', async () => {
    await job('(sleep 300 > /dev/null 2>&1 &) ; echo started');
    expect(await killUser(slot.user!.uid)).toBeGreaterThanOrEqual(1);
    expect(await killUser(slot.user!.uid)).toBe(0);
  });
});
