import { AcaiError, RunProblems, type JobView, type RunView } from '@acai/contracts';
import type { ProjectionControl } from '@acai/eventing';
import type { ReadModels } from './read-models.repository.js';

/** How long a read waits for the projections before it answers "not found". */
const CATCH_UP_MS = 3_000;

/**
 * Read-your-writes: what a client wrote a moment ago (a run submitted, a version committed) may
 * not be projected yet, so a read that finds nothing waits briefly for the projections to catch up
 * with the log and reads again.
 */
export async function readFresh<T>(
  projections: ProjectionControl,
  read: () => Promise<T | undefined>,
): Promise<T | undefined> {
  return (await read()) ?? ((await projections.catchUp(CATCH_UP_MS)) ? await read() : undefined);
}

/** The run's view, read fresh; a run of another project is not found, as one that does not exist. */
export async function findRun(
  readModels: ReadModels,
  projections: ProjectionControl,
  project: string,
  runId: string,
): Promise<RunView> {
  const run = await readFresh(projections, () => readModels.find<RunView>('runs', project, runId));
  if (run === undefined) {
    throw new AcaiError(RunProblems.RUN_NOT_FOUND, `No run '${runId}' in this project`);
  }
  return run;
}

/** The job's view, read fresh; a job of another project is not found, as one that does not exist. */
export async function findJob(
  readModels: ReadModels,
  projections: ProjectionControl,
  project: string,
  jobId: string,
): Promise<JobView> {
  const job = await readFresh(projections, () => readModels.find<JobView>('jobs', project, jobId));
  if (job === undefined) {
    throw new AcaiError(RunProblems.JOB_NOT_FOUND, `No job '${jobId}' in this project`);
  }
  return job;
}
