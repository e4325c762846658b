import { Module } from '@nestjs/common';
import { HistoryHandler } from './history/history.handler.js';
import { MaterializeHandler } from './materialize/materialize.handler.js';
import { ReuseHandler } from './reuse/reuse.handler.js';

@Module({ controllers: [HistoryHandler, ReuseHandler, MaterializeHandler] })
export class ProvenanceModule {}
