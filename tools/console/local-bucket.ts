import { access } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client, LOCAL_S3_CREDENTIALS } from '../../common/s3-client.js';
import { CliError } from '../cli/errors.js';
import { LOCAL_BUCKET } from '../cli/s3-target.js';

/** Where `npm start` and `npm run demo` keep their data (tools/local/stack.ts `LOCAL_DEFAULTS`). */
const LOCAL_DATA_DIR = '.local';

/**
 * `recordings console --local` when the local stack is not running: the bucket `npm run demo` (or
 * an earlier `npm start`) left in `.local/s3` is served by an S3 API of the console's own on a free
 * loopback port, so the demo call can be audited without starting the whole stack again.
 */

/** Whether something accepts connections on 127.0.0.1:port. */
export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

export interface OpenedLocalBucket {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly description: string;
  close(): Promise<void>;
}

/** Serves `<dataDir>/s3` on a free loopback port; undefined when there is no such folder. */
export async function openLocalBucket(
  dataDir: string = LOCAL_DATA_DIR,
): Promise<OpenedLocalBucket | undefined> {
  const directory = resolve(join(dataDir, 's3'));
  try {
    await access(join(directory, LOCAL_BUCKET));
  } catch {
    return undefined;
  }
  // s3rver is a development dependency, like the local stack itself: a `.local` folder exists only
  // in a development checkout, where it is installed.
  const { default: S3rver } = await import('s3rver').catch((error: unknown) => {
    throw new CliError(
      `the local stack is not running and its S3 server cannot be loaded (${String(error)}): start it with npm start`,
    );
  });
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: LOCAL_BUCKET }],
  });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  const s3 = createS3Client({ endpoint, credentials: LOCAL_S3_CREDENTIALS });
  return {
    s3,
    bucket: LOCAL_BUCKET,
    description: `bucket ${LOCAL_BUCKET} in ${directory} (the local stack is not running: served from disk by the console)`,
    close: async () => {
      s3.destroy();
      await server.close();
    },
  };
}
