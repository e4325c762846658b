import { Module } from '@nestjs/common';
import { ExperimentGraphHandler } from './graph/experiment-graph.handler.js';
import { HistoryHandler } from './history/history.handler.js';
import { LineageHandler } from './lineage/lineage.handler.js';
import { MaterializeHandler } from './materialize/materialize.handler.js';
import { ReuseHandler } from './reuse/reuse.handler.js';
import { SharingHandler } from './reuse/sharing.handler.js';
import { TimelineHandler } from './timeline/timeline.handler.js';

@Module({
  controllers: [
    ExperimentGraphHandler,
    HistoryHandler,
    ReuseHandler,
    SharingHandler,
    LineageHandler,
    MaterializeHandler,
    TimelineHandler,
  ],
})
export class ProvenanceModule {}
