import { runMain } from '@acai/platform';
import { catalogService } from './index.js';

runMain(catalogService);
