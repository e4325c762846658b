import { Module } from '@nestjs/common';

/**
 * The data lake. For now the service only stands up with the platform's ops endpoints and its
 * schema; file sets, versions and blobs arrive with the catalog issue.
 */
@Module({})
export class CatalogModule {}
