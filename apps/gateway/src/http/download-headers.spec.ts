import { describe, expect, it } from '@jest/globals';
import { attachment, downloadHeaders, isActive } from './download-headers.js';

describe('downloadHeaders', () => {
  it('serves data inline with its type, nosniff and a sandboxing policy', () => {
    expect(downloadHeaders('data/train.csv', 'text/csv')).toEqual({
      'content-type': 'text/csv',
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; sandbox",
    });
  });

  it.each([
    'text/html',
    'TEXT/HTML; charset=utf-8',
    'image/svg+xml',
    'application/xhtml+xml',
    'application/javascript',
    'text/javascript',
    'application/xml',
    'application/atom+xml',
  ])('serves %s, which a browser would render or run, as an attachment', (type) => {
    expect(isActive(type)).toBe(true);
    expect(downloadHeaders('report/index.html', type)['content-disposition']).toBe(
      `attachment; filename="index.html"; filename*=UTF-8''index.html`,
    );
  });

  it.each(['image/png', 'application/json', 'text/plain; charset=utf-8', 'application/pdf'])(
    'serves %s inline',
    (type) => {
      expect(isActive(type)).toBe(false);
      expect(downloadHeaders('x', type)['content-disposition']).toBeUndefined();
    },
  );

  it('serves a stored media type that is not valid as application/octet-stream', () => {
    // Versions committed before media types were checked may hold anything.
    const headers = downloadHeaders('a.txt', 'text/plain\r\nSet-Cookie: k=v');
    expect(headers['content-type']).toBe('application/octet-stream');
  });

  it('names the attachment safely, exactly in filename*', () => {
    expect(attachment('out/rapport "final" é.html')).toBe(
      `attachment; filename="rapport _final_ _.html"; filename*=UTF-8''rapport%20%22final%22%20%C3%A9.html`,
    );
  });
});
