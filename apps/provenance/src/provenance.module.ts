import { Module } from '@nestjs/common';
import { HistoryHandler } from './history/history.handler.js';
import { TimelineHandler } from './timeline/timeline.handler.js';

@Module({ controllers: [HistoryHandler, TimelineHandler] })
export class ProvenanceModule {}
