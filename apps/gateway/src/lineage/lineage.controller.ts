import { Controller, Query } from '@nestjs/common';
import type { CommandResult } from '@acai/contracts';
import { CommandSender } from '@acai/eventing';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/keys.repository.js';
import { queryOf, Route, Routes } from '../http/routes.js';

/** Lineage and impact of the caller's project: questions provenance answers from its graph. */
@Controller()
export class LineageController {
  constructor(private readonly commands: CommandSender) {}

  /** `?fileset=mnist&version=1&direction=down&depth=10` or `?job=<id>`: a page of the walk. */
  @Route(Routes.getLineage)
  lineage(
    @Caller() caller: Principal,
    @Query() query: unknown,
  ): Promise<CommandResult<'getLineage'>> {
    const q = queryOf(Routes.getLineage, query);
    return this.commands.send('getLineage', {
      project: caller.project,
      start:
        q.job !== undefined
          ? { jobId: q.job }
          : // The query's schema refuses a request with neither a job nor both of these.
            { fileset: q.fileset ?? '', version: q.version ?? 0 },
      direction: q.direction,
      depth: q.depth,
      limit: q.limit,
      cursor: q.cursor ?? null,
    });
  }

  /** `?run=<id>` or the whole project: the experiment graph, a page of operations at a time. */
  @Route(Routes.getExperimentGraph)
  experimentGraph(
    @Caller() caller: Principal,
    @Query() query: unknown,
  ): Promise<CommandResult<'getExperimentGraph'>> {
    const q = queryOf(Routes.getExperimentGraph, query);
    return this.commands.send('getExperimentGraph', {
      project: caller.project,
      runId: q.run ?? null,
      limit: q.limit,
      cursor: q.cursor ?? null,
    });
  }

  /** `?fileset=mnist&version=1`: what depends on it, in the order to recompute it. */
  @Route(Routes.getImpact)
  impact(
    @Caller() caller: Principal,
    @Query() query: unknown,
  ): Promise<CommandResult<'getImpact'>> {
    const q = queryOf(Routes.getImpact, query);
    return this.commands.send('getImpact', {
      project: caller.project,
      fileset: q.fileset,
      version: q.version,
      limit: q.limit,
      cursor: q.cursor ?? null,
    });
  }
}
