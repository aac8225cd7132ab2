import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { bundleEntry, type StartedProcess, startRecorderProcess } from '../../bench/lib/processes.js';
import { freePort } from '../../test-support/ports.js';

const FRAME = 640;
const BATCH = 32 * 1024;

/** The file's size once it stops growing at `bytes`, or whatever it holds after 5 s. */
async function sizeWhenReached(path: string, bytes: number): Promise<number> {
  const deadline = Date.now() + 5000;
  let size = -1;
  while (Date.now() < deadline) {
    size = (await stat(path).catch(() => undefined))?.size ?? -1;
    if (size >= bytes) return size;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return size;
}

let floor: StartedProcess | undefined;
let spoolDir: string | undefined;
afterEach(async () => {
  await floor?.stop();
  floor = undefined;
  if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
  spoolDir = undefined;
});

describe('the storage floor (bench/floor with FLOOR_SPOOL_DIR)', () => {
  it('writes each call to a file of its own a 32 KiB batch at a time, in order, and removes it at hangup', async () => {
    spoolDir = await mkdtemp(join(tmpdir(), 'floor-spool-'));
    const port = await freePort();
    floor = await startRecorderProcess({
      script: await bundleEntry('bench/floor/main.ts'),
      port,
      env: { HOST: '127.0.0.1', FLOOR_SPOOL_DIR: spoolDir },
      label: 'floor',
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/call`);
    await once(ws, 'open');
    // 60 frames of distinct bytes: one whole batch reaches the disk, the rest waits for hangup.
    const audio = Buffer.from(Array.from({ length: 60 * FRAME }, (_, i) => (i * 13 + (i >> 8)) % 251));
    for (let at = 0; at < audio.length; at += FRAME) ws.send(audio.subarray(at, at + FRAME));

    const [file] = await readdir(spoolDir);
    expect(file).toMatch(/^call-\d+-0\.pcm$/);
    const path = join(spoolDir, file as string);
    expect(await sizeWhenReached(path, BATCH)).toBe(BATCH);
    const written = await readFile(path);
    expect(createHash('sha256').update(written).digest('hex')).toBe(
      createHash('sha256').update(audio.subarray(0, BATCH)).digest('hex'),
    );

    ws.close(1000);
    await once(ws, 'close');
    const deadline = Date.now() + 5000;
    while ((await readdir(spoolDir)).length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await readdir(spoolDir)).toEqual([]);
  });
});
