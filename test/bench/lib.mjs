// @ts-check
// Helpers the benchmarks share.
import http from 'node:http';
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
 * @param {'GET' | 'POST'} method
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
