import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { BUS_SERVICES } from '@acai/contracts';
import { testEnv, uniqueTag } from '@acai/testkit';
import { createServiceRoles, passwordVariable, rolesRequest } from './db-roles.js';

/**
 * The roles step of compose and Kubernetes against the real Postgres: each service logs in as its
 * own role, owns its own schema, and cannot read another's.
 */
const database = `acai_roles_${uniqueTag().toLowerCase()}`;
const admin = new URL(testEnv().databaseUrl);
const passwords = Object.fromEntries(
  BUS_SERVICES.map((s) => [passwordVariable(s), randomBytes(12).toString('hex')]),
);

async function query(url: URL | string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return (await client.query(sql)).rows as unknown[];
  } finally {
    await client.end();
  }
}

function urlOf(role: string, password: string): URL {
  const url = new URL(admin);
  url.username = role;
  url.password = password;
  url.pathname = `/${database}`;
  return url;
}

beforeAll(async () => {
  await query(admin, `CREATE DATABASE ${database}`);
});

afterAll(async () => {
  await query(admin, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  for (const service of BUS_SERVICES) {
    await query(admin, `DROP ROLE IF EXISTS acai_${service}`).catch(() => undefined);
  }
});

describe('db-roles', () => {
  it('names every variable that is missing', () => {
    expect(() => rolesRequest({ ACAI_DB_PASSWORD_GATEWAY: 'x' })).toThrow(
      /Set ACAI_DB_ADMIN_URL, ACAI_DB_PASSWORD_CATALOG, .*ACAI_DB_PASSWORD_PROVENANCE/,
    );
  });

  it('gives each service a role of its own that owns its schema and cannot read another’s', async () => {
    const adminUrl = new URL(admin);
    adminUrl.pathname = `/${database}`;
    const made = await createServiceRoles({ ACAI_DB_ADMIN_URL: adminUrl.toString(), ...passwords });
    expect(made).toEqual(BUS_SERVICES.map((s) => `acai_${s}`));

    const gateway = urlOf('acai_gateway', passwords['ACAI_DB_PASSWORD_GATEWAY']!);
    await query(gateway, 'CREATE TABLE gateway.t (x int)');
    await query(gateway, 'INSERT INTO gateway.t VALUES (1)');
    const catalog = urlOf('acai_catalog', passwords['ACAI_DB_PASSWORD_CATALOG']!);
    await expect(query(catalog, 'SELECT * FROM gateway.t')).rejects.toThrow(/permission denied/);
    await expect(query(catalog, 'CREATE TABLE gateway.u (x int)')).rejects.toThrow(
      /permission denied/,
    );
    // (The passwords themselves are checked by a server with password authentication, as in
    // compose and Kubernetes; the test server trusts local connections.)
    const roles = await query(
      admin,
      `SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles
        WHERE rolname IN (${BUS_SERVICES.map((s) => `'acai_${s}'`).join(', ')}) ORDER BY rolname`,
    );
    expect(roles).toEqual(
      [...BUS_SERVICES].sort().map((s) => ({
        rolname: `acai_${s}`,
        rolsuper: false,
        rolcreaterole: false,
        rolcreatedb: false,
      })),
    );

    // Run again (a redeploy): nothing is lost.
    await createServiceRoles({ ACAI_DB_ADMIN_URL: adminUrl.toString(), ...passwords });
    expect(await query(gateway, 'SELECT x FROM gateway.t')).toEqual([{ x: 1 }]);
  });
});
