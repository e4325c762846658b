import { runMain } from '@acai/platform';
import { executorService } from './index.js';

runMain(executorService);
