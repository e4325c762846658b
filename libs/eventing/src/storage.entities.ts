import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryColumn,
  PrimaryGeneratedColumn,
} from 'typeorm';

/** bigint columns come back from pg as strings; stream sequences fit in a JS number. */
export const bigintAsNumber = {
  to: (value: number) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

/** How far a projection has read the log; changed in the same transaction as its documents. */
@Entity({ name: 'projection_checkpoints' })
export class ProjectionCheckpointEntity {
  @PrimaryColumn({ type: 'text' })
  projection!: string;

  @Column({ name: 'last_seq', type: 'bigint', transformer: bigintAsNumber })
  lastSeq!: number;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

/** One read-model document of one projection, e.g. a run view. */
@Entity({ name: 'projection_documents' })
@Index('projection_documents_project_idx', ['projection', 'project', 'key'])
export class ProjectionDocumentEntity {
  @PrimaryColumn({ type: 'text' })
  projection!: string;

  @PrimaryColumn({ type: 'text' })
  key!: string;

  /** The owning project, lifted out of the document so listing by project is an index scan. */
  @Column({ type: 'text', nullable: true })
  project!: string | null;

  @Column({ type: 'jsonb' })
  doc!: object;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  seq!: number;
}

/**
 * A message a consumer could not process and will not retry, with the reason, until an operator
 * redrives it (see PostgresDeadLetters).
 */
@Entity({ name: 'dead_letters' })
@Index('dead_letters_consumer_idx', ['consumer', 'createdAt'])
export class DeadLetterEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'text' })
  consumer!: string;

  @Column({ type: 'text' })
  stream!: string;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  seq!: number;

  @Column({ type: 'text' })
  subject!: string;

  /** Short machine-readable cause: `undecodable`, `unknown_version`, `invalid_data`, `handler_failed`, `max_deliveries`, `max_redeliveries`, or a problem's reason. */
  @Column({ type: 'text' })
  reason!: string;

  @Column({ type: 'text' })
  error!: string;

  @Column({ type: 'bytea' })
  payload!: Buffer;

  /** The event's type, when the consumer could tell it (null for letters of earlier releases). */
  @Column({ name: 'event_type', type: 'text', nullable: true })
  eventType!: string | null;

  /** How many times it was redriven and failed again. */
  @Column({ type: 'integer', default: 0 })
  redrives!: number;

  /** Since when a replica has it in hand to redrive (a claim; stale after a while). */
  @Column({ name: 'redriving_since', type: 'timestamptz', nullable: true })
  redrivingSince!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

export const eventingEntities = [
  ProjectionCheckpointEntity,
  ProjectionDocumentEntity,
  DeadLetterEntity,
];
