import { Module } from '@nestjs/common';

/** The executor has no HTTP or bus handlers of its own: its work loop (JobRunner) pulls from the queue. */
@Module({})
export class ExecutorModule {}
