import type { S3Client } from '@aws-sdk/client-s3';
import {
  type RunningConsole,
  type StartConsoleOptions,
  startConsole,
} from '../tools/console/console-server.js';

/**
 * The audit console on a free loopback port over a test's bucket, and a signed-in `fetch` for its
 * API: the token is exchanged for the session cookie exactly as a browser does on the printed URL.
 */
export interface TestConsole extends RunningConsole {
  /** The session cookie (`name=value`) the printed URL sets. */
  readonly cookie: string;
  /** `fetch` on the console with the session cookie and the page's own Origin. */
  request(path: string, init?: RequestInit): Promise<Response>;
}

export async function startTestConsole(
  s3: S3Client,
  bucket: string,
  options: Pick<StartConsoleOptions, 'search'> = {},
): Promise<TestConsole> {
  const running = await startConsole({
    s3,
    bucket,
    description: `bucket ${bucket} (test)`,
    port: 0,
    ...options,
  });
  const signIn = await fetch(running.url, { redirect: 'manual' });
  const cookie = signIn.headers.get('set-cookie')?.split(';')[0];
  if (signIn.status !== 303 || !cookie) {
    await running.close();
    throw new Error(`signing in to the console answered ${signIn.status} without a cookie`);
  }
  return {
    ...running,
    cookie,
    request: (path, init = {}) =>
      fetch(`${running.origin}${path}`, {
        ...init,
        headers: { cookie, origin: running.origin, ...(init.headers as Record<string, string> | undefined) },
      }),
  };
}
