#!/usr/bin/env node
// Writes what is generated from the bus roles (BUS_ROLES in libs/contracts): the table in
// docs/bus-permissions.md, deploy/nats/auth.conf and its copy in deploy/k8s/nats.yaml. Run after
// changing a role (`npm run build` first); test/unit/deploy.spec.ts and the contracts' unit tests
// fail until it has been run.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const { busPermissionsTable } = await import(path.join(root, 'libs/contracts/dist/index.js'));
const { deploymentNatsUsers, natsAuthConfig } = await import(
  path.join(root, 'libs/devstack/dist/index.js')
);

const docs = path.join(root, 'docs/bus-permissions.md');
writeFileSync(
  docs,
  readFileSync(docs, 'utf8').replace(
    /(<!-- bus-permissions-table:start -->\n)[\s\S]*?(\n<!-- bus-permissions-table:end -->)/,
    `$1\n${busPermissionsTable()}\n$2`,
  ),
);

const auth = natsAuthConfig(deploymentNatsUsers());
writeFileSync(
  path.join(root, 'deploy/nats/auth.conf'),
  '# Generated from BUS_ROLES (libs/contracts/src/bus-permissions.ts) by scripts/gen-bus-permissions.mjs;\n' +
    "# test/unit/deploy.spec.ts fails when it differs. Passwords come from the server's environment.\n" +
    auth,
);

const k8s = path.join(root, 'deploy/k8s/nats.yaml');
const indented = auth
  .trimEnd()
  .split('\n')
  .map((line) => (line === '' ? '' : `    ${line}`))
  .join('\n');
writeFileSync(
  k8s,
  readFileSync(k8s, 'utf8').replace(
    /( {2}auth\.conf: \|\n)[\s\S]*?(\n---)/,
    (_, head, tail) => `${head}${indented}\n${tail}`,
  ),
);
console.log('wrote docs/bus-permissions.md, deploy/nats/auth.conf and deploy/k8s/nats.yaml');
