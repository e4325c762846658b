// acai runs on Node.js 24 or later. `npm ci` installs it into node_modules/.bin, and npm puts that
// folder first on PATH for every `npm run`, `npm test` and `npm exec`: run acai through npm, or
// with a Node 24 of your own.
export const MINIMUM_NODE_MAJOR = 24;

/** Exits with a message saying what to do when this process runs on an older Node. */
export function requireNode24() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= MINIMUM_NODE_MAJOR) return;
  console.error(
    `acai needs Node.js ${MINIMUM_NODE_MAJOR} or later; this is ${process.version} (${process.execPath}).\n` +
      `Run it through npm (npm run up, npm test, npm exec -- node …): npm ci installs Node ${MINIMUM_NODE_MAJOR} ` +
      'into node_modules/.bin and npm runs every script on it. Or install Node 24 yourself.',
  );
  process.exit(1);
}
