import { describe, expect, it } from 'vitest';
import { loadRecorderEnvironment, RecorderEnvironmentError } from '../src/environment.js';

const base = { RECORDINGS_BUCKET: 'recordings', CALL_TOKEN_SECRET: 'x'.repeat(64) };

describe('loadRecorderEnvironment', () => {
  it('applies the documented defaults', () => {
    expect(loadRecorderEnvironment(base)).toEqual({
      port: 8080,
      host: '0.0.0.0',
      bucket: 'recordings',
      // Checkpoints go to the recordings bucket unless CHECKPOINT_BUCKET says otherwise.
      checkpointBucket: 'recordings',
      callTokenSecret: { value: 'x'.repeat(64) },
      vonageSignatureSecret: undefined,
      signatureMaxAgeSeconds: 300,
      s3Endpoint: undefined,
      region: undefined,
      scratchDir: '/scratch',
      drainTimeoutMs: 100_000,
      stopTimeoutMs: 120_000,
      idleTimeoutMs: 30_000,
      maxCallSeconds: 7200,
      checkpointSeconds: 10,
      // 3 checkpoint intervals + the idle timeout.
      inflightStaleSeconds: 60,
      maxCalls: 500,
      maxAudioSpeed: 1.25,
      audioBurstSeconds: 120,
      // No bus named (a process started by hand): no events; the stack always names one.
      recordingEvents: { off: true },
      logLevel: 'INFO',
    });
  });

  it('turns checkpoints off with CHECKPOINT_SECONDS=0 and derives the staleness window from the settings', () => {
    expect(loadRecorderEnvironment({ ...base, CHECKPOINT_SECONDS: '0' })).toMatchObject({
      checkpointSeconds: 0,
      inflightStaleSeconds: 30,
    });
    expect(
      loadRecorderEnvironment({ ...base, CHECKPOINT_SECONDS: '5', IDLE_TIMEOUT_SECONDS: '10' }),
    ).toMatchObject({
      checkpointSeconds: 5,
      inflightStaleSeconds: 25,
    });
  });

  it('turns the audio speed limit off with MAX_AUDIO_SPEED=0', () => {
    expect(loadRecorderEnvironment({ ...base, MAX_AUDIO_SPEED: '0' })).toMatchObject({ maxAudioSpeed: 0 });
  });

  it('reads every variable', () => {
    const config = loadRecorderEnvironment({
      ...base,
      PORT: '9000',
      HOST: '127.0.0.1',
      CHECKPOINT_BUCKET: 'checkpoints',
      S3_ENDPOINT: 'http://127.0.0.1:4569',
      AWS_REGION: 'eu-west-2',
      SCRATCH_DIR: '/tmp/s',
      DRAIN_TIMEOUT_SECONDS: '10',
      STOP_TIMEOUT_SECONDS: '30',
      IDLE_TIMEOUT_SECONDS: '5',
      MAX_CALL_SECONDS: '600',
      CHECKPOINT_SECONDS: '2',
      INFLIGHT_STALE_SECONDS: '120',
      MAX_CALLS: '40',
      MAX_AUDIO_SPEED: '1.5',
      AUDIO_BURST_SECONDS: '30',
      EVENT_BUS_NAME: 'call-recordings',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      port: 9000,
      host: '127.0.0.1',
      checkpointBucket: 'checkpoints',
      s3Endpoint: 'http://127.0.0.1:4569',
      region: 'eu-west-2',
      scratchDir: '/tmp/s',
      drainTimeoutMs: 10_000,
      stopTimeoutMs: 30_000,
      idleTimeoutMs: 5000,
      maxCallSeconds: 600,
      checkpointSeconds: 2,
      inflightStaleSeconds: 120,
      maxCalls: 40,
      maxAudioSpeed: 1.5,
      audioBurstSeconds: 30,
      recordingEvents: { eventBusName: 'call-recordings' },
      logLevel: 'DEBUG',
    });
  });

  it('takes the event bus by ARN too (a bus in another account)', () => {
    const arn = 'arn:aws:events:eu-west-2:123456789012:event-bus/call-recordings';
    expect(loadRecorderEnvironment({ ...base, EVENT_BUS_NAME: arn }).recordingEvents).toEqual({
      eventBusName: arn,
    });
  });

  it('writes events to a JSON-lines file instead when EVENTS_FILE names one, but not to both', () => {
    expect(loadRecorderEnvironment({ ...base, EVENTS_FILE: '/tmp/e.jsonl' }).recordingEvents).toEqual({
      file: '/tmp/e.jsonl',
    });
    expect(() =>
      loadRecorderEnvironment({ ...base, EVENTS_FILE: '/tmp/e.jsonl', EVENT_BUS_NAME: 'default' }),
    ).toThrow(/EVENTS_FILE.*cannot be set with EVENT_BUS_NAME/);
  });

  it('takes the secrets by Secrets Manager ARN instead of by value (as the stack passes them)', () => {
    const arn = (name: string) => `arn:aws:secretsmanager:eu-west-2:123456789012:secret:${name}-AbCdEf`;
    expect(
      loadRecorderEnvironment({
        RECORDINGS_BUCKET: 'b',
        CALL_TOKEN_SECRET_ARN: arn('token'),
        VONAGE_SIGNATURE_SECRET_ARN: arn('vonage'),
      }),
    ).toMatchObject({
      callTokenSecret: { arn: arn('token') },
      vonageSignatureSecret: { arn: arn('vonage') },
    });
  });

  it.each([
    [{ CALL_TOKEN_SECRET: 'x'.repeat(64) }, 'RECORDINGS_BUCKET'],
    [{ RECORDINGS_BUCKET: 'b' }, 'CALL_TOKEN_SECRET'],
    [{ ...base, CALL_TOKEN_SECRET: 'short' }, 'CALL_TOKEN_SECRET'],
    [
      { ...base, CALL_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:t-AbCdEf' },
      'CALL_TOKEN_SECRET',
    ],
    [{ RECORDINGS_BUCKET: 'b', CALL_TOKEN_SECRET_ARN: 'my-secret' }, 'CALL_TOKEN_SECRET_ARN'],
    [{ ...base, VONAGE_SIGNATURE_SECRET_ARN: 'arn:aws:s3:::bucket' }, 'VONAGE_SIGNATURE_SECRET_ARN'],
    [{ ...base, SIGNATURE_MAX_AGE_SECONDS: '5' }, 'SIGNATURE_MAX_AGE_SECONDS'],
    [{ ...base, PORT: 'eighty' }, 'PORT'],
    [{ ...base, DRAIN_TIMEOUT_SECONDS: '120' }, 'DRAIN_TIMEOUT_SECONDS'],
    [{ ...base, STOP_TIMEOUT_SECONDS: '1' }, 'STOP_TIMEOUT_SECONDS'],
    // The drain (and the uploads after it) must end before the orchestrator's SIGKILL.
    [{ ...base, DRAIN_TIMEOUT_SECONDS: '60', STOP_TIMEOUT_SECONDS: '60' }, 'DRAIN_TIMEOUT_SECONDS'],
    [{ ...base, IDLE_TIMEOUT_SECONDS: '0' }, 'IDLE_TIMEOUT_SECONDS'],
    [{ ...base, MAX_CALL_SECONDS: '9000' }, 'MAX_CALL_SECONDS'],
    [{ ...base, S3_ENDPOINT: '127.0.0.1:4569' }, 'S3_ENDPOINT'],
    [{ ...base, LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ ...base, CHECKPOINT_SECONDS: '-1' }, 'CHECKPOINT_SECONDS'],
    [{ ...base, CHECKPOINT_SECONDS: '2.5' }, 'CHECKPOINT_SECONDS'],
    [{ ...base, CHECKPOINT_SECONDS: '301' }, 'CHECKPOINT_SECONDS'],
    [{ ...base, INFLIGHT_STALE_SECONDS: '0' }, 'INFLIGHT_STALE_SECONDS'],
    [{ ...base, CHECKPOINT_SECONDS: '10', INFLIGHT_STALE_SECONDS: '15' }, 'INFLIGHT_STALE_SECONDS'],
    [{ ...base, MAX_CALLS: '0' }, 'MAX_CALLS'],
    [{ ...base, EVENT_BUS_NAME: 'calls bus' }, 'EVENT_BUS_NAME'],
    [{ ...base, EVENT_BUS_NAME: 'arn:aws:sns:eu-west-2:123456789012:topic' }, 'EVENT_BUS_NAME'],
    [{ ...base, MAX_AUDIO_SPEED: '0.5' }, 'MAX_AUDIO_SPEED'],
    [{ ...base, MAX_AUDIO_SPEED: 'fast' }, 'MAX_AUDIO_SPEED'],
  ])('names the bad variable (%j → %s)', (env, variable) => {
    expect(() => loadRecorderEnvironment(env)).toThrow(RecorderEnvironmentError);
    expect(() => loadRecorderEnvironment(env)).toThrow(new RegExp(`^${variable} `));
  });
});
