import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startS3rver } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

/** The whole system with its bytes on S3 (a real S3-compatible server), not on local disk. */
describe('file sets on S3', () => {
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let system: TestSystem;

  beforeAll(async () => {
    s3 = await startS3rver('acai-e2e');
    const url = `s3://acai-e2e/lake/?endpoint=${encodeURIComponent(s3.endpoint)}&forcePathStyle=true&accessKeyId=S3RVER&secretAccessKey=S3RVER`;
    system = await startSystem({ env: { ACAI_BLOB_STORE: url } });
  });

  afterAll(async () => {
    await system?.close();
    await s3?.close();
  });

  it('uploads, commits, downloads, and runs a job that reads and writes file sets', async () => {
    const content = Buffer.alloc(6 * 1024 * 1024, 'acai-');
    const sha = createHash('sha256').update(content).digest('hex');
    const put = await system.upload(content, sha);
    expect(put.status).toBe(201);
    await system.api('POST', '/api/v1/filesets', { name: 'on-s3' });
    const committed = await system.api('POST', '/api/v1/filesets/on-s3/versions', {
      parent: 0,
      put: [{ path: 'big.bin', sha256: sha }],
    });
    expect(committed.status).toBe(201);

    const back = await fetch(
      `${system.gatewayUrl}/api/v1/filesets/on-s3/versions/1/files/big.bin`,
      {
        headers: { authorization: `Bearer ${system.key}` },
      },
    );
    const bytes = Buffer.from(await back.arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(sha);

    const run = await system.api('POST', '/api/v1/runs', {
      name: 's3-job',
      steps: [
        {
          name: 'copy',
          command: [
            'sh',
            '-c',
            'wc -c < "$ACAI_INPUT_ON_S3/big.bin" > "$ACAI_OUTPUT_SIZES/size.txt"',
          ],
          inputs: [{ fileset: 'on-s3' }],
          outputs: [{ fileset: 'sizes' }],
        },
      ],
    });
    expect((await system.waitForRun((run.body as { id: string }).id)).status).toBe('succeeded');
    const size = await system.api('GET', '/api/v1/filesets/sizes/versions/latest/files/size.txt');
    expect(size.text.trim()).toBe(String(content.length));
  });
});
