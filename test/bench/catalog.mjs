// @ts-check
// The `catalog` benchmark: what the catalog issue asks about file sets, measured through the
// gateway's REST API with the whole stack running.
//   1. A 1 GiB file: upload (PUT /api/v1/blobs/<sha256>, streamed from disk), commit, download
//      (streamed to disk while hashed, checked), each in MB/s, against `cp` of the same file on the
//      same disk; and the gateway's and catalog's peak RSS, which shows nothing buffered the file.
//   2. A version of 10,000 small files: upload them (32 in flight over keep-alive), commit all in one
//      POST, files/s for each and end to end; then read a random sample back.
//   (3. search: a later benchmark of the catalog issue; its place is marked below.)
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  createReadStream,
  createWriteStream,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startStack } from '../../libs/devstack/dist/index.js';
import { countLogLines, stats as statsOf } from './lib.mjs';

/** @param {number[]} values */
const stats = (values) => statsOf(values, 2);

/** @typedef {import('./run.mjs').BenchContext} BenchContext */
/** @typedef {import('./run.mjs').BenchOutcome} BenchOutcome */

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
/** MB/s are decimal megabytes (10^6 bytes) per second, as disks and networks are quoted. */
const MB = 1e6;
/** The large file's size; ACAI_BENCH_CATALOG_MIB makes it smaller for a quick try of the benchmark. */
const LARGE_BYTES = (Number(process.env['ACAI_BENCH_CATALOG_MIB']) || 1024) * MiB;
/** The large file is this random block repeated, with its index mixed into each copy. */
const BLOCK_BYTES = MiB;
const DEFAULT_SMALL_FILES = 10_000;
const SMALL_FILE_BYTES = 1024;
/** Small-file uploads in flight at once, each on its own keep-alive connection. */
const UPLOAD_CONCURRENCY = 32;
/** Small files read back after the commit and compared byte for byte. */
const SAMPLE = 20;
const LARGE_FILESET = 'bench-large';
const LARGE_PATH = 'data/large.bin';
const SMALL_FILESET = 'bench-small';
/** Short paths on purpose: the commit's JSON body must fit ACAI_MAX_BODY_BYTES (1 MiB default). */
const smallPath = (/** @type {number} */ i) => `f/${String(i).padStart(5, '0')}.bin`;
const REQUEST_TIMEOUT_MS = 10 * 60_000;

/**
 * @param {BenchContext} ctx
 * @returns {Promise<BenchOutcome>}
 */
export async function run(ctx) {
  const { say } = ctx;
  const smallCount = ctx.n ?? DEFAULT_SMALL_FILES;
  const tmp = os.tmpdir();
  // The original, the copy made by `cp` (deleted before the upload) or the download, and the blob.
  const needBytes = 3 * LARGE_BYTES + 512 * MiB;
  const fsStat = statfsSync(tmp);
  const freeBytes = fsStat.bavail * fsStat.bsize;
  if (freeBytes < needBytes) {
    throw new Error(
      `${tmp} has ${(freeBytes / GiB).toFixed(1)} GiB free; the catalog benchmark needs ${(needBytes / GiB).toFixed(1)} GiB`,
    );
  }
  const home = mkdtempSync(path.join(tmp, 'acai-bench-catalog-'));
  // mkdtemp makes it 0700; as root, embedded Postgres runs initdb as user `postgres`, which must
  // be able to reach its data folder inside.
  chmodSync(home, 0o755);
  // The benchmark's own files, on the same disk as the blob store ($ACAI_HOME/blobs).
  const files = path.join(home, 'bench-files');
  mkdirSync(files);
  const maxUpload = Math.max(2 * GiB, 2 * LARGE_BYTES);
  say(`starting the stack in ${home}`);
  const stack = await startStack({
    root: ctx.root,
    home,
    gatewayPort: 0,
    // A crash fails the benchmark rather than being restarted away.
    supervise: false,
    env: {
      ACAI_LOG_LEVEL: process.env['ACAI_LOG_LEVEL'] ?? 'info',
      ACAI_MAX_UPLOAD_BYTES: String(maxUpload),
    },
    // To profile the services: ACAI_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'.
    nodeArgs: (process.env['ACAI_BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''),
    say: (line) => say(`  ${line}`),
  });
  let ok = false;
  const agent = new http.Agent({ keepAlive: true, maxSockets: UPLOAD_CONCURRENCY });
  try {
    let died = /** @type {string | undefined} */ (undefined);
    void stack.died.then((name) => (died = name));
    /** @type {Client} */
    const client = { gatewayUrl: stack.gatewayUrl, key: stack.key(), agent };
    /** @type {string[]} */
    const problems = [];
    /** @type {Record<string, number>} */
    const pids = {};
    for (const s of stack.services()) if (s.pid !== undefined) pids[s.name] = s.pid;
    for (const name of ['gateway', 'catalog']) {
      if (pids[name] === undefined) problems.push(`the stack did not report the ${name}'s process`);
    }
    const watch = new ProcessWatch(pids);
    // The services at rest, as a reference for the phases below.
    watch.begin();
    await new Promise((r) => setTimeout(r, 1_000));
    watch.end('idle (1 s)');
    const loadBefore = os.loadavg().map(round2);

    // ---- 1. One large file: upload, commit, download, against cp ----
    const original = path.join(files, 'large.bin');
    say(`writing a ${mib(LARGE_BYTES)} file of random blocks (${original})`);
    const generated = generateLargeFile(original, LARGE_BYTES);
    say(
      `  ${generated.sha256}, ${seconds(generated.ms)} s (${mbps(LARGE_BYTES, generated.ms)} MB/s)`,
    );

    say('baseline: cp of the same file to another file in the same folder');
    const copy = path.join(files, 'large.copy');
    const cp = await timedCopy(original, copy);
    rmSync(copy, { force: true });
    say(
      `  cp ${seconds(cp.cpMs)} s (${mbps(LARGE_BYTES, cp.cpMs)} MB/s), then fsync ${seconds(cp.fsyncMs)} s`,
    );

    watch.begin();
    say(`upload: PUT /api/v1/blobs/${generated.sha256.slice(0, 12)}... streamed from disk`);
    const upload = await uploadFile(client, original, generated.sha256, LARGE_BYTES);
    watch.end('large upload');
    say(
      `  ${upload.status} in ${seconds(upload.ms)} s (${mbps(LARGE_BYTES, upload.ms)} MB/s): ${upload.text.slice(0, 200)}`,
    );
    if (upload.status !== 201)
      problems.push(`large upload answered ${upload.status}: ${upload.text.slice(0, 300)}`);

    say(`commit: ${LARGE_PATH} as version 1 of '${LARGE_FILESET}'`);
    const largeCreate = await request(client, 'POST', '/api/v1/filesets', { name: LARGE_FILESET });
    if (largeCreate.status !== 201)
      problems.push(
        `creating '${LARGE_FILESET}' answered ${largeCreate.status}: ${largeCreate.text.slice(0, 300)}`,
      );
    watch.begin();
    const largeCommitStart = performance.now();
    const largeCommit = await request(
      client,
      'POST',
      `/api/v1/filesets/${LARGE_FILESET}/versions`,
      {
        parent: 0,
        put: [{ path: LARGE_PATH, sha256: generated.sha256 }],
      },
    );
    const largeCommitMs = performance.now() - largeCommitStart;
    watch.end('large commit');
    say(`  ${largeCommit.status} in ${ms(largeCommitMs)} ms`);
    if (largeCommit.status !== 201)
      problems.push(
        `committing the large file answered ${largeCommit.status}: ${largeCommit.text.slice(0, 300)}`,
      );

    watch.begin();
    const downloaded = path.join(files, 'large.download');
    say(
      `download: GET /api/v1/filesets/${LARGE_FILESET}/versions/1/files/${LARGE_PATH} to disk, hashed`,
    );
    const download = await downloadFile(
      client,
      `/api/v1/filesets/${LARGE_FILESET}/versions/1/files/${LARGE_PATH}`,
      downloaded,
    );
    watch.end('large download');
    say(
      `  ${download.status}, ${download.bytes} bytes in ${seconds(download.ms)} s (${mbps(download.bytes, download.ms)} MB/s), sha256 ${download.sha256 === generated.sha256 ? 'matches' : 'DIFFERS'}`,
    );
    if (download.status !== 200)
      problems.push(`large download answered ${download.status}: ${download.error ?? ''}`);
    if (download.bytes !== LARGE_BYTES)
      problems.push(`large download has ${download.bytes} bytes, not ${LARGE_BYTES}`);
    if (download.sha256 !== generated.sha256) {
      problems.push(
        `large download's sha256 is ${download.sha256}, not the uploaded ${generated.sha256}`,
      );
    }
    // The original and the download are not needed any more: free the disk (--keep keeps them).
    if (!ctx.keep) {
      rmSync(original, { force: true });
      rmSync(downloaded, { force: true });
    }

    // ---- 2. A version of many small files ----
    say(`small files: ${smallCount} distinct files of ${SMALL_FILE_BYTES} bytes`);
    const small = makeSmallFiles(smallCount);
    const smallCreate = await request(client, 'POST', '/api/v1/filesets', { name: SMALL_FILESET });
    if (smallCreate.status !== 201)
      problems.push(
        `creating '${SMALL_FILESET}' answered ${smallCreate.status}: ${smallCreate.text.slice(0, 300)}`,
      );
    watch.begin();
    say(`upload: ${smallCount} x PUT /api/v1/blobs/<sha256>, ${UPLOAD_CONCURRENCY} in flight`);
    const smallUpload = await uploadSmall(client, small, UPLOAD_CONCURRENCY, () => died);
    watch.end('small upload');
    say(
      `  ${smallUpload.uploaded}/${smallCount} in ${seconds(smallUpload.ms)} s (${perSec(smallUpload.uploaded, smallUpload.ms)} files/s), ` +
        `p50 ${smallUpload.latencyMs.p50} ms, p99 ${smallUpload.latencyMs.p99} ms, ${smallUpload.errors.length} errors`,
    );
    if (smallUpload.errors.length > 0) {
      problems.push(
        `${smallUpload.errors.length} small uploads failed, first: ${smallUpload.errors[0]}`,
      );
    }

    const commitBody = {
      parent: 0,
      put: small.map((f) => ({ path: f.path, sha256: f.sha256 })),
    };
    const commitBodyBytes = Buffer.byteLength(JSON.stringify(commitBody));
    say(`commit: all ${smallCount} in one POST (${commitBodyBytes} bytes of JSON)`);
    watch.begin();
    const smallCommitStart = performance.now();
    const smallCommit = await request(
      client,
      'POST',
      `/api/v1/filesets/${SMALL_FILESET}/versions`,
      commitBody,
    );
    const smallCommitMs = performance.now() - smallCommitStart;
    watch.end('small commit');
    /** @type {{ version?: number; files?: number; bytes?: number }} */
    let smallVersion = {};
    try {
      smallVersion = JSON.parse(smallCommit.text);
    } catch {
      // Reported below with the status.
    }
    say(
      `  ${smallCommit.status} in ${seconds(smallCommitMs)} s (${perSec(smallCount, smallCommitMs)} files/s)` +
        (smallCommit.status === 201
          ? `: version ${smallVersion.version}, ${smallVersion.files} files, ${smallVersion.bytes} bytes`
          : `: ${smallCommit.text.slice(0, 300)}`),
    );
    if (smallCommit.status !== 201) {
      problems.push(
        `committing ${smallCount} small files answered ${smallCommit.status}: ${smallCommit.text.slice(0, 300)}`,
      );
    } else if (
      smallVersion.files !== smallCount ||
      smallVersion.bytes !== smallCount * SMALL_FILE_BYTES
    ) {
      problems.push(
        `the small-file version has ${smallVersion.files} files, ${smallVersion.bytes} bytes; expected ${smallCount}, ${smallCount * SMALL_FILE_BYTES}`,
      );
    }

    say(`reading back ${Math.min(SAMPLE, smallCount)} random files of version 1`);
    const sample = await verifySample(client, small, smallCommit.status === 201 ? SAMPLE : 0);
    say(`  ${sample.matched}/${sample.checked} match, p50 ${sample.latencyMs.p50} ms`);
    if (sample.matched !== sample.checked || sample.checked < Math.min(SAMPLE, smallCount)) {
      problems.push(
        `read back ${sample.matched} of ${sample.checked} sampled small files correctly: ${sample.errors.slice(0, 3).join('; ')}`,
      );
    }

    // ---- 3. search: RESERVED for the catalog issue's search benchmark (not implemented here) ----
    // Its place, on the same stack: search through the gateway the file sets made above (and more,
    // with metadata and labels). Add its figures as `search` in `figures` below and rows in
    // printTable; the stack, `client` and `watch` above are reusable. If it lives in a module of
    // its own (registered in run.mjs), remove this block.
    // ---- end of search ----

    const logErrors = countLogLines(stack.logDir, /"level":("error"|"fatal"|50|60)\b/);
    const logWarnings = countLogLines(stack.logDir, /"level":("warn"|40)\b/);
    const errorCount = Object.values(logErrors).reduce((a, b) => a + b, 0);
    if (errorCount > 0) {
      problems.push(
        `service logs have ${errorCount} error lines: ${JSON.stringify(logErrors)} (see ${stack.logDir})`,
      );
    }
    if (died !== undefined) problems.push(`a service died: ${died}`);
    // A file streamed through a process must not raise its memory by anything near the file's size
    // (a heap growing by a few tens of MiB under load is not buffering).
    for (const phase of ['large upload', 'large download']) {
      for (const name of ['gateway', 'catalog']) {
        const grew = watch.growthKiB(phase, name);
        if (grew !== undefined && grew * 1024 > Math.max(256 * MiB, LARGE_BYTES / 4)) {
          problems.push(
            `${name}'s peak RSS rose by ${mib(grew * 1024)} during the ${phase}: the file was buffered`,
          );
        }
      }
    }

    const figures = {
      large: {
        bytes: LARGE_BYTES,
        sha256: generated.sha256,
        generate: { sec: round2(generated.ms / 1000), MBps: mbps(LARGE_BYTES, generated.ms) },
        upload: {
          status: upload.status,
          sec: round2(upload.ms / 1000),
          MBps: mbps(LARGE_BYTES, upload.ms),
          answer: parseOr(upload.text),
        },
        commit: { status: largeCommit.status, ms: round2(largeCommitMs) },
        download: {
          status: download.status,
          bytes: download.bytes,
          sec: round2(download.ms / 1000),
          MBps: mbps(download.bytes, download.ms),
          firstByteMs: round2(download.firstByteMs),
          chunks: download.chunks,
          sha256Matches: download.sha256 === generated.sha256,
        },
        cp: {
          sec: round2(cp.cpMs / 1000),
          MBps: mbps(LARGE_BYTES, cp.cpMs),
          fsyncSec: round2(cp.fsyncMs / 1000),
          withFsyncMBps: mbps(LARGE_BYTES, cp.cpMs + cp.fsyncMs),
        },
      },
      small: {
        files: smallCount,
        bytesEach: SMALL_FILE_BYTES,
        uploadConcurrency: UPLOAD_CONCURRENCY,
        upload: {
          uploaded: smallUpload.uploaded,
          errors: smallUpload.errors.length,
          firstErrors: smallUpload.errors.slice(0, 5),
          sec: round2(smallUpload.ms / 1000),
          filesPerSec: perSec(smallUpload.uploaded, smallUpload.ms),
          latencyMs: smallUpload.latencyMs,
        },
        commit: {
          status: smallCommit.status,
          bodyBytes: commitBodyBytes,
          sec: round2(smallCommitMs / 1000),
          filesPerSec: perSec(smallCount, smallCommitMs),
          version: smallVersion.version,
          versionFiles: smallVersion.files,
        },
        endToEnd: {
          sec: round2((smallUpload.ms + smallCommitMs) / 1000),
          filesPerSec: perSec(smallCount, smallUpload.ms + smallCommitMs),
        },
        readBack: sample,
      },
      // search: added by the catalog issue's search benchmark (see the RESERVED block above).
      services: watch.report(),
    };

    printTable(say, figures);
    for (const p of problems) say(`PROBLEM: ${p}`);

    const file = ctx.writeResult('catalog', {
      benchmark: 'catalog',
      date: new Date().toISOString(),
      machine: {
        ...ctx.machine(),
        disk: diskOf(tmp),
        loadAverageBefore: loadBefore,
        loadAverageAtEnd: os.loadavg().map(round2),
      },
      ...figures,
      serviceLogErrorLines: logErrors,
      serviceLogWarnLines: logWarnings,
      notes: [
        `large: one ${mib(LARGE_BYTES)} file of random 1 MiB blocks (each with its index mixed in), written to $ACAI_HOME/bench-files on the disk of the blob store ($ACAI_HOME/blobs, local store).`,
        'MB/s are 10^6 bytes per second of wall time, from the request (or spawn) to its end: upload until the 201 (the gateway has hashed, fsynced and linked the blob), download until the last byte is written to the file (not fsynced), cp until it exits.',
        'upload: PUT /api/v1/blobs/<sha256>, Content-Length set, body piped from a file read stream; the gateway hashes it as it streams to $ACAI_HOME/blobs/tmp and fsyncs it before linking it into place.',
        'download: GET /api/v1/filesets/bench-large/versions/1/files/data/large.bin piped to a file on the same disk while this process hashes it (sha256 on the client costs CPU on the same 2 CPUs).',
        'cp: `cp src dst` in the same folder, timed from spawn to exit; withFsyncMBps adds an fsync of the copy afterwards, which is what the blob store does for every upload. The page cache is not dropped (that needs root and would disturb a shared machine): the source is in the page cache for cp, the upload and the download alike, and with 24 GiB of RAM plain cp writes only to the page cache.',
        'services: for the gateway and the catalog processes (found in /proc by their cmdline and ACAI_HOME), per phase: peakKiB is VmHWM from /proc/<pid>/status, reset at the start of the phase by writing 5 to /proc/<pid>/clear_refs (peaksReset says whether the kernel allowed it; if not, it is the peak since start), rssAtStartKiB/rssAtEndKiB are VmRSS, cpuSec is user + system time from /proc/<pid>/stat (cpuUserSec the user part; the rest is the kernel working for it: file system calls, sockets). A file buffered in memory would show as a peak about its size above rssAtStartKiB. machineByPhase: wall time, how busy all CPUs were (/proc/stat), the CPU of the benchmark itself (benchSec: it hashes the download), and otherBusySec, the busy CPU time of everything else (the rest of the stack, kernel writeback threads, other programs on this shared machine): when it is large the figures are noisy.',
        `small: ${smallCount} distinct ${SMALL_FILE_BYTES}-byte random files, PUT /api/v1/blobs/<sha256> with ${UPLOAD_CONCURRENCY} in flight over keep-alive connections, then one POST /api/v1/filesets/bench-small/versions listing them all (paths f/NNNNN.bin, no sizes, to keep the JSON under the default ACAI_MAX_BODY_BYTES of 1 MiB); endToEnd = upload + commit.`,
        `readBack: ${SAMPLE} random files of the new version read one at a time and compared byte for byte.`,
        `the stack runs with ACAI_MAX_UPLOAD_BYTES=${maxUpload}; everything else is the default configuration.`,
        ...problems.map((p) => `PROBLEM: ${p}`),
      ],
    });
    ok = problems.length === 0;
    return { ok, file };
  } finally {
    agent.destroy();
    say('stopping the stack');
    await stack.stop();
    if (ok && !ctx.keep) {
      rmSync(home, { recursive: true, force: true });
    } else if (!ctx.keep) {
      // Failed: keep the logs and the databases, not gigabytes of test files and blobs.
      rmSync(files, { recursive: true, force: true });
      rmSync(path.join(home, 'blobs'), { recursive: true, force: true });
      say(`logs and state kept in ${home} (test files and blobs removed; --keep keeps them)`);
    } else {
      say(
        `everything kept in ${home} (the original and the download in ${files}, the blob in blobs/)`,
      );
    }
  }
}

/**
 * Writes `bytes` of a random 1 MiB block repeated, each copy with its index written over its first
 * and middle 8 bytes (so every block differs and nothing is all zeros), hashing as it writes.
 * @param {string} file
 * @param {number} bytes
 */
function generateLargeFile(file, bytes) {
  const start = performance.now();
  const block = randomBytes(BLOCK_BYTES);
  const hash = createHash('sha256');
  const fd = openSync(file, 'w');
  try {
    for (let i = 0, written = 0; written < bytes; i++) {
      block.writeBigUInt64LE(BigInt(i), 0);
      block.writeBigUInt64LE(BigInt(i) ^ 0x9e3779b97f4a7c15n, BLOCK_BYTES / 2);
      const chunk = block.subarray(0, Math.min(BLOCK_BYTES, bytes - written));
      hash.update(chunk);
      for (let off = 0; off < chunk.length;) off += writeSync(fd, chunk, off);
      written += chunk.length;
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: hash.digest('hex'), ms: performance.now() - start };
}

/**
 * `cp src dst`, timed from spawn to exit, then an fsync of the copy, timed on its own.
 * @param {string} src
 * @param {string} dst
 */
async function timedCopy(src, dst) {
  const start = performance.now();
  const code = await new Promise((resolve, reject) => {
    const child = spawn('cp', [src, dst], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (c, signal) => resolve(c ?? signal));
  });
  const cpMs = performance.now() - start;
  if (code !== 0) throw new Error(`cp ${src} ${dst} exited with ${code}`);
  if (statSync(dst).size !== statSync(src).size) throw new Error(`cp made a copy of another size`);
  const syncStart = performance.now();
  const fd = openSync(dst, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { cpMs, fsyncMs: performance.now() - syncStart };
}

/**
 * PUT /api/v1/blobs/<sha256> with the file piped from disk; resolves at the answer.
 * @param {Client} client
 * @param {string} file
 * @param {string} sha256
 * @param {number} size
 * @returns {Promise<{ status: number; text: string; ms: number }>}
 */
function uploadFile(client, file, sha256, size) {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = [];
    /** @type {number | undefined} */
    let status;
    const answer = () =>
      resolve({
        status: status ?? 0,
        text: Buffer.concat(chunks).toString('utf8'),
        ms: performance.now() - start,
      });
    const req = http.request(
      `${client.gatewayUrl}/api/v1/blobs/${sha256}`,
      {
        method: 'PUT',
        // Its own connection: nothing else shares it, and it closes afterwards.
        agent: false,
        headers: {
          authorization: `Bearer ${client.key}`,
          'content-type': 'application/octet-stream',
          'content-length': size,
        },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        status = res.statusCode ?? 0;
        res.on('data', (c) => chunks.push(c));
        res.on('end', answer);
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`upload: no answer in ${REQUEST_TIMEOUT_MS / 1000} s`)),
    );
    // A refusal (400, 413) may come while the body is still being sent, and the connection then
    // breaks under the sender: the answer is what counts.
    req.on('error', (error) => (status === undefined ? reject(error) : answer()));
    const body = createReadStream(file, { highWaterMark: BLOCK_BYTES });
    body.on('error', (error) => req.destroy(error));
    body.pipe(req);
  });
}

/**
 * GET a file, piped to `file` while hashed; resolves once the last byte is written and the file closed.
 * @param {Client} client
 * @param {string} pathname
 * @param {string} file
 * @returns {Promise<{ status: number; bytes: number; sha256: string; ms: number; firstByteMs: number; chunks?: number; error?: string }>}
 */
function downloadFile(client, pathname, file) {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${client.gatewayUrl}${pathname}`,
      {
        method: 'GET',
        agent: false,
        headers: { authorization: `Bearer ${client.key}` },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        const firstByteMs = performance.now() - start;
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          /** @type {Buffer[]} */
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status,
              bytes: 0,
              sha256: '',
              ms: performance.now() - start,
              firstByteMs,
              error: Buffer.concat(chunks).toString('utf8').slice(0, 300),
            }),
          );
          return;
        }
        const hash = createHash('sha256');
        let bytes = 0;
        let chunks = 0;
        // 1 MiB of buffer, so the file's writes do not pause the socket after every 64 KiB chunk
        // (with the default 16 KiB this client costs more CPU than the gateway on a 2-CPU machine).
        const out = createWriteStream(file, { highWaterMark: BLOCK_BYTES });
        res.on('data', (/** @type {Buffer} */ c) => {
          hash.update(c);
          bytes += c.length;
          chunks++;
        });
        res.on('error', reject);
        res.on('aborted', () =>
          reject(new Error('download: the gateway closed the response early')),
        );
        out.on('error', reject);
        out.on('close', () =>
          resolve({
            status,
            bytes,
            sha256: hash.digest('hex'),
            ms: performance.now() - start,
            firstByteMs,
            chunks,
          }),
        );
        res.pipe(out);
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`download: no answer in ${REQUEST_TIMEOUT_MS / 1000} s`)),
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * `count` distinct random files, in memory.
 * @param {number} count
 * @returns {{ path: string; sha256: string; bytes: Buffer }[]}
 */
function makeSmallFiles(count) {
  const all = randomBytes(count * SMALL_FILE_BYTES);
  return Array.from({ length: count }, (_, i) => {
    const bytes = all.subarray(i * SMALL_FILE_BYTES, (i + 1) * SMALL_FILE_BYTES);
    // Random 1 KiB blocks are distinct in practice; the index makes it certain.
    bytes.writeUInt32LE(i, 0);
    return { path: smallPath(i), sha256: createHash('sha256').update(bytes).digest('hex'), bytes };
  });
}

/**
 * Uploads every file, `concurrency` at a time over the keep-alive agent.
 * @param {Client} client
 * @param {{ sha256: string; bytes: Buffer }[]} small
 * @param {number} concurrency
 * @param {() => string | undefined} died
 */
async function uploadSmall(client, small, concurrency, died) {
  /** @type {number[]} */
  const latencies = [];
  /** @type {string[]} */
  const errors = [];
  let next = 0;
  let uploaded = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < small.length && died() === undefined) {
      const file = /** @type {{ sha256: string; bytes: Buffer }} */ (small[next++]);
      const t0 = performance.now();
      try {
        const res = await request(client, 'PUT', `/api/v1/blobs/${file.sha256}`, file.bytes);
        latencies.push(performance.now() - t0);
        if (res.status === 201) uploaded++;
        else errors.push(`${res.status}: ${res.text.slice(0, 200)}`);
      } catch (error) {
        errors.push(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { uploaded, errors, ms: performance.now() - start, latencyMs: stats(latencies) };
}

/**
 * Reads `count` random files of version 1 of the small file set, one at a time, and compares them.
 * @param {Client} client
 * @param {{ path: string; bytes: Buffer }[]} small
 * @param {number} count
 */
async function verifySample(client, small, count) {
  /** @type {string[]} */
  const errors = [];
  /** @type {number[]} */
  const latencies = [];
  let matched = 0;
  const picked = new Set();
  while (picked.size < Math.min(count, small.length)) picked.add(randomInt(small.length));
  for (const i of picked) {
    const file = /** @type {{ path: string; bytes: Buffer }} */ (small[i]);
    const t0 = performance.now();
    try {
      const res = await requestBytes(
        client,
        `/api/v1/filesets/${SMALL_FILESET}/versions/1/files/${file.path}`,
      );
      latencies.push(performance.now() - t0);
      if (res.status !== 200)
        errors.push(`${file.path}: ${res.status} ${res.body.toString('utf8').slice(0, 200)}`);
      else if (!res.body.equals(file.bytes))
        errors.push(`${file.path}: the bytes differ (${res.body.length} read)`);
      else matched++;
    } catch (error) {
      errors.push(`${file.path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { checked: picked.size, matched, errors, latencyMs: stats(latencies) };
}

/** @typedef {{ gatewayUrl: string; key: string; agent: http.Agent }} Client */

/**
 * One API call over the keep-alive agent: a JSON body, or bytes sent as application/octet-stream.
 * @param {Client} client
 * @param {'GET' | 'POST' | 'PUT'} method
 * @param {string} pathname
 * @param {unknown} [body]
 * @returns {Promise<{ status: number; text: string }>}
 */
async function request(client, method, pathname, body) {
  const res = await send(client, method, pathname, body);
  return { status: res.status, text: res.body.toString('utf8') };
}

/**
 * @param {Client} client
 * @param {string} pathname
 */
function requestBytes(client, pathname) {
  return send(client, 'GET', pathname, undefined);
}

/**
 * @param {Client} client
 * @param {'GET' | 'POST' | 'PUT'} method
 * @param {string} pathname
 * @param {unknown} body
 * @returns {Promise<{ status: number; body: Buffer }>}
 */
function send(client, method, pathname, body) {
  /** @type {http.OutgoingHttpHeaders} */
  const headers = { authorization: `Bearer ${client.key}` };
  /** @type {Buffer | undefined} */
  let payload;
  if (Buffer.isBuffer(body)) {
    payload = body;
    headers['content-type'] = 'application/octet-stream';
  } else if (body !== undefined) {
    payload = Buffer.from(JSON.stringify(body));
    headers['content-type'] = 'application/json';
  }
  if (payload !== undefined) headers['content-length'] = payload.length;
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${client.gatewayUrl}${pathname}`,
      { method, agent: client.agent, headers, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        /** @type {Buffer[]} */
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`${method} ${pathname}: no answer in ${REQUEST_TIMEOUT_MS / 1000} s`)),
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const CLK_TCK = 100;

/**
 * The gateway's and the catalog's memory and CPU, phase by phase: `begin()` resets each process's
 * peak resident set (VmHWM, when the kernel allows it) and notes its RSS and CPU time; `end(phase)`
 * records the peak during the phase, the RSS at its end and the CPU seconds it used.
 */
class ProcessWatch {
  /** @param {Record<string, number>} pids */
  constructor(pids) {
    /** @type {Record<string, number>} */
    this.pids = {};
    for (const name of ['gateway', 'catalog']) {
      const pid = pids[name];
      if (pid !== undefined) this.pids[name] = pid;
    }
    /**
     * @type {Record<string, Record<string, { rssAtStartKiB: number; peakKiB: number; rssAtEndKiB: number; cpuSec: number; cpuUserSec: number }>>}
     */
    this.phases = {};
    /** Whether the kernel let us reset the peaks (clear_refs) before every phase. */
    this.peaksReset = true;
    /** @type {Record<string, { rss: number; cpu: number; user: number }>} */
    this.atBegin = {};
    /**
     * How busy the whole machine was in each phase, and how much of that was neither the gateway,
     * the catalog nor this process (the rest of the stack, the kernel's writeback, other programs).
     * @type {Record<string, { wallSec: number; machineBusyPct: number; benchSec: number; benchUserSec: number; otherBusySec: number }>}
     */
    this.machine = {};
    this.machineAtBegin = machineTicks();
    this.selfAtBegin = process.cpuUsage();
    this.wallAtBegin = performance.now();
  }

  begin() {
    for (const [name, pid] of Object.entries(this.pids)) {
      try {
        writeFileSync(`/proc/${pid}/clear_refs`, '5');
      } catch {
        this.peaksReset = false;
      }
      const now = sample(pid);
      if (now !== undefined) this.atBegin[name] = { rss: now.rss, cpu: now.cpu, user: now.user };
    }
    this.machineAtBegin = machineTicks();
    this.selfAtBegin = process.cpuUsage();
    this.wallAtBegin = performance.now();
  }

  /** @param {string} phase */
  end(phase) {
    /** @type {Record<string, { rssAtStartKiB: number; peakKiB: number; rssAtEndKiB: number; cpuSec: number; cpuUserSec: number }>} */
    const figures = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const now = sample(pid);
      const before = this.atBegin[name];
      if (now === undefined) continue; // gone: `died` reports it
      figures[name] = {
        rssAtStartKiB: before?.rss ?? NaN,
        peakKiB: now.hwm,
        rssAtEndKiB: now.rss,
        cpuSec: round2(now.cpu - (before?.cpu ?? NaN)),
        cpuUserSec: round2(now.user - (before?.user ?? NaN)),
      };
    }
    this.phases[phase] = figures;
    const wallSec = (performance.now() - this.wallAtBegin) / 1000;
    const m = machineTicks();
    const busySec = (m.busy - this.machineAtBegin.busy) / CLK_TCK;
    const self = process.cpuUsage(this.selfAtBegin);
    const benchSec = (self.user + self.system) / 1e6;
    const services = Object.values(figures).reduce((a, f) => a + f.cpuSec, 0);
    this.machine[phase] = {
      wallSec: round2(wallSec),
      machineBusyPct: round2(
        (100 * (m.busy - this.machineAtBegin.busy)) /
          Math.max(1, m.total - this.machineAtBegin.total),
      ),
      benchSec: round2(benchSec),
      benchUserSec: round2(self.user / 1e6),
      otherBusySec: round2(Math.max(0, busySec - services - benchSec)),
    };
  }

  /**
   * How far the peak during `phase` rose above the RSS at its start, in KiB.
   * @param {string} phase
   * @param {string} name
   */
  growthKiB(phase, name) {
    const f = this.phases[phase]?.[name];
    return f === undefined ? undefined : f.peakKiB - f.rssAtStartKiB;
  }

  report() {
    return {
      pids: this.pids,
      peaksReset: this.peaksReset,
      byPhase: this.phases,
      machineByPhase: this.machine,
    };
  }
}

/** CPU ticks of the whole machine: busy (not idle or iowait) and in all. */
function machineTicks() {
  const cpuLine = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const t = cpuLine.trim().split(/\s+/).slice(1).map(Number);
  const total = t.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - (t[3] ?? 0) - (t[4] ?? 0), total };
}

/**
 * VmHWM and VmRSS (KiB) and CPU seconds (user + system) of a process, or undefined if it is gone.
 * @param {number} pid
 */
function sample(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    /** @param {string} field */
    const kib = (field) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      hwm: kib('VmHWM'),
      rss: kib('VmRSS'),
      cpu: (Number(fields[11]) + Number(fields[12])) / CLK_TCK,
      user: Number(fields[11]) / CLK_TCK,
    };
  } catch {
    return undefined;
  }
}

/** The file system the benchmark's files and the blob store are on. @param {string} dir */
function diskOf(dir) {
  const s = statfsSync(dir);
  /** @type {string | undefined} */
  let mount;
  try {
    // The longest mount point that contains `dir`.
    let best = '';
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device, point, type] = line.split(' ');
      if (point === undefined || device === undefined) continue;
      const inside = dir === point || dir.startsWith(point.endsWith('/') ? point : `${point}/`);
      if (inside && point.length >= best.length) {
        best = point;
        mount = `${device} on ${point} (${type})`;
      }
    }
  } catch {
    // Not Linux, or /proc is hidden.
  }
  return {
    dir,
    mount,
    sizeGiB: round2((s.blocks * s.bsize) / GiB),
    freeGiB: round2((s.bavail * s.bsize) / GiB),
  };
}

/**
 * @param {(line: string) => void} say
 * @param {any} f
 */
function printTable(say, f) {
  const large = f.large;
  const small = f.small;
  const phases = f.services.byPhase;
  /** @param {string} phase @param {string} name */
  const proc = (phase, name) => {
    const v = phases[phase]?.[name];
    return v === undefined ? '?' : `${Math.round(v.peakKiB / 1024)} MiB ${v.cpuSec.toFixed(1)} s`;
  };
  const rows = [
    ['', 'acai', 'cp'],
    [`${mib(large.bytes)} file`, '', ''],
    ['  upload MB/s', String(large.upload.MBps), String(large.cp.MBps)],
    ['  download MB/s', String(large.download.MBps), String(large.cp.MBps)],
    ['  cp + fsync MB/s', '', String(large.cp.withFsyncMBps)],
    ['  upload s', large.upload.sec.toFixed(2), large.cp.sec.toFixed(2)],
    ['  download s', large.download.sec.toFixed(2), ''],
    ['  commit ms', String(large.commit.ms), ''],
    ['  sha256 back', large.download.sha256Matches ? 'matches' : 'DIFFERS', ''],
    [`${small.files.toLocaleString('en')} small files`, '', ''],
    ['  upload files/s', String(small.upload.filesPerSec), ''],
    ['  upload p50/p99 ms', `${small.upload.latencyMs.p50}/${small.upload.latencyMs.p99}`, ''],
    ['  commit s', small.commit.sec.toFixed(2), ''],
    ['  commit files/s', String(small.commit.filesPerSec), ''],
    ['  end to end files/s', String(small.endToEnd.filesPerSec), ''],
    ['  read back', `${small.readBack.matched}/${small.readBack.checked}`, ''],
    // search: a row group here, added with the search benchmark.
    ['peak RSS, CPU s', 'gateway', 'catalog', 'busy, others'],
    ...Object.keys(phases).map((phase) => {
      const m = f.services.machineByPhase[phase];
      return [
        `  ${phase}`,
        proc(phase, 'gateway'),
        proc(phase, 'catalog'),
        m === undefined ? '?' : `${Math.round(m.machineBusyPct)}% ${m.otherBusySec.toFixed(1)} s`,
      ];
    }),
  ];
  say('');
  for (const [a, b, c, d] of rows)
    say(
      `  ${String(a).padEnd(22)}${String(b).padStart(18)}${String(c).padStart(18)}${d === undefined ? '' : String(d).padStart(16)}`,
    );
  say('');
  say(
    `  cp: the same file copied in the same folder; the page cache is warm for both, and cp alone writes only to the page cache`,
  );
  say(`  while the blob store fsyncs every upload: compare the upload with cp + fsync`);
  say(
    `  peak RSS is VmHWM ${f.services.peaksReset ? 'during each phase (reset at its start)' : 'since the process started (the kernel refused a reset)'}; CPU is user + system seconds in the phase`,
  );
  say(
    `  busy: all ${os.cpus().length} CPUs in the phase; others: CPU seconds of everything but the gateway, the catalog and this process (the rest of the stack, kernel writeback, other programs)`,
  );
}

/** @param {string} text */
function parseOr(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text.slice(0, 300);
  }
}

/** @param {number} bytes @param {number} ms */
function mbps(bytes, ms) {
  return round2(bytes / MB / (ms / 1000));
}

/** @param {number} count @param {number} ms */
function perSec(count, ms) {
  return round2(count / (ms / 1000));
}

/** @param {number} bytes */
function mib(bytes) {
  return bytes >= GiB ? `${round2(bytes / GiB)} GiB` : `${round2(bytes / MiB)} MiB`;
}

/** @param {number} x */
function seconds(x) {
  return (x / 1000).toFixed(2);
}

/** @param {number} x */
function ms(x) {
  return x.toFixed(1);
}

/** @param {number} x */
function round2(x) {
  return Math.round(x * 100) / 100;
}
