export { catalogueRates, INSTANCE_TYPES, PRICE_SOURCE } from './instance-types.js';
export {
  LOCAL_BOOT_SECONDS,
  localSlotName,
  localSlotPrice,
  ec2Offers,
  fallbackOffers,
  localOffers,
  type Offer,
  offerKey,
  offerRef,
} from './offers.js';
export { OfferCatalogue } from './offer-catalogue.js';
export { formatDollars, formatSeconds } from './format.js';
export { profileDecider, type ProfileState } from './profile.decider.js';
export { jobProfile } from './job-profile.js';
export { profilingRunSpec } from './profiling-run.js';
export {
  asRequestedChoice,
  type Choice,
  decidePlacement,
  describeChoice,
  type JobObservation,
  type JobToPlace,
  type PlacementOutcome,
} from './placement.js';
export { placeLocally } from './local-placement.js';
export { PlacementWaits, WAITS_KEPT, waitSeconds } from './placement-waits.js';
export {
  planRun,
  splitShares,
  type StepBounds,
  type RunPlanRequest,
  type StepLimits,
  type StepToPlan,
} from './run-plan.js';
export {
  DEFAULT_PARALLEL_FRACTION,
  planRescale,
  type RescalePlan,
  type RescaleRequest,
} from './rescale-plan.js';
