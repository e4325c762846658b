import { Controller, Param, Query, Res, Inject } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { TERMINAL_JOB_STATUSES, type CommandResult, type LogChunk } from '@acai/contracts';
import { CommandSender, LOGGER, type EventingLogger } from '@acai/eventing';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/keys.repository.js';
import { assertId } from '../runs/runs.controller.js';
import { queryOf, Route, Routes } from '../http/routes.js';
import { JobLogs } from './logs.reader.js';

/** How long the logs of a job that has ended are followed for an end marker still on its way. */
const ENDED_JOB_FOLLOW_MS = 5_000;

@Controller()
export class JobsController {
  constructor(
    private readonly commands: CommandSender,
    private readonly output: JobLogs,
    @Inject(LOGGER) private readonly logger: EventingLogger,
  ) {}

  @Route(Routes.getJob)
  get(@Caller() caller: Principal, @Param('id') id: string): Promise<CommandResult<'getJob'>> {
    assertId(id, 'job');
    return this.commands.send('getJob', { project: caller.project, jobId: id });
  }

  /** The job's events in log order: type, time, data. */
  @Route(Routes.getJobHistory)
  history(
    @Caller() caller: Principal,
    @Param('id') id: string,
  ): Promise<CommandResult<'getJobHistory'>> {
    assertId(id, 'job');
    return this.commands.send('getJobHistory', { project: caller.project, jobId: id });
  }

  /** Why the job was (not) reused: its signature against the nearest earlier job of its step. */
  @Route(Routes.explainReuse)
  reuse(
    @Caller() caller: Principal,
    @Param('id') id: string,
  ): Promise<CommandResult<'explainReuse'>> {
    assertId(id, 'job');
    return this.commands.send('explainReuse', { project: caller.project, jobId: id });
  }

  /** The job's metrics as series by name (`?name=loss` for one): `{ series: { loss: [{ step, value, time, attempt }] } }`. */
  @Route(Routes.getJobMetrics)
  metrics(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Query() query: unknown,
  ): Promise<CommandResult<'getJobMetrics'>> {
    assertId(id, 'job');
    const { name } = queryOf(Routes.getJobMetrics, query);
    return this.commands.send('getJobMetrics', {
      project: caller.project,
      jobId: id,
      name: name ?? null,
    });
  }

  /**
   * The job's output. Plain text by default (stderr lines too, in order); `format=json` gives one
   * JSON object per line (`t` time, `s` out|err, `l` text). `follow=true` streams until the job ends
   * (at once for a reused job, which never ran; within ENDED_JOB_FOLLOW_MS for another job that
   * ended without running: skipped, cancelled or failed before it started).
   */
  @Route(Routes.getJobLogs)
  async logs(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Query() query: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { follow, format } = queryOf(Routes.getJobLogs, query);
    const abort = new AbortController();
    reply.raw.on('close', () => abort.abort());
    const { following, chunks } = await this.openLogs(
      caller,
      id,
      follow === 'true' || follow === '1',
      abort,
    );
    // A followed job may print nothing for a long time: the idle timeout does not apply to it.
    if (following) reply.raw.socket?.setTimeout(0);
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type':
        format === 'json' ? 'application/x-ndjson; charset=utf-8' : 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    try {
      for await (const chunk of chunks) {
        const text = chunk.lines
          .map((line) => (format === 'json' ? JSON.stringify(line) : line.l))
          .map((l) => `${l}\n`)
          .join('');
        if (text !== '' && !reply.raw.write(text)) {
          await new Promise((resolve) => reply.raw.once('drain', resolve));
        }
      }
    } catch (error) {
      this.logger.warn(
        { jobId: id, err: error instanceof Error ? error.message : String(error) },
        'log stream ended early',
      );
    } finally {
      reply.raw.end();
    }
  }

  /**
   * A job's output (REST or gRPC): what there is, and with `follow` what it prints until it ends
   * or `abort` is aborted. A reused job never ran: it has no output and no end marker will come,
   * so it is not followed. A job that has ended may never have run (skipped, cancelled or failed
   * before it started), and then no end marker ever comes either: it is followed only as long as
   * its last output may take (ENDED_JOB_FOLLOW_MS). 404 before anything is read for a job that
   * is not the caller's project's.
   */
  async openLogs(
    caller: Principal,
    id: string,
    follow: boolean,
    abort: AbortController,
  ): Promise<{ following: boolean; chunks: AsyncGenerator<LogChunk> }> {
    assertId(id, 'job');
    const job = await this.commands.send('getJob', { project: caller.project, jobId: id });
    // A job that took an earlier result, or that its run's reuse plan left out, never ran.
    const following = follow && job.reusedFrom === undefined && job.reason !== 'not_needed';
    const output = this.output;
    async function* chunks(): AsyncGenerator<LogChunk> {
      const ended =
        following && TERMINAL_JOB_STATUSES.has(job.status)
          ? setTimeout(() => abort.abort(), ENDED_JOB_FOLLOW_MS)
          : undefined;
      try {
        yield* output.read(caller.project, id, { follow: following, signal: abort.signal });
      } finally {
        clearTimeout(ended);
      }
    }
    return { following, chunks: chunks() };
  }
}
