import { Module } from '@nestjs/common';
import { AdminController } from './admin/admin.controller.js';
import { ApiKeyGuard } from './auth/auth.guard.js';
import { JobsController } from './jobs/jobs.controller.js';
import { OpenApiController } from './openapi/openapi.controller.js';
import { RunsController } from './runs/runs.controller.js';

@Module({
  controllers: [RunsController, JobsController, AdminController, OpenApiController],
  providers: [ApiKeyGuard],
})
export class GatewayModule {}
