import { describe, expect, it } from 'vitest';
import { TransferLimiter } from '../src/transfer-limiter.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('TransferLimiter.runWithBuffer', () => {
  it('lends running transfers distinct buffers of the asked length, reused afterwards, never more than its concurrency', async () => {
    const limiter = new TransferLimiter(2, { bufferBytes: 1024 });
    const memory = new Set<ArrayBuffer>();
    let running = 0;
    let most = 0;
    const seen: Buffer[] = [];
    const transfer = (length: number, fill: number) =>
      limiter.runWithBuffer(false, length, async (buffer) => {
        running++;
        most = Math.max(most, running);
        expect(buffer.length).toBe(length);
        buffer.fill(fill);
        memory.add(buffer.buffer as ArrayBuffer);
        seen.push(buffer);
        await tick();
        // No other transfer wrote into this one's buffer while it ran.
        expect(buffer.every((byte) => byte === fill)).toBe(true);
        running--;
      });
    await Promise.all(Array.from({ length: 20 }, (_, i) => transfer(100 + i * 40, i)));
    expect(most).toBe(2);
    expect(memory.size).toBe(2);
    expect(seen.length).toBe(20);
  });

  it('gives a transfer larger than its buffers a buffer of its own, and lends buffers even after a task failed', async () => {
    const limiter = new TransferLimiter(1, { bufferBytes: 64 });
    await expect(
      limiter.runWithBuffer(false, 10, async () => {
        throw new Error('S3 said no');
      }),
    ).rejects.toThrow('S3 said no');
    const lent: Buffer[] = [];
    await limiter.runWithBuffer(false, 10, async (buffer) => void lent.push(buffer));
    await limiter.runWithBuffer(false, 1000, async (buffer) => void lent.push(buffer));
    expect(lent[1]?.length).toBe(1000);
    expect(lent[1]?.buffer).not.toBe(lent[0]?.buffer);
  });
});
