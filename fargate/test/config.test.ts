import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const base = { RECORDINGS_BUCKET: 'recordings', CALL_TOKEN_SECRET: 'x'.repeat(64) };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    expect(loadConfig(base)).toEqual({
      port: 8080,
      host: '0.0.0.0',
      bucket: 'recordings',
      callTokenSecret: 'x'.repeat(64),
      s3Endpoint: undefined,
      region: undefined,
      scratchDir: '/scratch',
      drainTimeoutMs: 100_000,
      idleTimeoutMs: 30_000,
      maxCallSeconds: 7200,
      logLevel: 'INFO',
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      ...base,
      PORT: '9000',
      HOST: '127.0.0.1',
      S3_ENDPOINT: 'http://127.0.0.1:4569',
      AWS_REGION: 'eu-west-2',
      SCRATCH_DIR: '/tmp/s',
      DRAIN_TIMEOUT_SECONDS: '10',
      IDLE_TIMEOUT_SECONDS: '5',
      MAX_CALL_SECONDS: '600',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      port: 9000,
      host: '127.0.0.1',
      s3Endpoint: 'http://127.0.0.1:4569',
      region: 'eu-west-2',
      scratchDir: '/tmp/s',
      drainTimeoutMs: 10_000,
      idleTimeoutMs: 5000,
      maxCallSeconds: 600,
      logLevel: 'DEBUG',
    });
  });

  it.each([
    [{ CALL_TOKEN_SECRET: 'x'.repeat(64) }, 'RECORDINGS_BUCKET'],
    [{ RECORDINGS_BUCKET: 'b' }, 'CALL_TOKEN_SECRET'],
    [{ ...base, CALL_TOKEN_SECRET: 'short' }, 'CALL_TOKEN_SECRET'],
    [{ ...base, PORT: 'eighty' }, 'PORT'],
    [{ ...base, DRAIN_TIMEOUT_SECONDS: '120' }, 'DRAIN_TIMEOUT_SECONDS'],
    [{ ...base, IDLE_TIMEOUT_SECONDS: '0' }, 'IDLE_TIMEOUT_SECONDS'],
    [{ ...base, MAX_CALL_SECONDS: '9000' }, 'MAX_CALL_SECONDS'],
    [{ ...base, S3_ENDPOINT: '127.0.0.1:4569' }, 'S3_ENDPOINT'],
    [{ ...base, LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ])('names the bad variable (%j → %s)', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable} `));
  });
});
