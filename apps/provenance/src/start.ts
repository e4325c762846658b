import { runMain } from '@acai/platform';
import { provenanceService } from './index.js';

runMain(provenanceService);
