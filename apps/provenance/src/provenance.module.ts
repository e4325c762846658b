import { Module } from '@nestjs/common';
import { HistoryHandler } from './history/history.handler.js';
import { LineageHandler } from './lineage/lineage.handler.js';

@Module({ controllers: [HistoryHandler, LineageHandler] })
export class ProvenanceModule {}
