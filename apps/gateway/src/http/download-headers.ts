import { MEDIA_TYPE } from '@acai/contracts';

/**
 * Media types a browser would render as a page or run as a script. Files of these types are
 * served as attachments: a user's HTML or SVG opened from the API must not run in the gateway's
 * origin, where it could read the API with the user's key.
 */
const ACTIVE = new Set([
  'text/html',
  'application/xhtml+xml',
  'image/svg+xml',
  'text/xml',
  'application/xml',
  'text/xsl',
  'application/xslt+xml',
  'text/javascript',
  'application/javascript',
  'application/x-javascript',
  'text/ecmascript',
  'application/ecmascript',
  'application/wasm',
  'multipart/x-mixed-replace',
]);

/** The type and subtype of a media type, lower case, without its parameters. */
function essence(mediaType: string): string {
  return (mediaType.split(';', 1)[0] ?? '').trim().toLowerCase();
}

/** Whether a browser would render or run a file of this media type (HTML, SVG, XML, scripts). */
export function isActive(mediaType: string): boolean {
  const type = essence(mediaType);
  return ACTIVE.has(type) || type.endsWith('+xml');
}

/**
 * The headers a file is downloaded with: its media type (or `application/octet-stream` when the
 * stored one is not a valid media type, as in versions committed before it was checked),
 * `nosniff` so the browser believes it, a sandboxing content security policy, and for anything a
 * browser would render, `Content-Disposition: attachment` with the file's name.
 */
export function downloadHeaders(path: string, mediaType: string): Record<string, string> {
  const type = MEDIA_TYPE.test(mediaType) ? mediaType : 'application/octet-stream';
  return {
    'content-type': type,
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox",
    ...(isActive(type) ? { 'content-disposition': attachment(path) } : {}),
  };
}

/**
 * `attachment` with the file's base name: an ASCII fallback in `filename` (anything else as `_`)
 * and the exact name in `filename*` (RFC 6266, RFC 8187).
 */
export function attachment(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1) || 'download';
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const exact = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}
