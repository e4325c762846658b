import { Module } from '@nestjs/common';
import { HistoryHandler } from './history/history.handler.js';
import { LineageHandler } from './lineage/lineage.handler.js';
import { ReuseHandler } from './reuse/reuse.handler.js';

@Module({ controllers: [HistoryHandler, ReuseHandler, LineageHandler] })
export class ProvenanceModule {}
