#!/usr/bin/env node
// The `acai` command: runs the built CLI (apps/cli/dist), made by `node scripts/build.mjs`.
// A file of its own, in the repository, so `npm ci` links the bin before anything is built.
try {
  await import('../dist/main.js');
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/main.js')) {
    console.error('acai: the CLI is not built yet: run `node scripts/build.mjs` in the repository');
    process.exit(5);
  }
  throw error;
}
