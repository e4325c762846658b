import type { DataSource, EntityManager } from 'typeorm';
import { DeadLetterEntity } from './storage.entities.js';

export interface DeadLetter {
  readonly consumer: string;
  readonly stream: string;
  readonly seq: number;
  readonly subject: string;
  readonly reason: string;
  readonly error: string;
  readonly payload: Uint8Array;
}

/** Where poison messages go: a row with the reason, so the consumer can carry on. */
export interface DeadLetterSink {
  record(letter: DeadLetter, manager?: EntityManager): Promise<void>;
}

export class PostgresDeadLetters implements DeadLetterSink {
  constructor(private readonly dataSource: DataSource) {}

  async record(
    letter: DeadLetter,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<void> {
    await manager.insert(DeadLetterEntity, { ...letter, payload: Buffer.from(letter.payload) });
  }

  async list(consumer?: string, limit = 100): Promise<DeadLetterEntity[]> {
    return this.dataSource.getRepository(DeadLetterEntity).find({
      where: consumer === undefined ? {} : { consumer },
      order: { createdAt: 'ASC' },
      take: limit,
    });
  }
}
