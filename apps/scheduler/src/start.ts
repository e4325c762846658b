import { runMain } from '@acai/platform';
import { schedulerService } from './index.js';

runMain(schedulerService);
