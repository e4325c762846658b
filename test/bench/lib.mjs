// @ts-check
// Helpers the benchmarks share.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** @param {number} x @param {number} digits */
export function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * Nearest-rank percentiles of a sample, rounded.
 * @param {number[]} values
 * @param {number} [digits]
 */
export function stats(values, digits = 2) {
  if (values.length === 0)
    return { count: 0, min: NaN, p50: NaN, p90: NaN, p95: NaN, p99: NaN, max: NaN, mean: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  /** @param {number} p */
  const at = (p) =>
    round(
      /** @type {number} */ (
        sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
      ),
      digits,
    );
  return {
    count: sorted.length,
    min: round(/** @type {number} */ (sorted[0]), digits),
    p50: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    max: round(/** @type {number} */ (sorted[sorted.length - 1]), digits),
    mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length, digits),
  };
}

/**
 * Lines matching `pattern` in each service log of a stack (nats-server's excluded).
 * @param {string} logDir
 * @param {RegExp} pattern
 */
export function countLogLines(logDir, pattern) {
  /** @type {Record<string, number>} */
  const counts = {};
  for (const file of readdirSync(logDir)) {
    if (!file.endsWith('.log') || file === 'nats-server.log') continue;
    const text = readFileSync(path.join(logDir, file), 'utf8');
    const found = text.split('\n').filter((line) => pattern.test(line)).length;
    if (found > 0) counts[file.replace(/\.log$/, '')] = found;
  }
  return counts;
}

/** @typedef {{ gatewayUrl: string; key: string; agent: import('node:http').Agent }} Client */

/**
 * One API call over the keep-alive agent, JSON body if given.
 * @param {Client} client
 * @param {'GET' | 'POST' | 'PUT' | 'DELETE'} method
 * @param {string} pathname
 * @param {unknown} [body]
 * @param {number} [timeoutMs]
 * @returns {Promise<{ status: number; text: string }>}
 */
export function request(client, method, pathname, body, timeoutMs = 60_000) {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  /** @type {import('node:http').OutgoingHttpHeaders} */
  const headers = { authorization: `Bearer ${client.key}` };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = payload.length;
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${client.gatewayUrl}${pathname}`,
      { method, agent: client.agent, headers, timeout: timeoutMs },
      (res) => {
        /** @type {Buffer[]} */
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`${method} ${pathname}: no answer in ${timeoutMs / 1000} s`)),
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * @typedef {object} CpuSnapshot
 * @property {number} at            performance.now()
 * @property {number} machineBusy   ticks of all CPUs neither idle, in iowait nor stolen
 * @property {number} machineSteal  ticks the hypervisor gave another guest
 * @property {number} machineTotal  ticks of all CPUs
 * @property {Map<number, { name: string; ticks: number; reaped: number }>} procs  this stack's
 *   processes (`reaped`: of their ticks, those of children that ended and were waited for)
 * @property {NodeJS.CpuUsage} self  this process (the benchmark client)
 */

const CLK_TCK = 100;

/**
 * CPU ticks of every process of this stack (found by ACAI_HOME in its environment or `home` on its
 * command line, and their descendants: Postgres backends), by pid, and of the whole machine.
 * @param {string} home
 * @returns {CpuSnapshot}
 */
export function cpuSnapshot(home) {
  /** @type {Map<number, { ppid: number; name: string; ticks: number; reaped: number }>} */
  const all = new Map();
  /** @type {Set<number>} */
  const roots = new Set();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = [11, 12, 13, 14].reduce((a, i) => a + Number(fields[i]), 0);
      // Of which: its children that ended and it waited for (an executor's job processes).
      const reaped = Number(fields[13]) + Number(fields[14]);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const app = cmdline.find((a) => /apps\/[a-z]+\/dist\/main\.js$/.test(a));
      // The executor's job spawner (and the jobs it forks) is shown apart from the executor.
      const spawner = cmdline.some((a) => a.endsWith('/spawner/spawner-main.js'));
      const name = app
        ? (app.split('/').at(-3) ?? 'node')
        : spawner
          ? 'spawner'
          : path.basename(cmdline[0] ?? '').split(':')[0] || 'unknown';
      all.set(pid, { ppid: Number(fields[1]), name, ticks, reaped });
      if (pid === process.pid) continue;
      if (cmdline.some((a) => a.includes(home))) roots.add(pid);
      else if (app) {
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
        if (environ.split('\0').includes(`ACAI_HOME=${home}`)) roots.add(pid);
      }
    } catch {
      // Gone, or not ours to read.
    }
  }
  /** @type {Map<number, { name: string; ticks: number; reaped: number }>} */
  const procs = new Map();
  for (const [pid, p] of all) {
    let viaSpawner = false;
    for (let at = pid, hops = 0; at > 1 && hops < 10; hops++) {
      const root = roots.has(at) ? all.get(at) : undefined;
      if (root !== undefined) {
        const name = viaSpawner ? `${root.name} spawner` : root.name;
        procs.set(pid, { name, ticks: p.ticks, reaped: p.reaped });
        break;
      }
      if (all.get(at)?.name === 'spawner') viaSpawner = true;
      at = all.get(at)?.ppid ?? 0;
    }
  }
  const t = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = t.slice(0, 8).reduce((a, b) => a + b, 0);
  const steal = t[7] ?? 0;
  return {
    at: performance.now(),
    machineBusy: total - (t[3] ?? 0) - (t[4] ?? 0) - steal,
    machineSteal: steal,
    machineTotal: total,
    procs,
    self: process.cpuUsage(),
  };
}

/**
 * CPU seconds each process of the stack used between two snapshots (per pid, so processes that
 * come and go are counted right), how busy the machine was, and what went to processes outside
 * the stack and this client (other work on the machine makes the figures noisy).
 * @param {CpuSnapshot} a
 * @param {CpuSnapshot} b
 */
export function cpuUse(a, b) {
  /** @type {Record<string, number>} */
  const byName = {};
  /** @type {Record<string, number>} */
  const reapedByName = {};
  for (const [pid, p] of b.procs) {
    const before = a.procs.get(pid);
    byName[p.name] = (byName[p.name] ?? 0) + (p.ticks - (before?.ticks ?? 0)) / CLK_TCK;
    const reaped = (p.reaped - (before?.reaped ?? 0)) / CLK_TCK;
    if (reaped > 0) reapedByName[p.name] = (reapedByName[p.name] ?? 0) + reaped;
  }
  const self = process.cpuUsage(a.self);
  const clientSec = (self.user + self.system) / 1e6;
  byName['bench (this process)'] = clientSec;
  const wallSec = (b.at - a.at) / 1000;
  const machineBusySec = (b.machineBusy - a.machineBusy) / CLK_TCK;
  const ours = Object.values(byName).reduce((x, y) => x + y, 0);
  const totalTicks = Math.max(1, b.machineTotal - a.machineTotal);
  return {
    wallSec: round(wallSec, 2),
    machineBusyPct: round((100 * (b.machineBusy - a.machineBusy)) / totalTicks, 1),
    stealPct: round((100 * (b.machineSteal - a.machineSteal)) / totalTicks, 1),
    machineBusySec: round(machineBusySec, 2),
    benchmarkClientSec: round(clientSec, 2),
    otherBusySec: round(Math.max(0, machineBusySec - ours), 2),
    cpuSecByProcess: Object.fromEntries(
      Object.entries(byName)
        .sort((x, y) => y[1] - x[1])
        .map(([name, sec]) => [name, round(sec, 2)]),
    ),
    // Of each: what its children that ended used (the executor's: its jobs, with the programs of
    // their launch; Postgres's: backends that closed).
    reapedSecByProcess: Object.fromEntries(
      Object.entries(reapedByName).map(([name, sec]) => [name, round(sec, 2)]),
    ),
  };
}
