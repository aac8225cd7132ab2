import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import {
  buildMetadata,
  callEvents,
  type FixtureCall,
  metadataDigests,
  putEvent,
  putJson,
  putRecording,
} from '../../test-support/recording-fixtures.js';
import { loopPcm, speechPcm } from '../../test-support/speech.js';
import { formatVerifyReport } from '../../tools/cli/format.js';
import { type RecordingVerification, verifyRecordings } from '../../tools/cli/verify.js';

let s3: LocalS3;
let speech: Buffer;
let serial = 0;

function call(name: string, seconds: number, startedAt = '2026-11-28T10:00:00.000Z'): FixtureCall {
  serial += 1;
  const suffix = String(serial).padStart(12, '0');
  return {
    uuid: `${name}-0000-4000-8000-${suffix}`,
    conversationUuid: `CON-${name}-0000-4000-8000-${suffix}`,
    from: '447700900001',
    to: '442071838750',
    startedAt: new Date(startedAt),
    sampleRate: 16000,
    pcm: loopPcm(speech, 16000, seconds),
  };
}

/** Stores a good recording with the events Vonage would post for it (websocket leg as long as the audio). */
async function goodRecording(name: string, seconds = 3, startedAt?: string, schemaVersion: 1 | 2 = 2) {
  const fixture = { ...call(name, seconds, startedAt), schemaVersion };
  const stored = await putRecording(s3.client, s3.bucket, fixture);
  for (const event of callEvents(fixture, {
    websocketUuid: `ws-${fixture.uuid}`,
    websocketSeconds: seconds,
    callSeconds: seconds + 4,
  })) {
    await putEvent(s3.client, s3.bucket, event);
  }
  return { fixture, stored };
}

const put = (key: string, body: Buffer) =>
  s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
const remove = (key: string) => s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }));

function statuses(result: RecordingVerification | undefined): Record<string, string> {
  return Object.fromEntries((result?.checks ?? []).map((check) => [check.check, check.status]));
}

beforeAll(async () => {
  s3 = await startLocalS3();
  speech = await speechPcm('Please leave a message after the tone.', 16000);
});

afterAll(async () => {
  await s3?.close();
});

describe('verify', () => {
  it('passes every check on intact recordings whose durations match Vonage', async () => {
    const { fixture } = await goodRecording('aaaaaaaa', 3);
    const report = await verifyRecordings(s3.client, s3.bucket, { uuid: fixture.uuid });
    expect(report.ok).toBe(true);
    expect(report.recordings).toHaveLength(1);
    expect(statuses(report.recordings[0])).toEqual({
      audio: 'pass',
      metadata: 'pass',
      'wav-header': 'pass',
      size: 'pass',
      sha256: 'pass',
      duration: 'pass',
    });
    expect(report.recordings[0]?.checks.find((c) => c.check === 'duration')?.detail).toBe(
      'recorded 3.0 s, Vonage websocket leg 3 s',
    );
  });

  it('flags each kind of damage, and only that kind', async () => {
    const flipped = await goodRecording('f1199edd', 2);
    const corrupt = Buffer.from(flipped.stored.wav);
    corrupt[1000] = (corrupt[1000] as number) ^ 0xff;
    await put(flipped.stored.wavKey, corrupt);

    const truncated = await goodRecording('7a0ca7ed', 2);
    await put(truncated.stored.wavKey, truncated.stored.wav.subarray(0, truncated.stored.wav.length - 6400));

    const noMetadata = await goodRecording('0e7adaaa', 2);
    await remove(noMetadata.stored.metadataKey);

    const noAudio = await goodRecording('0a0d10aa', 2);
    await remove(noAudio.stored.wavKey);

    // Vonage says the websocket leg lasted 5 s; the recording holds 2 s.
    const shortened = call('d0a7100a', 2);
    await putRecording(s3.client, s3.bucket, shortened);
    for (const event of callEvents(shortened, {
      websocketUuid: 'ws-short',
      websocketSeconds: 5,
      callSeconds: 9,
    })) {
      await putEvent(s3.client, s3.bucket, event);
    }

    // A header and nothing else, with metadata that agrees (a call that sent no audio).
    const headerOnly = call('4eade400', 0);
    await putRecording(s3.client, s3.bucket, headerOnly);

    const empty = await goodRecording('e3371000', 2);
    await put(empty.stored.wavKey, Buffer.alloc(0));

    // The streamed writer's placeholder sizes were never replaced by the final header (a writer
    // of schema-1 days, whose metadata hashed whatever header the object had).
    const placeholder = await goodRecording('91aceb01', 2, undefined, 1);
    const unfinalized = Buffer.from(placeholder.stored.wav);
    unfinalized.writeUInt32LE(0x7fffffff, 4);
    unfinalized.writeUInt32LE(0x7fffffdb, 40);
    await put(placeholder.stored.wavKey, unfinalized);
    const metadata = buildMetadata(placeholder.fixture, unfinalized);
    await putJson(s3.client, s3.bucket, placeholder.stored.metadataKey, metadata);

    const intact = await goodRecording('600d0001', 2);

    const report = await verifyRecordings(s3.client, s3.bucket);
    const byUuid = new Map(report.recordings.map((r) => [r.uuid, r]));
    const of = (fixture: FixtureCall) => statuses(byUuid.get(fixture.uuid));

    expect(of(flipped.fixture)).toMatchObject({
      audio: 'pass',
      'wav-header': 'pass',
      size: 'pass',
      sha256: 'fail',
    });
    expect(of(truncated.fixture)).toMatchObject({ 'wav-header': 'fail', size: 'fail', sha256: 'fail' });
    expect(of(noMetadata.fixture)).toEqual({
      audio: 'pass',
      metadata: 'fail',
      'wav-header': 'pass',
      size: 'skip',
      sha256: 'skip',
      duration: 'skip',
    });
    expect(of(noAudio.fixture)).toMatchObject({
      audio: 'fail',
      metadata: 'pass',
      'wav-header': 'skip',
      size: 'skip',
    });
    expect(of(shortened)).toMatchObject({ audio: 'pass', sha256: 'pass', duration: 'fail' });
    expect(of(headerOnly)).toMatchObject({ audio: 'fail', 'wav-header': 'pass', sha256: 'pass' });
    expect(of(empty.fixture)).toMatchObject({
      audio: 'fail',
      'wav-header': 'skip',
      size: 'fail',
      sha256: 'fail',
    });
    expect(of(placeholder.fixture)).toMatchObject({
      audio: 'pass',
      'wav-header': 'fail',
      size: 'pass',
      sha256: 'pass',
    });
    expect(of(intact.fixture)).toMatchObject({ sha256: 'pass', duration: 'pass' });
    expect(byUuid.get(intact.fixture.uuid)?.ok).toBe(true);

    const detail = (fixture: FixtureCall, check: string) =>
      byUuid.get(fixture.uuid)?.checks.find((c) => c.check === check)?.detail;
    expect(detail(truncated.fixture, 'size')).toBe(
      `metadata says ${truncated.stored.wav.length} bytes (${truncated.stored.wav.length - 44} of audio), object has ${truncated.stored.wav.length - 6400}`,
    );
    expect(detail(noMetadata.fixture, 'metadata')).toBe('missing metadata: no JSON beside the WAV');
    expect(detail(noAudio.fixture, 'audio')).toBe('metadata without audio: no WAV object');
    expect(detail(shortened, 'duration')).toBe('recorded 2.0 s, Vonage websocket leg 5 s');
    expect(detail(headerOnly, 'audio')).toBe('header only: no audio after the 44-byte header');
    expect(detail(empty.fixture, 'audio')).toBe('empty file (0 bytes)');
    expect(detail(placeholder.fixture, 'wav-header')).toMatch(
      /^header sizes \(RIFF 2147483647, data 2147483611\)/,
    );

    // The first test's recording, this test's eight damaged ones and one intact one.
    expect(report.ok).toBe(false);
    expect(report.failed).toBe(8);
    // Skipped: no metadata to compare with, or no audio to hash.
    expect(report.summary.sha256).toEqual({ pass: 5, fail: 3, skip: 2 });
    const text = formatVerifyReport(report);
    expect(text).toContain('8 of 10 recordings failed verification.');
    expect(text).toMatch(
      new RegExp(
        `${flipped.fixture.uuid} +│ sha256 +│ stored audio ${metadataDigests(flipped.stored.wav).audioSha256}`,
      ),
    );
  });

  it('fails a changed header byte that still parses, naming the byte', async () => {
    const { fixture, stored } = await goodRecording('8eade28b', 1);
    const changed = Buffer.from(stored.wav);
    // The byte rate: no size or format check reads it, only the byte-for-byte header check.
    changed[28] = (changed[28] as number) ^ 0x01;
    await put(stored.wavKey, changed);
    const report = await verifyRecordings(s3.client, s3.bucket, { uuid: fixture.uuid });
    expect(statuses(report.recordings[0])).toMatchObject({
      'wav-header': 'pass',
      size: 'pass',
      sha256: 'fail',
    });
    expect(report.recordings[0]?.checks.find((c) => c.check === 'sha256')?.detail).toBe(
      `header byte 28 is 0x${(changed[28] as number).toString(16).padStart(2, '0')}, expected 0x${(stored.wav[28] as number).toString(16).padStart(2, '0')}`,
    );
  });

  it('keeps verifying older recordings whose metadata has one SHA-256 of the whole WAV', async () => {
    const intact = await goodRecording('01de0001', 1, undefined, 1);
    const damaged = await goodRecording('01de0002', 1, undefined, 1);
    expect(intact.stored.metadata).toMatchObject({ schemaVersion: 1, sha256: expect.any(String) });
    const changed = Buffer.from(damaged.stored.wav);
    changed[100] = (changed[100] as number) ^ 0x01;
    await put(damaged.stored.wavKey, changed);
    const check = async (uuid: string) =>
      (await verifyRecordings(s3.client, s3.bucket, { uuid })).recordings[0]?.checks.find(
        (c) => c.check === 'sha256',
      );
    expect(await check(intact.fixture.uuid)).toMatchObject({ status: 'pass' });
    expect(await check(damaged.fixture.uuid)).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^stored [0-9a-f]{64}, object hashes to /),
    });
  });

  it('flags metadata that belongs to another call', async () => {
    const mine = await goodRecording('5a5a5a5a', 1);
    const other = await goodRecording('6b6b6b6b', 1);
    await putJson(s3.client, s3.bucket, mine.stored.metadataKey, other.stored.metadata);
    const report = await verifyRecordings(s3.client, s3.bucket, { uuid: mine.fixture.uuid });
    expect(report.recordings[0]?.checks.find((c) => c.check === 'metadata')).toEqual({
      check: 'metadata',
      status: 'fail',
      detail: `metadata is for call ${other.fixture.uuid}, not ${mine.fixture.uuid}`,
    });
  });

  it('checks only recordings since a date, and a call leg without a websocket leg by its upper bound', async () => {
    const old = await goodRecording('01d01d01', 2, '2026-10-01T08:00:00.000Z');
    const recent = call('2ece2700', 2, '2026-12-01T08:00:00.000Z');
    await putRecording(s3.client, s3.bucket, recent);
    // Only the call leg's completed event (no websocket leg events): 6 s of call includes the greeting.
    const callLegOnly = callEvents(recent, {
      websocketUuid: 'ws-none',
      websocketSeconds: 2,
      callSeconds: 6,
    }).filter((event) => event.uuid === recent.uuid);
    for (const event of callLegOnly) await putEvent(s3.client, s3.bucket, event);
    const report = await verifyRecordings(s3.client, s3.bucket, {
      since: new Date('2026-12-01T00:00:00.000Z'),
    });
    expect(report.recordings.map((r) => r.uuid)).toEqual([recent.uuid]);
    expect(report.recordings[0]?.checks.find((c) => c.check === 'duration')).toEqual({
      check: 'duration',
      status: 'pass',
      detail: 'recorded 2.0 s, Vonage call leg 6 s',
    });
    expect(report.ok).toBe(true);
    expect(old.fixture.uuid).not.toBe(recent.uuid);
  });

  it('allows a recovered recording to lack up to CHECKPOINT_SECONDS of its end, and no more', async () => {
    // The sweeper rebuilt these from checkpoints: Vonage's websocket leg ran on after the last one.
    const recovered = async (name: string, seconds: number, websocketSeconds: number) => {
      const fixture = call(name, seconds, '2026-11-15T09:00:00.000Z');
      const stored = await putRecording(s3.client, s3.bucket, fixture);
      await putJson(s3.client, s3.bucket, stored.metadataKey, {
        ...stored.metadata,
        interrupted: true,
        end: { code: 1006, reason: '', by: 'recovered' },
      });
      const events = callEvents(fixture, {
        websocketUuid: `ws-${name}`,
        websocketSeconds,
        callSeconds: websocketSeconds + 3,
      });
      for (const event of events) await putEvent(s3.client, s3.bucket, event);
      return fixture;
    };
    const lostLastSecond = await recovered('2ec0e001', 2, 3);
    const lostTen = await recovered('2ec0e010', 2, 12);
    const lostMore = await recovered('2ec0e011', 2, 14);
    const duration = (report: Awaited<ReturnType<typeof verifyRecordings>>, uuid: string) =>
      report.recordings.find((r) => r.uuid === uuid)?.checks.find((c) => c.check === 'duration');

    const report = await verifyRecordings(s3.client, s3.bucket, {
      since: new Date('2026-11-15T00:00:00.000Z'),
    });
    expect(duration(report, lostLastSecond.uuid)?.status).toBe('pass');
    expect(duration(report, lostTen.uuid)?.status).toBe('pass');
    expect(duration(report, lostMore.uuid)).toEqual({
      check: 'duration',
      status: 'fail',
      detail: 'recorded 2.0 s, Vonage websocket leg 14 s',
    });
    // A recorder checkpointing every 5 s loses at most 5 s: then 10 s lost is a failure.
    const tight = await verifyRecordings(s3.client, s3.bucket, {
      uuid: lostTen.uuid,
      crashLossBoundSeconds: 5,
    });
    expect(duration(tight, lostTen.uuid)?.status).toBe('fail');
  });

  it('reports answered calls with no recording as missing, and fails for them', async () => {
    const neverConnected = call('10571001', 0, '2026-11-20T10:00:00.000Z');
    const notStored = call('10571002', 0, '2026-11-20T11:00:00.000Z');
    const rejected = call('10571003', 0, '2026-11-20T12:00:00.000Z');
    const neverEvents = callEvents(neverConnected, {
      websocketUuid: 'ws-never',
      websocketSeconds: 0,
      callSeconds: 4,
    });
    for (const event of neverEvents.filter((event) => event.uuid === neverConnected.uuid))
      await putEvent(s3.client, s3.bucket, event);
    for (const event of callEvents(notStored, {
      websocketUuid: 'ws-lost',
      websocketSeconds: 8,
      callSeconds: 11,
    }))
      await putEvent(s3.client, s3.bucket, event);
    // Never answered: nothing to record, so not missing.
    for (const status of ['started', 'rejected', 'completed'])
      await putEvent(s3.client, s3.bucket, {
        uuid: rejected.uuid,
        conversation_uuid: rejected.conversationUuid,
        from: rejected.from,
        to: rejected.to,
        status,
        timestamp: new Date(rejected.startedAt.getTime() + status.length).toISOString(),
      });

    const report = await verifyRecordings(s3.client, s3.bucket, {
      since: new Date('2026-11-20T00:00:00.000Z'),
    });
    const inDay = report.missing.filter((m) => m.answeredAt?.startsWith('2026-11-20'));
    expect(inDay).toEqual([
      expect.objectContaining({
        uuid: neverConnected.uuid,
        reason: 'never-connected',
        vonageDurationSeconds: 4,
        from: neverConnected.from,
      }),
      expect.objectContaining({ uuid: notStored.uuid, reason: 'not-stored', vonageDurationSeconds: 11 }),
    ]);
    expect(report.ok).toBe(false);
    const text = formatVerifyReport(report);
    expect(text).toMatch(/Missing: \d+ answered calls? with no recording:/);
    expect(text).toContain(neverConnected.uuid);
    expect(text).toContain('no recording: the call never connected to the recorder (Vonage: 4 s call)');
    const one = await verifyRecordings(s3.client, s3.bucket, { uuid: notStored.uuid });
    expect(one.missing.map((m) => m.uuid)).toEqual([notStored.uuid]);
  });
});
