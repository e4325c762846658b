import { AcaiError, BlobProblems } from '@acai/contracts';

/**
 * A project's storage as a quota sees it: the bytes of the distinct blobs it owns, and the most it
 * may own (null: no quota).
 */
export interface QuotaState {
  readonly project: string;
  readonly usedBytes: number;
  readonly quotaBytes: number | null;
}

/**
 * The quota that applies to a project: its own when the platform admin set one (0: none for this
 * project), else the platform default (0: none). Null: no quota.
 */
export function quotaOf(projectBytes: number | null, defaultBytes: number): number | null {
  const bytes = projectBytes ?? defaultBytes;
  return bytes === 0 ? null : bytes;
}

/** What may still be uploaded; null: no quota. */
export function availableBytes(state: QuotaState): number | null {
  return state.quotaBytes === null ? null : Math.max(0, state.quotaBytes - state.usedBytes);
}

const evictHint =
  'Evict versions you no longer need (POST /api/v1/filesets/{name}/versions/{version}/evict; uploads never committed are forgotten after a grace period), or ask the platform admin for a larger quota';

/**
 * Why the project may not own blobs of these sizes besides what it owns, or undefined if it may.
 * `adding` are the sizes of the blobs it does not own yet: bytes it owns already are not counted
 * again. A blob larger than the whole quota is `UPLOAD_OVER_QUOTA` (413: no eviction makes room for
 * it); blobs that fit alone but not with what the project owns are `STORAGE_QUOTA_EXCEEDED` (507).
 * Both carry the numbers: `usedBytes`, `quotaBytes`, `uploadBytes`.
 */
export function quotaRefusal(state: QuotaState, adding: readonly number[]): AcaiError | undefined {
  const { project, usedBytes, quotaBytes } = state;
  if (quotaBytes === null || adding.length === 0) return undefined;
  const largest = Math.max(...adding);
  if (largest > quotaBytes) {
    return new AcaiError(
      BlobProblems.UPLOAD_OVER_QUOTA,
      `The upload is ${largest} bytes, more than project '${project}'s whole storage quota of ${quotaBytes} bytes (it uses ${usedBytes}); nothing was kept. Split the file, or ask the platform admin for a larger quota.`,
      undefined,
      { extensions: { usedBytes, quotaBytes, uploadBytes: largest } },
    );
  }
  const uploadBytes = adding.reduce((sum, n) => sum + n, 0);
  // Empty files take nothing, even from a project over its quota (one the admin lowered).
  if (uploadBytes === 0 || usedBytes + uploadBytes <= quotaBytes) return undefined;
  return new AcaiError(
    BlobProblems.STORAGE_QUOTA_EXCEEDED,
    `Project '${project}' uses ${usedBytes} of its ${quotaBytes} bytes of storage; this upload of ${uploadBytes} bytes would take it to ${usedBytes + uploadBytes}, so nothing was kept. ${evictHint}.`,
    undefined,
    { extensions: { usedBytes, quotaBytes, uploadBytes } },
  );
}

/**
 * An upload sent without its length that was cut off once it passed the quota: larger than the
 * whole quota (413), by how much is not known (no `uploadBytes`).
 */
export function overQuotaCutOff(state: QuotaState & { readonly quotaBytes: number }): AcaiError {
  const { project, usedBytes, quotaBytes } = state;
  return new AcaiError(
    BlobProblems.UPLOAD_OVER_QUOTA,
    `The upload is larger than project '${project}'s whole storage quota of ${quotaBytes} bytes (it uses ${usedBytes}); it was cut off there and nothing was kept. Split the file, or ask the platform admin for a larger quota.`,
    undefined,
    { extensions: { usedBytes, quotaBytes } },
  );
}
