export {
  blobConfig,
  commonConfig,
  type CommonConfig,
  type ConfigOf,
  type ConfigSpec,
  loadConfig,
  nonNegativeInt,
  port,
  positiveInt,
} from './config.js';
export { type Logger } from './logger.js';
export { type ServiceMetrics } from './metrics.js';
export { newId } from './ids.js';
export {
  type HttpTimeouts,
  runMain,
  type RunningService,
  type ServiceDefinition,
  startService,
} from './service.js';
export { MAX_PARAM_LENGTH, overlongParameter, statusOf } from './errors.filter.js';
export { OpsController } from './ops.controller.js';
