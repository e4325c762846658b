// `acai`: the command line of acai (apps/cli/README.md).
import { run } from './program.js';

const abort = new AbortController();
process.once('SIGINT', () => abort.abort());
const code = await run(
  process.argv.slice(2),
  {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
  },
  abort.signal,
);
process.exitCode = code;
