import { BUS_SERVICES } from '@acai/contracts';
import { ensureServiceRoles, type ServiceRole } from './postgres.js';

/** The environment variable that holds a service's Postgres password, e.g. `ACAI_DB_PASSWORD_GATEWAY`. */
export function passwordVariable(service: string): string {
  return `ACAI_DB_PASSWORD_${service.toUpperCase()}`;
}

/**
 * What the roles step of a deployment (compose's `db-roles`, Kubernetes' `acai-db-roles` job) is
 * asked to do, read from its environment: `ACAI_DB_ADMIN_URL` (a role that may create roles, on
 * the acai database) and one `ACAI_DB_PASSWORD_<SERVICE>` for each of the six services. Throws an
 * error naming every variable that is missing.
 */
export function rolesRequest(env: NodeJS.ProcessEnv): {
  adminUrl: string;
  database: string;
  roles: ServiceRole[];
} {
  const missing: string[] = [];
  const adminUrl = env['ACAI_DB_ADMIN_URL'];
  if (adminUrl === undefined || adminUrl === '') missing.push('ACAI_DB_ADMIN_URL');
  const roles = BUS_SERVICES.map((service) => {
    const password = env[passwordVariable(service)];
    if (password === undefined || password === '') missing.push(passwordVariable(service));
    return { role: `acai_${service}`, password: password ?? '', schema: service };
  });
  if (missing.length > 0) {
    throw new Error(
      `Set ${missing.join(', ')}: the roles step needs a URL of a role that may create roles (ACAI_DB_ADMIN_URL, e.g. postgres://acai:<password>@postgres:5432/acai) and each service's password`,
    );
  }
  let database: string;
  try {
    database = decodeURIComponent(new URL(adminUrl!).pathname.replace(/^\//, ''));
  } catch {
    throw new Error(
      'ACAI_DB_ADMIN_URL is not a URL: expected postgres://<user>:<password>@<host>:<port>/<database>',
    );
  }
  if (database === '') {
    throw new Error('ACAI_DB_ADMIN_URL names no database: end it with /<database>, e.g. /acai');
  }
  return { adminUrl: adminUrl!, database, roles };
}

/**
 * Gives each service its own login role, owner of its own schema and of nothing else (the same as
 * `npm run up` does for its embedded Postgres); answers the roles made. Run again: passwords are
 * set anew, nothing else changes.
 */
export async function createServiceRoles(env: NodeJS.ProcessEnv): Promise<string[]> {
  const { adminUrl, database, roles } = rolesRequest(env);
  await ensureServiceRoles(adminUrl, database, roles);
  return roles.map((r) => r.role);
}
