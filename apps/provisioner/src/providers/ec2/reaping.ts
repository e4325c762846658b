/**
 * Letting instances go, and keeping the books true to EC2: terminating those idle past
 * `idleTimeoutMs` (or all of them), in batches, tolerating ones already gone; and syncing with
 * DescribeInstances, which adopts instances of the fleet it does not know (after a restart) and
 * forgets those that are gone (a Spot interruption, a terminate from outside acai).
 */

import { Ec2RequestError } from './ec2-errors.js';
import type { Ec2Calls } from './ec2-calls.js';
import type { Ec2Instance, Ec2Repository } from './ec2.repository.js';
import { ec2PoolName, fleetTags, POOL_TAG, type FleetSettings } from './fleet-config.js';
import type { FleetLog } from './fleet-log.js';
import { newNode, type Ec2Node, type NodeBook } from './node-book.js';

/** TerminateInstances batch size (AWS allows 1000 and recommends smaller batches). */
const TERMINATE_BATCH = 100;

/** What a sync changed. */
export interface SyncResult {
  /** Instances of the fleet it did not know (after a restart): adopted, idle from now. */
  readonly adopted: readonly string[];
  /** Instances EC2 no longer lists: forgotten, with the job they had (reserved or running). */
  readonly forgotten: readonly { readonly instanceId: string; readonly jobId: string | null }[];
}

export class Reaper {
  constructor(
    private readonly book: NodeBook,
    private readonly repository: Ec2Repository,
    private readonly calls: Ec2Calls,
    private readonly log: FleetLog,
    private readonly clock: () => Date,
    private readonly settings: FleetSettings,
  ) {}

  /** See `Ec2Fleet.reapIdle`. */
  async reapIdle(): Promise<string[]> {
    const now = this.clock().getTime();
    const expired = this.book
      .active()
      .filter(
        (node) =>
          node.jobId === null &&
          node.idleSince !== null &&
          now - node.idleSince.getTime() > this.settings.config.idleTimeoutMs,
      );
    return this.terminate(expired, 'idle for longer than the idle timeout');
  }

  /** See `Ec2Fleet.terminateAll`. */
  async terminateAll(): Promise<string[]> {
    return this.terminate(this.book.active(), 'the fleet is shutting down');
  }

  /** See `Ec2Fleet.sync`. */
  async sync(): Promise<SyncResult> {
    const listed = await this.listFleet();
    const now = this.clock();
    const adopted: string[] = [];
    const forgotten: { instanceId: string; jobId: string | null }[] = [];
    for (const instance of listed.values()) {
      const node = this.book.get(instance.id);
      if (node !== undefined) {
        node.booted = node.booted || instance.state === 'running';
        continue;
      }
      const pool =
        instance.tags[POOL_TAG] ?? ec2PoolName(instance.instanceType, this.settings.poolPrefix);
      this.book.put(newNode(instance, pool, now, now));
      adopted.push(instance.id);
      this.log.info({ instanceId: instance.id, pool }, 'adopted an EC2 instance of this fleet');
    }
    for (const node of this.book.all()) {
      if (listed.has(node.id)) continue;
      // DescribeInstances is eventually consistent: a young instance may not be listed yet.
      const young = now.getTime() - node.launchedAt.getTime() < this.settings.syncGraceMs;
      if (young && !node.terminating) continue;
      this.book.delete(node.id);
      if (node.terminating) continue;
      forgotten.push({ instanceId: node.id, jobId: node.jobId });
      this.log.warn(
        { instanceId: node.id, pool: node.pool, jobId: node.jobId },
        node.jobId === null
          ? 'an EC2 instance is gone (terminated outside acai); forgetting it'
          : 'an EC2 instance is gone with its job (terminated outside acai, e.g. a spot interruption); the work queue redelivers the job',
      );
    }
    return { adopted, forgotten };
  }

  /** See `Ec2Fleet.instanceGone`. */
  instanceGone(instanceId: string): string | null {
    const node = this.book.get(instanceId);
    if (node === undefined) return null;
    this.book.delete(instanceId);
    if (!node.terminating) {
      this.log.warn(
        { instanceId, pool: node.pool, jobId: node.jobId },
        node.jobId === null
          ? 'an EC2 instance is gone; forgetting it'
          : 'an EC2 instance is gone with its job (e.g. a spot interruption); the work queue redelivers the job',
      );
    }
    return node.jobId;
  }

  /** The fleet's pending and running instances, from every page of DescribeInstances. */
  private async listFleet(): Promise<Map<string, Ec2Instance>> {
    const listed = new Map<string, Ec2Instance>();
    let nextToken: string | undefined;
    do {
      const token = nextToken;
      const page = await this.calls.call('DescribeInstances', () =>
        this.repository.describe(
          { tags: fleetTags(this.settings), states: ['pending', 'running'] },
          token,
        ),
      );
      for (const instance of page.instances) listed.set(instance.id, instance);
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    return listed;
  }

  private async terminate(nodes: readonly Ec2Node[], why: string): Promise<string[]> {
    if (nodes.length === 0) return [];
    // Marked first, so no job is reserved on them while the call is under way.
    for (const node of nodes) node.terminating = true;
    const terminated: string[] = [];
    try {
      for (let i = 0; i < nodes.length; i += TERMINATE_BATCH) {
        const batch = nodes.slice(i, i + TERMINATE_BATCH);
        terminated.push(...(await this.terminateBatch(batch)));
      }
    } catch (error) {
      const done = new Set(terminated);
      for (const node of nodes) if (!done.has(node.id)) node.terminating = false;
      throw error;
    }
    if (terminated.length > 0) {
      this.log.info({ instanceIds: terminated }, `terminating EC2 instances: ${why}`);
    }
    return terminated;
  }

  private async terminateBatch(batch: readonly Ec2Node[]): Promise<string[]> {
    const ids = batch.map((node) => node.id);
    try {
      await this.calls.call('TerminateInstances', () => this.repository.terminate(ids));
      return ids;
    } catch (error) {
      if (!isAlreadyGone(error)) throw error;
    }
    // One of them is already gone, which fails the whole call: go one by one.
    const terminated: string[] = [];
    for (const id of ids) {
      try {
        await this.calls.call('TerminateInstances', () => this.repository.terminate([id]));
        terminated.push(id);
      } catch (error) {
        if (!isAlreadyGone(error)) throw error;
        this.book.delete(id);
      }
    }
    return terminated;
  }
}

function isAlreadyGone(error: unknown): boolean {
  return error instanceof Ec2RequestError && error.awsCode === 'InvalidInstanceID.NotFound';
}
