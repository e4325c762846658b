import { defineProblems, ErrorCode } from '../errors.js';

/** Problems of placement, the auto-provisioner, the offers and the providers (the provisioner). */
export const ProvisioningProblems = defineProblems('provisioning', {
  INSTANCE_TYPE_UNKNOWN: {
    code: ErrorCode.ValidationFailed,
    title: 'No instance type of that name in the catalogue',
  },
  OFFER_UNKNOWN: {
    code: ErrorCode.ValidationFailed,
    title: 'No configuration of that name is offered',
  },
  PRICES_INVALID: { code: ErrorCode.ValidationFailed, title: 'The price list is invalid' },
  RATES_UNFIT: {
    code: ErrorCode.ValidationFailed,
    title: 'Per-vCPU and per-GiB prices cannot be fitted on this instance-type catalogue',
  },
  VALUE_OUT_OF_RANGE: {
    code: ErrorCode.ValidationFailed,
    title: 'A number is outside the range it must be in',
  },
  RUNTIME_MODEL_UNFIT: {
    code: ErrorCode.ValidationFailed,
    title: 'The runtime model cannot be fitted or used with these runs',
  },
  SIZE_PARAMETER_INVALID: {
    code: ErrorCode.ValidationFailed,
    title: 'A size parameter of the job is missing or not a positive number',
  },
  NO_CONFIGURATION: {
    code: ErrorCode.ValidationFailed,
    title: 'No configuration offered can run the job',
  },
  STEP_FITS_NOWHERE: {
    code: ErrorCode.ValidationFailed,
    title: 'A step asks for more than any configuration offers',
  },
  PROVIDER_NOT_ENABLED: {
    code: ErrorCode.ValidationFailed,
    title: 'The provider is not enabled here',
  },
  PROVIDER_NOT_CONFIGURED: {
    code: ErrorCode.Internal,
    title: 'The provider is enabled but its configuration cannot work',
  },
  CAPACITY_UNAVAILABLE: {
    code: ErrorCode.Unavailable,
    title: 'The provider could not provide the configuration chosen',
  },
  EC2_NO_CAPACITY: {
    code: ErrorCode.Unavailable,
    retryable: true,
    title: 'Every acceptable EC2 instance type was out of capacity or over quota',
  },
  EC2_MAX_INSTANCES: {
    code: ErrorCode.Unavailable,
    retryable: true,
    title: 'The EC2 fleet is at its maximum number of instances',
  },
  EC2_THROTTLED: {
    code: ErrorCode.Unavailable,
    retryable: true,
    title: 'AWS kept throttling the EC2 API after every retry',
  },
  EC2_REJECTED: {
    code: ErrorCode.Internal,
    title: 'AWS refused the request for a reason retrying cannot fix',
  },
  EC2_INVALID_REQUEST: {
    code: ErrorCode.ValidationFailed,
    title: 'The EC2 fleet was asked something it cannot do',
  },
  EC2_INVALID_CONFIG: {
    code: ErrorCode.Internal,
    title: 'The EC2 fleet’s configuration cannot work',
  },
});
