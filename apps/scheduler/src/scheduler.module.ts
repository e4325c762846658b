import { Module } from '@nestjs/common';
import { RunsHandler } from './runs/runs.handler.js';

@Module({ controllers: [RunsHandler] })
export class SchedulerModule {}
