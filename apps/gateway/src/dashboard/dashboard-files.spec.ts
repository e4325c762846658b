import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DashboardFiles, IMMUTABLE, REVALIDATE, type DashboardAnswer } from './dashboard-files.js';

describe('the dashboard’s files', () => {
  let parent: string;
  let root: string;
  let files: DashboardFiles;

  beforeAll(async () => {
    parent = await mkdtemp(path.join(os.tmpdir(), 'acai-dashboard-'));
    root = path.join(parent, 'dist');
    await mkdir(path.join(root, 'assets'), { recursive: true });
    await writeFile(path.join(root, 'index.html'), '<!doctype html><title>acai</title>');
    await writeFile(path.join(root, 'assets', 'index-3f9a1c2b.js'), 'console.log(1)');
    await writeFile(path.join(root, 'assets', 'index-77aa.css'), 'body{}');
    await writeFile(path.join(root, 'favicon.svg'), '<svg/>');
    // Next to the dashboard, never to be served.
    await writeFile(path.join(parent, 'secret.txt'), 'hunter2');
    files = new DashboardFiles(root);
  });

  afterAll(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  const file = (answer: DashboardAnswer) =>
    answer.kind === 'file'
      ? [path.relative(root, answer.file), answer.contentType, answer.cacheControl]
      : answer.why;

  it('serves index.html at / and for every page of the app, revalidated each time', async () => {
    const index = ['index.html', 'text/html; charset=utf-8', REVALIDATE];
    expect(file(await files.answer('/'))).toEqual(index);
    expect(file(await files.answer('/runs'))).toEqual(index);
    expect(file(await files.answer('/runs/run-0123456789abcdefghijklmno'))).toEqual(index);
    expect(file(await files.answer('/filesets/mnist.v2'))).toEqual(index);
  });

  it('serves hashed assets with their content type, cached for good, and other files revalidated', async () => {
    expect(file(await files.answer('/assets/index-3f9a1c2b.js'))).toEqual([
      'assets/index-3f9a1c2b.js',
      'text/javascript; charset=utf-8',
      IMMUTABLE,
    ]);
    expect(file(await files.answer('/assets/index-77aa.css'))).toEqual([
      'assets/index-77aa.css',
      'text/css; charset=utf-8',
      IMMUTABLE,
    ]);
    expect(file(await files.answer('/favicon.svg'))).toEqual([
      'favicon.svg',
      'image/svg+xml',
      REVALIDATE,
    ]);
  });

  it('answers a missing file with nothing, not the page', async () => {
    expect(file(await files.answer('/assets/index-gone.js'))).toBe('not-found');
    expect(file(await files.answer('/robots.txt'))).toBe('not-found');
  });

  it('never takes the API’s or the ops endpoints’ paths', async () => {
    for (const reserved of [
      '/api',
      '/api/',
      '/api/v1/nope',
      '/healthz',
      '/readyz',
      '/metrics',
      '/metrics/x',
    ]) {
      expect([reserved, file(await files.answer(reserved))]).toEqual([reserved, 'not-dashboard']);
    }
    // Only whole segments: a page whose name starts like one is still a page.
    expect(file(await files.answer('/apis'))).toEqual([
      'index.html',
      'text/html; charset=utf-8',
      REVALIDATE,
    ]);
  });

  it('serves nothing outside its folder, however the path is written', async () => {
    for (const hostile of [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/..',
      '/%2e%2e/secret.txt',
      '/assets/..\\..\\secret.txt',
      '/index.html\0.js',
    ]) {
      const answer = await files.answer(hostile);
      if (answer.kind === 'file') expect(path.relative(root, answer.file)).not.toMatch(/^\.\./);
      expect(JSON.stringify(answer)).not.toContain('secret.txt');
    }
    // `..` past the root stops at the root: the path names the root's own file.
    expect(file(await files.answer('/../index.html'))).toEqual([
      'index.html',
      'text/html; charset=utf-8',
      REVALIDATE,
    ]);
  });

  it('says when the dashboard is not built', async () => {
    const empty = new DashboardFiles(path.join(parent, 'nothing-here'));
    expect(file(await empty.answer('/'))).toBe('not-built');
    expect(file(await empty.answer('/runs'))).toBe('not-built');
  });
});
