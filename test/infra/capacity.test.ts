import { describe, expect, it } from 'vitest';
import { synthRecorderStack } from '../../test-support/stack-synth.js';

describe('taskCapacity in a synth', () => {
  it('stops the synth with that message when maxCallsPerTask is too high', () => {
    expect(() => synthRecorderStack({ context: { maxCallsPerTask: '2000', sampleRate: '24000' } })).toThrow(
      /maxCallsPerTask 2000 needs \d+ GiB of scratch disk/,
    );
  });
});
