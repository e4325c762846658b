import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AdminController } from './admin/admin.controller.js';
import { DeadLettersController } from './admin/dead-letters.controller.js';
import { DashboardController } from './dashboard/dashboard.controller.js';
import { ApiKeyGuard } from './auth/auth.guard.js';
import { KeyCheck } from './auth/key-check.js';
import { KeysController } from './auth/keys.controller.js';
import { BlobsController } from './filesets/blobs.controller.js';
import { FilesetsController } from './filesets/filesets.controller.js';
import { VersionsController } from './filesets/versions.controller.js';
import { EventsController } from './events/events.controller.js';
import { JobsController } from './jobs/jobs.controller.js';
import { LogStreamsHandler } from './jobs/log-streams.js';
import { LineageController } from './lineage/lineage.controller.js';
import { OpenApiController } from './openapi/openapi.controller.js';
import { ProvisionController } from './provision/provision.controller.js';
import { RunsController } from './runs/runs.controller.js';
import { SecretsController } from './secrets/secrets.controller.js';
import { SecretsHandler } from './secrets/secrets.handler.js';
import { ReuseSharingController } from './reuse/reuse-sharing.controller.js';
import { StorageController } from './storage/storage.controller.js';

@Module({
  controllers: [
    RunsController,
    JobsController,
    LineageController,
    FilesetsController,
    VersionsController,
    BlobsController,
    AdminController,
    DeadLettersController,
    KeysController,
    SecretsController,
    SecretsHandler,
    LogStreamsHandler,
    StorageController,
    ReuseSharingController,
    ProvisionController,
    OpenApiController,
    EventsController,
    // Last: its `GET /*` takes the paths no other route has.
    DashboardController,
  ],
  // Global: every route of the app is guarded, whichever controller serves it.
  providers: [KeyCheck, { provide: APP_GUARD, useClass: ApiKeyGuard }],
})
export class GatewayModule {}
