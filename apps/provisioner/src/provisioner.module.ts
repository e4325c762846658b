import { Module } from '@nestjs/common';
import { AllocationHandler } from './allocation/allocation.handler.js';
import { ProvisionController } from './allocation/provision.controller.js';

@Module({ controllers: [AllocationHandler, ProvisionController] })
export class ProvisionerModule {}
