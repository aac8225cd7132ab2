import { execFile, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';

// Runs in the unit project, under test-support/unit-setup.ts.
describe('the unit layer', () => {
  it('fails a test that connects anywhere: net, fetch', async () => {
    expect(() => connect(9, '127.0.0.1')).toThrow(/socket connect in a unit test/);
    await expect(fetch('http://127.0.0.1:8080/')).rejects.toMatchObject({
      cause: { name: 'UnitTestIoError' },
    });
  });

  it('fails a test that starts a server: http, ws', () => {
    expect(() => createServer().listen(0, '127.0.0.1')).toThrow(/server listen in a unit test/);
    expect(() => new WebSocketServer({ port: 0, host: '127.0.0.1' })).toThrow(/server listen in a unit test/);
  });

  it('fails a test that starts a process, however it is started', () => {
    expect(() => spawn('true')).toThrow(/child process in a unit test/);
    expect(() => execFile('true')).toThrow(/child process in a unit test/);
    expect(() => spawnSync('true')).toThrow(/child_process.spawnSync in a unit test/);
  });
});
