/**
 * `node libs/devstack/dist/db-roles-main.js`: a deployment's one-shot step before the services
 * start (compose's `db-roles`, Kubernetes' `acai-db-roles` job): a Postgres role per service, owner
 * of its own schema only. Reads ACAI_DB_ADMIN_URL and ACAI_DB_PASSWORD_<SERVICE>; never prints a
 * password.
 */
import { createServiceRoles } from './db-roles.js';

try {
  const made = await createServiceRoles(process.env);
  console.log(`Postgres roles ready, each owner of its own schema: ${made.join(', ')}`);
} catch (error) {
  console.error(`acai db-roles: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
