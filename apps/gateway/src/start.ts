import { runMain } from '@acai/platform';
import { gatewayService } from './index.js';

runMain(gatewayService);
