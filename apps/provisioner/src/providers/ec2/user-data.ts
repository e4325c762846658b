/**
 * The cloud-init script an executor instance boots with. Pure: the same input gives the same
 * script.
 */

/** What the instance runs unless the fleet's `executorCommand` says otherwise. */
export const DEFAULT_EXECUTOR_COMMAND = 'npx --yes @acai/executor';

/** EC2 refuses user data above 16 KiB (before base64). */
export const MAX_USER_DATA_BYTES = 16 * 1024;

/** Where the executor's environment is written on the instance (root only). */
export const EXECUTOR_ENV_FILE = '/etc/acai/executor.env';

/** The variables the script sets itself, after (and so over) the given environment. */
export const FLEET_VARIABLES = [
  'ACAI_EXECUTOR_POOL',
  'ACAI_EXECUTOR_SLOTS',
  'ACAI_EXECUTOR_ID',
  'ACAI_NODE_PROVIDER',
  'ACAI_NODE_INSTANCE_TYPE',
];

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const POOL_NAME = /^[A-Za-z0-9_-]+$/;
const INSTANCE_ID = /^i-[0-9a-f]+$/;
const INSTANCE_TYPE = /^[a-z0-9-]+\.[a-z0-9-]+$/;

/** What goes into one instance's bootstrap. */
export interface UserDataInput {
  /** The work pool the executor pulls from, e.g. `ec2-c5-large`. */
  readonly pool: string;
  /** Variables for the executor (bus URL, blob store, …); values may be secret. */
  readonly executorEnv: Readonly<Record<string, string>>;
  /** Shell command that runs the executor in the foreground. */
  readonly executorCommand: string;
  /** Known instance id; when absent the script asks the metadata service (IMDSv2). */
  readonly instanceId?: string;
  /** The instance type, passed on as `ACAI_NODE_INSTANCE_TYPE` (the node list shows it). */
  readonly instanceType?: string;
}

/** Names in `env` that cannot be shell variables, so cannot be passed to the executor. */
export function invalidVariableNames(env: Readonly<Record<string, string>>): string[] {
  return Object.keys(env).filter((name) => !VARIABLE_NAME.test(name));
}

/** `'value'` for a POSIX shell, whatever the value holds. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The env file's text: one `NAME='value'` line per variable, for `set -a; . file`. */
export function envFile(env: Readonly<Record<string, string>>): string {
  return Object.entries(env)
    .filter(([name]) => !FLEET_VARIABLES.includes(name))
    .map(([name, value]) => `${name}=${shellQuote(value)}\n`)
    .join('');
}

function wrap(text: string, width: number): string {
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += width) lines.push(text.slice(i, i + width));
  return lines.join('\n');
}

/**
 * The bash script. The contract, in order:
 *  1. nothing secret reaches a log: no `set -x`, and the environment is never echoed (cloud-init
 *     copies the script's output to /var/log/cloud-init-output.log);
 *  2. with `umask 077`, the executor's environment is written to {@link EXECUTOR_ENV_FILE}
 *     (mode 600, root only). It travels base64-encoded so no value can break the script's quoting;
 *     that is an encoding, not a protection: anyone allowed to read the instance's user data
 *     (IMDS on the instance, ec2:DescribeInstanceAttribute) can read these values;
 *  3. the instance id comes from IMDSv2 (unless given), and the pool, `ACAI_EXECUTOR_SLOTS=1`,
 *     `ACAI_EXECUTOR_ID=<instance id>`, `ACAI_NODE_PROVIDER=ec2` and (when given)
 *     `ACAI_NODE_INSTANCE_TYPE` are appended to that file;
 *  4. the executor runs in the foreground with that environment;
 *  5. when it exits, or if any step fails, `shutdown -h now`: the instance was launched with
 *     `InstanceInitiatedShutdownBehavior=terminate`, so it is terminated and never lingers.
 */
export function executorUserDataScript(input: UserDataInput): string {
  if (!POOL_NAME.test(input.pool)) throw new Error(`invalid pool name '${input.pool}'`);
  if (input.instanceId !== undefined && !INSTANCE_ID.test(input.instanceId)) {
    throw new Error(`invalid instance id '${input.instanceId}'`);
  }
  if (input.instanceType !== undefined && !INSTANCE_TYPE.test(input.instanceType)) {
    throw new Error(`invalid instance type '${input.instanceType}'`);
  }
  const bad = invalidVariableNames(input.executorEnv);
  if (bad.length > 0) throw new Error(`invalid variable names: ${bad.join(', ')}`);

  const encodedEnv = wrap(Buffer.from(envFile(input.executorEnv), 'utf8').toString('base64'), 76);
  const instanceId =
    input.instanceId === undefined
      ? [
          'imds=http://169.254.169.254/latest',
          'token=$(curl -fsS --retry 10 --retry-connrefused --retry-delay 1 -X PUT -H \'X-aws-ec2-metadata-token-ttl-seconds: 300\' "$imds/api/token") \\',
          '  || fail "the instance metadata service (IMDSv2) gave no token"',
          'instance_id=$(curl -fsS --retry 10 --retry-connrefused --retry-delay 1 -H "X-aws-ec2-metadata-token: $token" "$imds/meta-data/instance-id") \\',
          '  || fail "the instance metadata service gave no instance id"',
        ]
      : [`instance_id=${shellQuote(input.instanceId)}`];

  return [
    '#!/bin/bash',
    `# acai executor bootstrap for pool ${input.pool}, written by the acai provisioner (EC2 provider).`,
    '# Runs once, as root, at first boot. Never print the environment below: cloud-init copies',
    '# this output to /var/log/cloud-init-output.log.',
    'set -uo pipefail',
    'set +x',
    '',
    '# Whatever goes wrong, power off: InstanceInitiatedShutdownBehavior=terminate ends the instance.',
    'fail() { echo "acai: $1; powering off" >&2; shutdown -h now; exit 1; }',
    '',
    'umask 077',
    'install -d -m 700 /etc/acai /var/lib/acai || fail "cannot create /etc/acai and /var/lib/acai"',
    `base64 -d > ${EXECUTOR_ENV_FILE} <<'ACAI_ENV' || fail "cannot write the executor environment"`,
    encodedEnv,
    'ACAI_ENV',
    '',
    ...instanceId,
    '[[ $instance_id =~ ^i-[0-9a-f]+$ ]] || fail "unexpected instance id"',
    `cat >> ${EXECUTOR_ENV_FILE} <<ACAI_IDENTITY || fail "cannot write the executor identity"`,
    `ACAI_EXECUTOR_POOL=${input.pool}`,
    'ACAI_EXECUTOR_SLOTS=1',
    'ACAI_EXECUTOR_ID=$instance_id',
    'ACAI_NODE_PROVIDER=ec2',
    ...(input.instanceType === undefined ? [] : [`ACAI_NODE_INSTANCE_TYPE=${input.instanceType}`]),
    'ACAI_IDENTITY',
    '',
    'export HOME="${HOME:-/root}"',
    'cd /var/lib/acai || fail "cannot enter /var/lib/acai"',
    'set -a',
    `. ${EXECUTOR_ENV_FILE}`,
    'set +a',
    `echo "acai: starting the executor for pool ${input.pool} as $instance_id"`,
    '# In a subshell, so an `exit` or `exec` in the command cannot skip the power-off below.',
    '(',
    input.executorCommand,
    ')',
    'status=$?',
    'echo "acai: the executor exited with status $status; powering off"',
    'shutdown -h now',
    '',
  ].join('\n');
}

/** The script, base64-encoded as RunInstances wants it. */
export function encodeUserData(script: string): string {
  return Buffer.from(script, 'utf8').toString('base64');
}

/** Size of the script in bytes, to compare with {@link MAX_USER_DATA_BYTES}. */
export function userDataBytes(script: string): number {
  return Buffer.byteLength(script, 'utf8');
}
