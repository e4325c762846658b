import { Module } from '@nestjs/common';
import { BlobsHandler } from './blobs/blobs.handler.js';
import { FilesetsHandler } from './filesets/filesets.handler.js';

/** The data lake: file sets, their versions, metadata and labels, blob ownership (commands on the bus). */
@Module({ controllers: [FilesetsHandler, BlobsHandler] })
export class CatalogModule {}
