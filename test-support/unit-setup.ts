/**
 * Setup file of the `unit` Vitest project: a unit test that opens a socket, starts a server or
 * spawns a process fails at that line, so a test in the unit layer cannot quietly need the network
 * or a tool on the PATH. Such a test belongs in the `integration` project (a plain `*.test.ts`).
 */
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

export class UnitTestIoError extends Error {
  constructor(what: string) {
    super(`${what} in a unit test: move the test to the integration layer (a plain *.test.ts)`);
    this.name = 'UnitTestIoError';
  }
}

function refuse(what: string): () => never {
  return () => {
    throw new UnitTestIoError(what);
  };
}

// Every TCP or IPC client (net.connect, http.request, fetch, the AWS SDK) ends in Socket#connect,
// every server (net, http, ws) in Server#listen.
net.Socket.prototype.connect = refuse('a socket connect');
net.Server.prototype.listen = refuse('a server listen');
// exec, execFile and fork go through ChildProcess#spawn (internal, so untyped); the *Sync forms
// each have an export.
Object.assign(childProcess.ChildProcess.prototype, { spawn: refuse('a child process') });
for (const name of ['spawnSync', 'execSync', 'execFileSync'] as const) {
  Object.assign(childProcess, { [name]: refuse(`child_process.${name}`) });
}
// Named imports (`import { spawnSync } from 'node:child_process'`) see the patched exports too.
syncBuiltinESMExports();
