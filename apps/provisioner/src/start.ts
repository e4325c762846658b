import { runMain } from '@acai/platform';
import { provisionerService } from './index.js';

runMain(provisionerService);
