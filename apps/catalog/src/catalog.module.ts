import { Module } from '@nestjs/common';
import { FilesetsHandler } from './filesets/filesets.handler.js';

/** The data lake: file sets, their versions, metadata and labels (commands on the bus). */
@Module({ controllers: [FilesetsHandler] })
export class CatalogModule {}
