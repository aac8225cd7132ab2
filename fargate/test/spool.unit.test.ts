import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AudioSpool, SpoolError } from '../src/spool.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spool-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('AudioSpool', () => {
  it('writes chunks of any size, appended during writes, in order and byte for byte', async () => {
    const stored: number[] = [];
    const spool = new AudioSpool(join(dir, 'a.pcm'), (bytes) => stored.push(bytes), 1000);
    const sent: Buffer[] = [];
    const flushes: Promise<void>[] = [];
    for (let i = 0; i < 400; i++) {
      const chunk = randomBytes(1 + ((i * 7919) % 2500));
      sent.push(Buffer.from(chunk));
      spool.append(chunk);
      if (i % 13 === 0) flushes.push(spool.flush());
    }
    await Promise.all(flushes);
    await spool.flush();
    const file = await readFile(spool.path);
    expect(file.equals(Buffer.concat(sent))).toBe(true);
    expect(spool.storedBytes).toBe(file.length);
    expect(spool.receivedBytes).toBe(file.length);
    expect(stored.at(-1)).toBe(file.length);
    expect(stored).toEqual([...stored].sort((a, b) => a - b));
    await spool.remove();
  });

  it('keeps the caller’s bytes, not its buffer, and hashes header + file', async () => {
    const spool = new AudioSpool(join(dir, 'b.pcm'), () => {}, 64);
    const expected: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      const chunk = randomBytes(37);
      expected.push(Buffer.from(chunk));
      spool.append(chunk);
      chunk.fill(0);
    }
    await spool.flush();
    const all = Buffer.concat(expected);
    expect((await readFile(spool.path)).equals(all)).toBe(true);
    const part = Buffer.alloc(100);
    await spool.readInto(part, 0, 500, 100);
    expect(part.equals(all.subarray(500, 600))).toBe(true);
    const prefix = Buffer.from('RIFF');
    expect(await spool.sha256(prefix)).toBe(createHash('sha256').update(prefix).update(all).digest('hex'));
    await expect(spool.readInto(Buffer.alloc(10), 0, all.length - 5, 10)).rejects.toThrow(SpoolError);
    await spool.remove();
    await expect(stat(spool.path)).rejects.toThrow(/ENOENT/);
  });

  it('reports a file it cannot create as a SpoolError on flush', async () => {
    const spool = new AudioSpool(join(dir, 'missing-folder', 'c.pcm'));
    spool.append(Buffer.alloc(10));
    await expect(spool.flush()).rejects.toThrow(SpoolError);
    expect(spool.failure).toBeInstanceOf(SpoolError);
  });
});
