import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, LOCAL_S3_CREDENTIALS } from '../../common/s3-client.js';
import { putObjectWithRetry } from '../src/retry.js';

/** What a PutObject put on the wire, as an S3 endpoint receives it. */
interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

describe('PutObject signing on the wire', () => {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks) });
      response.writeHead(200, { etag: '"0"' }).end();
    });
  });
  let s3: ReturnType<typeof createS3Client>;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    s3 = createS3Client({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      credentials: LOCAL_S3_CREDENTIALS,
    });
  });
  afterAll(async () => {
    s3.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const body = Buffer.from('checkpoint batch: an index line, then audio'.repeat(100));

  it('signs a body held in memory by its SHA-256 by default', async () => {
    await putObjectWithRetry(s3, 'recordings', 'a', body, 'application/octet-stream');
    const request = received.at(-1) as Received;
    expect(request.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('with unsignedPayload, sends UNSIGNED-PAYLOAD in place of the hash, signed into the request, and the same bytes', async () => {
    await putObjectWithRetry(s3, 'recordings', 'b', body, 'application/octet-stream', undefined, {
      unsignedPayload: true,
    });
    const request = received.at(-1) as Received;
    expect(request.headers['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
    expect(request.headers.authorization).toMatch(/SignedHeaders=[^,]*x-amz-content-sha256/);
    expect(request.body.equals(body)).toBe(true);
  });
});
