import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';

/** A loopback port the system just handed out and nothing now listens on. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
