import { stat } from 'node:fs/promises';
import path from 'node:path';

/** What the dashboard answers for a path: a file to send, or nothing (a 404 problem document). */
export type DashboardAnswer =
  | {
      readonly kind: 'file';
      readonly file: string;
      readonly size: number;
      readonly contentType: string;
      readonly cacheControl: string;
    }
  | { readonly kind: 'none'; readonly why: 'not-dashboard' | 'not-found' | 'not-built' };

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Vite's content-hashed files (`assets/index-3f9a1c2b.js`): a new build gives them new names. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Everything else, index.html first: revalidated on every load, so a new build is seen at once. */
export const REVALIDATE = 'no-cache';

/**
 * Paths that belong to the API and the ops endpoints: never a dashboard page, so a wrong API URL
 * answers a 404 problem document rather than the dashboard's HTML.
 */
const RESERVED = /^\/(api|healthz|readyz|metrics)(\/|$)/;

/**
 * The dashboard's built files (`apps/dashboard/dist`), served at `/`. A path names a file of the
 * folder, and nothing outside it (`..`, encoded or not, is refused); a path without a file
 * extension of a static file is a page of the app (its client-side router), answered with
 * index.html.
 */
export class DashboardFiles {
  private readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** `urlPath`: the decoded path of the request, `/runs/run-…` or `/assets/index-….js`. */
  async answer(urlPath: string): Promise<DashboardAnswer> {
    if (RESERVED.test(urlPath)) return { kind: 'none', why: 'not-dashboard' };
    if (urlPath.includes('\0') || urlPath.includes('\\')) return { kind: 'none', why: 'not-found' };
    const file = path.resolve(this.root, `.${path.posix.normalize(`/${urlPath}`)}`);
    if (file !== this.root && !file.startsWith(`${this.root}${path.sep}`)) {
      return { kind: 'none', why: 'not-found' };
    }
    const found = file === this.root ? undefined : await this.fileAt(file);
    if (found !== undefined) return found;
    // A missing script or image is a 404, not the page (a browser would try to run the HTML); a
    // page's path may hold a dot too (`/filesets/mnist.v2`).
    const extension = path.posix.extname(urlPath).toLowerCase();
    if (urlPath.startsWith('/assets/') || extension in CONTENT_TYPES) {
      return { kind: 'none', why: 'not-found' };
    }
    return (
      (await this.fileAt(path.join(this.root, 'index.html'))) ?? { kind: 'none', why: 'not-built' }
    );
  }

  private async fileAt(file: string): Promise<DashboardAnswer | undefined> {
    const info = await stat(file).catch(() => undefined);
    if (info === undefined || !info.isFile()) return undefined;
    const relative = path.relative(this.root, file).split(path.sep);
    return {
      kind: 'file',
      file,
      size: info.size,
      contentType: CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      cacheControl: relative[0] === 'assets' && relative.length > 1 ? IMMUTABLE : REVALIDATE,
    };
  }
}
