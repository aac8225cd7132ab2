import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AudioSpool, reopenSpool, SpoolError } from '../src/spool.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

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
    expect(await spool.digests(prefix, ['sha256', 'md5'])).toEqual([
      createHash('sha256').update(prefix).update(all).digest('hex'),
      createHash('md5').update(prefix).update(all).digest('hex'),
    ]);
    expect(await spool.audioSha256()).toBe(sha256(all));
    await expect(spool.readInto(Buffer.alloc(10), 0, all.length - 5, 10)).rejects.toThrow(SpoolError);
    await spool.remove();
    await expect(stat(spool.path)).rejects.toThrow(/ENOENT/);
  });

  it('hashes the audio as it is written, without reading the file back; a reopened file is read', async () => {
    const spool = new AudioSpool(join(dir, 'd.pcm'), () => {}, 640);
    const sent: Buffer[] = [];
    for (let i = 0; i < 30; i++) {
      const frame = randomBytes(640);
      sent.push(frame);
      spool.append(frame);
      if (i % 7 === 0) {
        await spool.flush();
        // At every point the hash covers exactly what is on disk.
        expect(await spool.audioSha256()).toBe(sha256(Buffer.concat(sent)));
      }
    }
    await spool.flush();
    const written = Buffer.concat(sent);
    // A byte changed on disk behind the spool's back: the running hash still says what was
    // written (it never reads the file), while a recovery run, reopening the file, hashes it as it is.
    const other = await open(spool.path, 'r+');
    await other.write(Buffer.from([written[100]! ^ 0xff]), 0, 1, 100);
    await other.close();
    expect(await spool.audioSha256()).toBe(sha256(written));
    const onDisk = await readFile(spool.path);
    expect(onDisk.equals(written)).toBe(false);
    await spool.close();
    const reopened = await reopenSpool(spool.path);
    expect(reopened.storedBytes).toBe(written.length);
    expect(await reopened.audioSha256()).toBe(sha256(onDisk));
    await reopened.remove();
  });

  it('reports a file it cannot create as a SpoolError on flush', async () => {
    const spool = new AudioSpool(join(dir, 'missing-folder', 'c.pcm'));
    spool.append(Buffer.alloc(10));
    await expect(spool.flush()).rejects.toThrow(SpoolError);
    expect(spool.failure).toBeInstanceOf(SpoolError);
  });
});
