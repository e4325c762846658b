import { Module } from '@nestjs/common';
import { AllocationHandler } from './allocation/allocation.handler.js';

@Module({ controllers: [AllocationHandler] })
export class ProvisionerModule {}
