import { Module } from '@nestjs/common';
import { HistoryHandler } from './history/history.handler.js';

@Module({ controllers: [HistoryHandler] })
export class ProvenanceModule {}
