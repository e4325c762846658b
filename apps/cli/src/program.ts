import { setTimeout as sleep } from 'node:timers/promises';
import { Command, CommanderError, Option } from 'commander';
import {
  AcaiApiError,
  AcaiClient,
  followEvents,
  localFiles,
  pullFiles,
  pushFiles,
  type Query,
} from '@acai/sdk';
import { checkGatewayUrl, configPath, resolveConnection, writeConfig } from './config.js';
import { CliError, ExitCode, exitCodeOf, messageOf } from './exit.js';
import {
  bytes,
  isRunEnded,
  jobsDone,
  runProgressLine,
  runTable,
  table,
  usd,
  type RunView,
} from './format.js';
import { type Io, Output } from './io.js';
import { readSpecFile } from './spec-file.js';

interface Globals {
  json?: boolean;
  url?: string;
}

/** What a command needs: its output and a client made from the login or the environment. */
interface Context {
  readonly out: Output;
  /** The global `--url`, if given. */
  readonly url: string | undefined;
  readonly io: Io;
  client(): Promise<AcaiClient>;
  project(explicit?: string): Promise<string>;
  readonly signal: AbortSignal;
}

const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new CommanderError(
      ExitCode.Usage,
      'acai.badNumber',
      `${name} must be a whole number (got '${value}')`,
    );
  }
  return n;
};
const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `key=value` terms (a search, metadata) as a query: a key given twice is a list. */
export function termsToQuery(terms: readonly string[]): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const term of terms) {
    const eq = term.indexOf('=');
    if (eq <= 0) {
      throw new CliError(
        `'${term}' is not a search term: write key=value (label=vision, meta.task=digits, meta.accuracy[gte]=0.9)`,
        ExitCode.Usage,
      );
    }
    const key = term.slice(0, eq);
    const value = term.slice(eq + 1);
    const had = query[key];
    query[key] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
  }
  return query;
}

/** `k=v` metadata terms: values read as JSON when they are JSON (`10`, `true`, `["a"]`). */
export function metadataOf(terms: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(termsToQuery(terms))) {
    const one = Array.isArray(value) ? value.at(-1)! : value;
    try {
      out[key] = JSON.parse(one);
    } catch {
      out[key] = one;
    }
  }
  return out;
}

/** Builds the `acai` program. Every action runs through `context`; errors reach `run`. */
export function buildProgram(io: Io, holder: { ctx?: Context }, signal: AbortSignal): Command {
  const program = new Command('acai')
    .description('The command line of acai: file sets, runs, logs and events of your project')
    .version('0.1.0')
    .addOption(new Option('--json', 'print results as JSON (no progress bars)'))
    .addOption(
      new Option(
        '--url <url>',
        'the gateway for this command, e.g. http://127.0.0.1:8080 (default: $ACAI_URL, else the login’s)',
      ),
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`acai: ${s.replace(/^error: /, '')}`),
    });

  let client: AcaiClient | undefined;
  const ctx = (command: Command): Context => {
    const globals = command.optsWithGlobals<Globals>();
    const out = new Output(io, globals.json === true);
    const context: Context = {
      out,
      io,
      url: globals.url,
      signal,
      async client() {
        if (client !== undefined) return client;
        const { url, key } = await resolveConnection(io.env, globals.url);
        client = new AcaiClient({
          url,
          key,
          // A server that answered "not now" is waited for, saying so; one that cannot be reached
          // is tried again quietly: if it stays so, one line says why (exit.ts).
          onRetry: ({ status, delayMs }) => {
            if (status !== null)
              io.stderr.write(
                `acai: the server answered ${status}; trying again in ${(delayMs / 1000).toFixed(1)} s\n`,
              );
          },
        });
        return client;
      },
      async project(explicit) {
        return explicit ?? (await resolveConnection(io.env, globals.url)).project;
      },
    };
    holder.ctx = context;
    return context;
  };
  /** An action with its context. */
  const act =
    <A extends unknown[]>(fn: (c: Context, ...args: A) => Promise<void>) =>
    async (...args: unknown[]) => {
      const command = args.at(-1) as Command;
      await fn(ctx(command), ...(args.slice(0, -1) as A));
    };

  // login

  program
    .command('login')
    .description(
      'Store the endpoint and API key (in ~/.config/acai/config.json or $ACAI_CONFIG, mode 0600)',
    )
    .option('--url <url>', 'the gateway, e.g. http://127.0.0.1:8080 (default: $ACAI_URL)')
    .option('--key <key>', 'an API key, or - to read it from stdin (default: $ACAI_API_KEY)')
    .option('--project <name>', 'the key’s project, for `acai keys`', 'default')
    .action(
      act(async (c, o: { url?: string; key?: string; project: string }) => {
        const url = o.url ?? c.url ?? c.io.env['ACAI_URL'];
        let key = o.key ?? c.io.env['ACAI_API_KEY'];
        if (key === '-') key = (await readAll(c.io.stdin)).trim();
        if (url === undefined || url === '' || key === undefined || key === '') {
          throw new CliError(
            'login needs the endpoint and a key: acai login --url <url> --key <key> (or --key - to read it from stdin)',
            ExitCode.Usage,
          );
        }
        checkGatewayUrl(url, o.url !== undefined || c.url !== undefined ? '--url' : 'ACAI_URL');
        // Checked before it is stored: a wrong key or URL is said now, not at the next command.
        await new AcaiClient({ url, key, retry: { retries: 1 } }).listRuns({ limit: 1 });
        const file = await writeConfig(c.io.env, { url, key, project: o.project });
        c.out.result(
          { url, project: o.project, config: file },
          () => `logged in to ${url} (project ${o.project}); saved in ${file}`,
        );
      }),
    );

  // file sets

  const fileset = program.command('fileset').description('Versioned file sets');
  fileset
    .command('push <name> <path>')
    .description('Upload a file or a folder as a new version of a file set (created if missing)')
    .option('--label <label>', 'a label of the new version (repeatable)', collect)
    .option(
      '--meta <key=value>',
      'metadata of the new version (repeatable; JSON values read as JSON)',
      collect,
    )
    .option('--keep', 'keep the files of the latest version that are not in <path>')
    .action(
      act(
        async (
          c,
          name: string,
          root: string,
          o: { label?: string[]; meta?: string[]; keep?: boolean },
        ) => {
          const client = await c.client();
          let files;
          try {
            files = await localFiles(root);
          } catch (error) {
            throw new CliError(`cannot read ${root}: ${(error as Error).message}`, ExitCode.Usage);
          }
          if (files.length === 0)
            throw new CliError(`${root} holds no files to push`, ExitCode.Usage);
          let bar: ReturnType<Output['bytes']> | undefined;
          const result = await pushFiles(client, name, files, {
            ...(o.label === undefined ? {} : { labels: o.label }),
            ...(o.meta === undefined ? {} : { metadata: metadataOf(o.meta) }),
            keep: o.keep === true,
            onFile: (file, i, n) => {
              bar?.stop();
              bar = c.out.bytes(`uploading ${file.path} (${i + 1}/${n})`, file.size);
            },
            onBytes: (done) => bar?.update(done),
          });
          bar?.stop();
          c.out.result({ fileset: name, ...result }, (r) =>
            r.committed
              ? `committed ${name} v${r.version}: ${r.files} files, ${bytes(r.bytes)}`
              : `${name} v${r.version} already holds these files; nothing committed`,
          );
        },
      ),
    );
  fileset
    .command('pull <name> [ref]')
    .description('Download a version (default latest) into a folder')
    .option('--to <dir>', 'the folder to write into', '.')
    .option('--prefix <prefix>', 'only paths that start with this')
    .action(
      act(async (c, name: string, ref: string | undefined, o: { to: string; prefix?: string }) => {
        const client = await c.client();
        let bar: ReturnType<Output['bytes']> | undefined;
        const result = await pullFiles(client, name, ref ?? 'latest', o.to, {
          ...(o.prefix === undefined ? {} : { prefix: o.prefix }),
          onFile: (p, size) => {
            bar?.stop();
            bar = c.out.bytes(`downloading ${p}`, size);
          },
          onBytes: (done) => bar?.update(done),
        });
        bar?.stop();
        c.out.result(
          { fileset: name, dir: o.to, ...result },
          (r) => `pulled ${name} v${r.version} into ${o.to}: ${r.files} files, ${bytes(r.bytes)}`,
        );
      }),
    );
  const filesetTable = (page: {
    items: { name: string; latestVersion: number; labels: string[]; updatedAt: string }[];
    nextCursor: string | null;
  }) =>
    table(
      ['name', 'latest', 'labels', 'updated'],
      page.items.map((f) => [f.name, `v${f.latestVersion}`, f.labels.join(','), f.updatedAt]),
    ) + (page.nextCursor === null ? '' : `\n(more: --cursor ${page.nextCursor})`);
  fileset
    .command('ls')
    .description('List file sets')
    .option('--limit <n>', 'at most this many', int('--limit'))
    .option('--cursor <cursor>', 'the next page')
    .action(
      act(async (c, o: { limit?: number; cursor?: string }) => {
        const page = await (await c.client()).searchFilesets({ limit: o.limit, cursor: o.cursor });
        c.out.result(page, filesetTable);
      }),
    );
  fileset
    .command('search <terms...>')
    .description(
      'Search file sets (or --versions) by key=value terms: label=vision meta.task=digits meta.accuracy[gte]=0.9',
    )
    .option('--versions', 'search versions instead of file sets')
    .action(
      act(async (c, terms: string[], o: { versions?: boolean }) => {
        const client = await c.client();
        const query: Query = termsToQuery(terms);
        if (o.versions === true) {
          const page = await client.searchVersions(query);
          c.out.result(page, (p) =>
            table(
              ['fileset', 'version', 'files', 'bytes', 'labels'],
              p.items.map((v) => [
                v.fileset,
                `v${v.version}`,
                String(v.files),
                bytes(v.bytes),
                v.labels.join(','),
              ]),
            ),
          );
        } else {
          c.out.result(await client.searchFilesets(query), filesetTable);
        }
      }),
    );
  fileset
    .command('show <name> [ref]')
    .description(
      'A file set and its versions, or one version (a number, latest or a label) and its files',
    )
    .action(
      act(async (c, name: string, ref: string | undefined) => {
        const client = await c.client();
        if (ref === undefined) {
          const view = await client.getFileset(name);
          c.out.result(view, (f) =>
            [
              `${f.name}: latest v${f.latestVersion}${f.labels.length > 0 ? `, labels ${f.labels.join(', ')}` : ''}`,
              table(
                ['version', 'files', 'bytes', 'labels', 'state'],
                f.versions.map((v) => [
                  `v${v.version}`,
                  String(v.files),
                  bytes(v.bytes),
                  v.labels.join(','),
                  [v.pinned ? 'pinned' : '', v.evicted ? 'evicted' : ''].filter(Boolean).join(','),
                ]),
              ),
            ].join('\n'),
          );
          return;
        }
        const version = await client.getVersion(name, ref);
        const files = [];
        for await (const f of client.allFiles(name, version.version)) files.push(f);
        c.out.result({ ...version, items: files }, (v) =>
          [
            `${v.fileset} v${v.version} (parent v${v.parent}): ${v.files} files, ${bytes(v.bytes)}${v.pinned ? ', pinned' : ''}${v.evicted ? ', evicted' : ''}`,
            ...(Object.keys(v.metadata).length > 0
              ? [`metadata: ${JSON.stringify(v.metadata)}`]
              : []),
            table(
              ['path', 'size', 'sha256'],
              v.items.map((f) => [f.path, bytes(f.size), f.sha256.slice(0, 12)]),
            ),
          ].join('\n'),
        );
      }),
    );
  fileset
    .command('diff <name> <from> <to>')
    .description('Paths added, removed and changed between two versions')
    .action(
      act(async (c, name: string, from: string, to: string) => {
        const diff = await (await c.client()).diffVersions(name, from, to);
        c.out.result(diff, (d) =>
          [
            `${name} v${d.from} → v${d.to}`,
            ...d.added.map((p) => `+ ${p}`),
            ...d.removed.map((p) => `- ${p}`),
            ...d.changed.map((p) => `~ ${p}`),
          ].join('\n'),
        );
      }),
    );
  fileset
    .command('pin <name> <version>')
    .description('Pin a version (never evicted); --unpin to take the pin off')
    .option('--unpin', 'take the pin off')
    .action(
      act(async (c, name: string, version: string, o: { unpin?: boolean }) => {
        const view = await (
          await c.client()
        ).pinVersion(name, int('<version>')(version), o.unpin !== true);
        c.out.result(view, (v) => `${v.fileset} v${v.version} ${v.pinned ? 'pinned' : 'unpinned'}`);
      }),
    );
  fileset
    .command('evict <name> <version>')
    .description('Remove a version’s bytes (its manifest, metadata and lineage stay)')
    .option('--reason <text>', 'why, kept in the log')
    .action(
      act(async (c, name: string, version: string, o: { reason?: string }) => {
        const evicted = await (
          await c.client()
        ).evictVersion(name, int('<version>')(version), o.reason);
        c.out.result(evicted, () => `${name} v${version} evicted`);
      }),
    );

  // runs

  const run = program.command('run').description('Runs: submit, follow, list, cancel, plan');
  run
    .command('submit <spec>')
    .description(
      'Submit a run spec (JSON, or YAML for .yaml/.yml); --follow to watch it to its end',
    )
    .option('-f, --follow', 'show its progress until it ends; exit 1 when it fails')
    .option('--interval <ms>', 'how often to look, with --follow', int('--interval'), 1000)
    .action(
      act(async (c, file: string, o: { follow?: boolean; interval: number }) => {
        const spec = await readSpecFile(file);
        const client = await c.client();
        const submitted = await client.submitRun(spec);
        if (o.follow !== true) {
          c.out.result(
            submitted,
            (s) => `submitted run ${s.id} (${s.jobs.map((j) => j.name).join(', ')})`,
          );
          return;
        }
        c.out.line(
          `submitted run ${submitted.id} (${submitted.jobs.map((j) => j.name).join(', ')})`,
        );
        await followRun(c, client, submitted.id, o.interval);
      }),
    );
  run
    .command('ls')
    .description('List runs, newest first')
    .option('--limit <n>', 'at most this many', int('--limit'))
    .option('--cursor <cursor>', 'the next page')
    .action(
      act(async (c, o: { limit?: number; cursor?: string }) => {
        const page = await (
          await c.client()
        ).listRuns({
          ...(o.limit === undefined ? {} : { limit: o.limit }),
          ...(o.cursor === undefined ? {} : { cursor: o.cursor }),
        });
        c.out.result(
          page,
          (p) =>
            table(
              ['id', 'name', 'status', 'jobs', 'created'],
              p.items.map((r) => [
                r.id,
                r.name,
                r.status,
                `${jobsDone(r).done}/${r.jobs.length}`,
                r.createdAt,
              ]),
            ) + (p.nextCursor === null ? '' : `\n(more: --cursor ${p.nextCursor})`),
        );
      }),
    );
  run
    .command('show <id>')
    .description('A run: its jobs, limits, sweeps')
    .option('-f, --follow', 'follow it to its end (exit 1 when it fails)')
    .option('--interval <ms>', 'how often to look, with --follow', int('--interval'), 1000)
    .action(
      act(async (c, id: string, o: { follow?: boolean; interval: number }) => {
        const client = await c.client();
        if (o.follow === true) {
          await followRun(c, client, id, o.interval);
          return;
        }
        const view = await client.getRun(id);
        c.out.result(view, (r) => `${runProgressLine(r, new Map())}\n${runTable(r)}`);
      }),
    );
  run
    .command('cancel <id>')
    .description('Cancel a run')
    .action(
      act(async (c, id: string) => {
        const result = await (await c.client()).cancelRun(id);
        c.out.result(result, () => `cancelling run ${id}`);
      }),
    );
  run
    .command('plan <spec>')
    .description('What a spec would run, where, for how long and at what cost, without running it')
    .action(
      act(async (c, file: string) => {
        const plan = await (await c.client()).planRun(await readSpecFile(file));
        c.out.result(plan, (p) => JSON.stringify(p, null, 2));
      }),
    );
  run
    .command('trials <id>')
    .description('The trials of a run’s sweeps')
    .action(
      act(async (c, id: string) => {
        const trials = await (await c.client()).getRunTrials(id);
        c.out.result(trials, (t) => JSON.stringify(t, null, 2));
      }),
    );
  run
    .command('timeline <id>')
    .description('What happened to a run, in order, with the reasons of each decision')
    .option('--after <n>', 'entries after this log position', int('--after'))
    .option('--limit <n>', 'at most this many', int('--limit'))
    .action(
      act(async (c, id: string, o: { after?: number; limit?: number }) => {
        const timeline = await (
          await c.client()
        ).getRunTimeline(id, {
          ...(o.after === undefined ? {} : { after: o.after }),
          ...(o.limit === undefined ? {} : { limit: o.limit }),
        });
        c.out.result(timeline, (t) => JSON.stringify(t, null, 2));
      }),
    );

  // jobs

  program
    .command('logs <job>')
    .description('A job’s output; -f follows it until the job ends')
    .option('-f, --follow', 'follow new lines until the job ends')
    .action(
      act(async (c, job: string, o: { follow?: boolean }) => {
        const client = await c.client();
        if (o.follow === true) {
          for await (const line of client.followJobLogs(job, c.signal)) {
            if (c.out.json) c.out.record({ line });
            else c.io.stdout.write(`${line}\n`);
          }
          return;
        }
        const text = await client.getJobLogs(job);
        c.out.result({ job, logs: text }, (r) => r.logs.replace(/\n$/, ''));
      }),
    );
  program
    .command('history <job>')
    .description('Every event of a job, in log order')
    .action(
      act(async (c, job: string) => {
        const history = await (await c.client()).getJobHistory(job);
        c.out.result(history, (h) =>
          table(
            ['seq', 'time', 'type'],
            h.map((e) => [String(e.seq), e.time, e.type]),
          ),
        );
      }),
    );
  program
    .command('lineage')
    .description(
      'What a version or job was made from (--direction up) or what was made from it (down)',
    )
    .option('--fileset <name>', 'start at a version of this file set')
    .option('--version <n>', 'the version of --fileset')
    .option('--job <id>', 'start at this job')
    .option('--direction <d>', 'up, down or both')
    .option('--depth <n>', 'how far to walk')
    .action(
      act(async (c, o: Record<string, string | undefined>) => {
        const lineage = await (await c.client()).getLineage(o);
        c.out.result(lineage, (l) => JSON.stringify(l, null, 2));
      }),
    );

  // events

  program
    .command('events')
    .description('The project’s events as they happen (Server-Sent Events)')
    .option('-f, --follow', 'keep following (reconnecting when the connection drops) until Ctrl-C')
    .option('--type <types>', 'event types or families, comma-separated: job.succeeded,run.*')
    .option('--run <id>', 'only events of this run')
    .option('--job <id>', 'only events of this job')
    .option('--fileset <name>', 'only events of this file set')
    .option(
      '--after <position>',
      'start after this log position (default: new events only)',
      int('--after'),
    )
    .option(
      '--idle <ms>',
      'without --follow: stop after this long without an event',
      int('--idle'),
      2000,
    )
    .action(
      act(
        async (
          c,
          o: {
            follow?: boolean;
            type?: string;
            run?: string;
            job?: string;
            fileset?: string;
            after?: number;
            idle: number;
          },
        ) => {
          const client = await c.client();
          const abort = new AbortController();
          const stop = () => abort.abort();
          c.signal.addEventListener('abort', stop);
          let idle: NodeJS.Timeout | undefined;
          const quiet = () => {
            if (o.follow === true) return;
            clearTimeout(idle);
            idle = setTimeout(stop, o.idle);
          };
          quiet();
          try {
            for await (const event of followEvents(client, {
              ...(o.type === undefined ? {} : { types: o.type.split(',') }),
              ...(o.run === undefined ? {} : { run: o.run }),
              ...(o.job === undefined ? {} : { job: o.job }),
              ...(o.fileset === undefined ? {} : { fileset: o.fileset }),
              ...(o.after === undefined ? {} : { after: o.after }),
              signal: abort.signal,
              onReconnect: (last) =>
                c.io.stderr.write(
                  `acai: the event stream dropped; reconnecting after ${last ?? 'the start'}\n`,
                ),
            })) {
              quiet();
              if (c.out.json) c.out.record({ position: event.position, ...event.envelope });
              else
                c.io.stdout.write(
                  `${event.position}  ${event.envelope.occurredAt}  ${event.type}  ${event.envelope.aggregateId}\n`,
                );
            }
          } finally {
            clearTimeout(idle);
            c.signal.removeEventListener('abort', stop);
          }
        },
      ),
    );

  // keys

  const keys = program.command('keys').description('API keys of the project (admin scope)');
  keys
    .command('create')
    .description('Make a key; it is shown once')
    .requiredOption('--scope <scope>', 'read, write or admin')
    .option('--name <name>', 'what it is for')
    .option('--project <name>', 'the project (default: the login’s)')
    .action(
      act(async (c, o: { scope: string; name?: string; project?: string }) => {
        if (!['read', 'write', 'admin'].includes(o.scope)) {
          throw new CliError(
            `--scope must be read, write or admin (got '${o.scope}')`,
            ExitCode.Usage,
          );
        }
        const key = await (
          await c.client()
        ).createKey(await c.project(o.project), {
          scope: o.scope as 'read',
          ...(o.name === undefined ? {} : { name: o.name }),
        });
        c.out.result(
          key,
          (k) =>
            `${k.id} (${k.scope}${k.name === null ? '' : `, ${k.name}`}): ${k.key}\nKeep it: it is not shown again.`,
        );
      }),
    );
  keys
    .command('ls')
    .description('List the project’s keys (never their secrets)')
    .option('--project <name>', 'the project (default: the login’s)')
    .action(
      act(async (c, o: { project?: string }) => {
        const list = await (await c.client()).listKeys(await c.project(o.project));
        c.out.result(list, (l) =>
          table(
            ['id', 'scope', 'name', 'prefix', 'created'],
            l.items.map((k) => [k.id, k.scope, k.name ?? '', k.prefix, k.createdAt]),
          ),
        );
      }),
    );
  keys
    .command('revoke <id>')
    .description('Revoke a key at once')
    .option('--project <name>', 'the project (default: the login’s)')
    .action(
      act(async (c, id: string, o: { project?: string }) => {
        const key = await (await c.client()).revokeKey(await c.project(o.project), id);
        c.out.result(key, (k) => `revoked ${k.id}`);
      }),
    );

  // operations

  program
    .command('replay <projection>')
    .description('Rebuild a read model from the log (platform admin key)')
    .action(
      act(async (c, name: string) => {
        const client = await c.client();
        const started = await client.replayProjection(name);
        c.out.result(
          started,
          () =>
            `replaying ${name}; see its progress with --json or GET /api/v1/projections/${name}`,
        );
      }),
    );

  return program;
}

/** Follows a run to its end: a bar on a terminal, a line per change otherwise; exit 1 if it fails. */
async function followRun(
  c: Context,
  client: AcaiClient,
  id: string,
  intervalMs: number,
): Promise<void> {
  const bar = c.out.tty ? c.out.progress(0) : undefined;
  let last = '';
  let view: RunView;
  for (;;) {
    view = await client.getRun(id);
    const progress = new Map<string, { step: number | null; totalSteps: number | null } | null>();
    for (const r of view.limits?.running ?? []) progress.set(r.jobId, r);
    for (const job of view.jobs
      .filter((j) => j.status === 'running' && !progress.has(j.id))
      .slice(0, 3)) {
      try {
        progress.set(job.id, (await client.getJob(job.id)).progress ?? null);
      } catch (error) {
        if (!(error instanceof AcaiApiError && error.status === 404)) throw error;
      }
    }
    const line = runProgressLine(view, progress);
    const { done, total } = jobsDone(view);
    if (bar !== undefined) {
      bar.update(done, line);
    } else if (line !== last && !c.out.json) {
      c.io.stdout.write(`${line}\n`);
    }
    last = line;
    if (isRunEnded(view)) break;
    if (c.signal.aborted)
      throw new CliError(
        `stopped following run ${id}; it goes on (acai run show ${id} -f)`,
        ExitCode.Interrupted,
      );
    await sleep(intervalMs, undefined, { signal: c.signal }).catch(() => undefined);
    void total;
  }
  bar?.stop();
  c.out.result(view, (r) => {
    const cost = r.limits === undefined ? '' : `; cost ${usd(r.limits.spent)}`;
    return `${runTable(r)}\nrun ${r.id} ${r.status}${cost}`;
  });
  if (view.status !== 'succeeded') {
    throw new CliError(
      `run ${id} ${view.status}: see \`acai run timeline ${id}\` and \`acai logs <job>\``,
      ExitCode.RunFailed,
    );
  }
}

async function readAll(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (stream === undefined) return '';
  let text = '';
  for await (const chunk of stream)
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
  return text;
}

/**
 * Runs `acai` with these arguments and answers its exit code. Errors are written as a message
 * that says what to do (JSON with --json), never as a stack trace.
 */
export async function run(
  argv: readonly string[],
  io: Io,
  signal: AbortSignal = new AbortController().signal,
): Promise<ExitCode> {
  const holder: { ctx?: Context } = {};
  const program = buildProgram(io, holder, signal);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; help shown because a command was missing is a usage error.
      if (error.exitCode === 0) return ExitCode.Ok;
      if (error.code === 'acai.badNumber') io.stderr.write(`acai: ${error.message}\n`);
      // Commander wrote its message already (unknown flag, missing argument …).
      return ExitCode.Usage;
    }
    // Ctrl-C while following logs or a run: stop quietly (the run goes on).
    if (signal.aborted && !(error instanceof CliError)) return ExitCode.Interrupted;
    const code = exitCodeOf(error);
    const message = messageOf(error);
    if (holder.ctx?.out.json === true || argv.includes('--json')) {
      const api =
        error instanceof AcaiApiError
          ? { status: error.status, code: error.code, reason: error.reason }
          : {};
      io.stderr.write(`${JSON.stringify({ error: { message, exitCode: code, ...api } })}\n`);
    } else {
      io.stderr.write(`acai: ${message}\n`);
    }
    return code;
  }
}

export { configPath };
