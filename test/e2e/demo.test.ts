import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
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
    // The last step shows the Recording Stored event, and the file holds it as PutEvents would take it.
    const uuid = copies[0]!.replace(/\.wav$/, '');
    const wav = await readFile(join(dataDir, 'demo', copies[0]!));
    expect(stdout.indexOf('4. The recording event')).toBeGreaterThan(stdout.indexOf('3. The call events'));
    expect(stdout).toContain('"DetailType": "Recording Stored"');
    expect(stdout).toContain(`"eventId": "stored:${uuid}"`);
    const lines = (await readFile(join(dataDir, 'eventbridge.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as Record<string, string>;
    expect(entry).toMatchObject({
      Source: 'call-recorder',
      DetailType: 'Recording Stored',
      EventBusName: 'default',
    });
    expect(JSON.parse(entry.Detail!)).toMatchObject({
      schemaVersion: 1,
      eventId: `stored:${uuid}`,
      uuid,
      bucket: 'recordings',
      recordingKey: expect.stringMatching(new RegExp(`^recordings/\\d{4}/\\d{2}/\\d{2}/${uuid}\\.wav$`)),
      wavBytes: wav.length,
      audioSha256: createHash('sha256').update(wav.subarray(44)).digest('hex'),
    });
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
