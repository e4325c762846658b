import type { EntityManager } from 'typeorm';

/** A live table of a SQL projection and the table its replay builds beside it. */
export type TablePair = readonly [live: string, built: string];

/**
 * The swap of a SQL projection's replay, in the swap's transaction: each built table's rows take
 * their live table's place (readers of the live one see the old rows until it commits), and the
 * built table is dropped.
 */
export async function promoteBuiltTables(
  m: EntityManager,
  pairs: readonly TablePair[],
): Promise<void> {
  for (const [live, built] of pairs) {
    await m.query(`DELETE FROM ${live}`);
    await m.query(`INSERT INTO ${live} SELECT * FROM ${built}`);
    await m.query(`DROP TABLE ${built}`);
  }
}

/** Each built table made like its live one (columns, keys, indexes), and empty. */
export async function resetBuiltTables(
  m: EntityManager,
  pairs: readonly TablePair[],
): Promise<void> {
  for (const [live, built] of pairs) {
    await m.query(`CREATE TABLE IF NOT EXISTS ${built} (LIKE ${live} INCLUDING ALL)`);
    await m.query(`TRUNCATE ${built}`);
  }
}
