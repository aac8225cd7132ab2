import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An operation's answer: the HTTP status and the JSON body. */
export type AwsJsonAnswer = readonly [status: number, payload: unknown];

/**
 * A service speaking AWS JSON 1.1 on loopback (`POST /` with `X-Amz-Target: <Service>.<Operation>`
 * and a JSON body), each request answered by `answer` from the target and the parsed body.
 * Signatures are not checked. The doubles of the services the stack calls are built on it.
 */
export async function startAwsJsonServer(
  answer: (target: string, input: Record<string, unknown>) => AwsJsonAnswer,
): Promise<{ readonly url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      response.setHeader('content-type', 'application/x-amz-json-1.1');
      const [status, payload] = answer(String(request.headers['x-amz-target']), JSON.parse(body || '{}'));
      response.writeHead(status).end(JSON.stringify(payload));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
