import { ProjectionDocumentEntity } from '@acai/eventing';
import { activeAttemptsProjection, type ActiveAttempt } from '@acai/runs';
import type { DataSource } from 'typeorm';

/** The attempts the log says are running (the `active-attempts` read model). */
export abstract class ActiveAttempts {
  abstract list(): Promise<ActiveAttempt[]>;
}

/** The read model's documents in the scheduler's schema, as its projection runner keeps them. */
export class SqlActiveAttempts implements ActiveAttempts {
  constructor(private readonly db: DataSource) {}

  async list(): Promise<ActiveAttempt[]> {
    const rows = await this.db
      .getRepository(ProjectionDocumentEntity)
      .find({ select: { doc: true }, where: { projection: activeAttemptsProjection.name } });
    // Written by activeAttemptsProjection alone.
    return rows.map((r) => r.doc as ActiveAttempt);
  }
}
