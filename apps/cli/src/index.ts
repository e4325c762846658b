export { CliError, ExitCode, exitCodeOf, messageOf } from './exit.js';
export { configPath, readConfig, resolveConnection, writeConfig } from './config.js';
export { metadataOf, run, termsToQuery } from './program.js';
export type { Io } from './io.js';
