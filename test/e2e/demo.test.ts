import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('npm run demo records one call and shows its recording and events, then exits 0', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'demo-'));
  try {
    // Port 0 everywhere so the test never collides with a running local stack.
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'tools/local/demo.ts'], {
      env: { ...process.env, WEBHOOKS_PORT: '0', RECORDER_PORT: '0', S3_PORT: '0', LOCAL_DATA_DIR: dataDir },
      timeout: 45_000,
    });
    expect(stdout).toMatch(/key {8}s3:\/\/recordings\/recordings\/\d{4}\/\d{2}\/\d{2}\/[-0-9a-f]+\.wav/);
    expect(stdout).toMatch(/duration {3}\d+\.\d{2} s \(soxi\), 16000 Hz mono 16-bit/);
    expect(stdout).toMatch(/size {7}[\d,]+ bytes/);
    expect(stdout).toContain('audio      identical to what the caller sent');
    // Signed like a deployed stack: POSTed answers, Vonage's JWT on every webhook and on the handshake.
    expect(stdout).toContain(
      "signed webhooks: verified, and Vonage's JWT required on the websocket handshake",
    );
    expect(stdout).toMatch(/DTMF {7}4 at 1000 ms, 2 at 1500 ms/);
    for (const status of ['started', 'ringing', 'answered', 'completed'])
      expect(stdout).toMatch(new RegExp(`call +${status}`));
    expect(stdout).toContain('Done: one call recorded');
    const copies = await readdir(join(dataDir, 'demo'));
    expect(copies).toEqual([expect.stringMatching(/^[-0-9a-f]+\.wav$/)]);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
