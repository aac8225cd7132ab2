/**
 * `npm run demo`: from a fresh clone, start the local stack, place one simulated call that speaks
 * a real sentence, show the recording it left in the bucket, and stop.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { WAV_HEADER_BYTES } from '../../common/wav.js';
import { SimulatorError } from '../simulator/errors.js';
import { DEFAULT_SENTENCE, simulateCall } from '../simulator/simulate-call.js';
import { describeStack, localStackCommand, type StartOptions, stackOptions } from './options.js';
import {
  callDays,
  downloadObject,
  listCallEvents,
  waitForRecording,
  waitForRecordingEvent,
} from './recordings.js';
import { type LocalStack, startLocalStack } from './stack.js';

const run = promisify(execFile);

/** The demo could not show a complete recording. */
export class DemoError extends Error {
  override readonly name = 'DemoError';
}

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

async function demo(stack: LocalStack, signatureSecret: string | undefined): Promise<void> {
  say(`\n1. Calling ${stack.answerUrl} as Vonage would, saying:\n   "${DEFAULT_SENTENCE}"`);
  const call = await simulateCall({
    answerUrl: stack.answerUrl,
    audio: { text: DEFAULT_SENTENCE },
    speed: Number.POSITIVE_INFINITY,
    dtmf: [
      { digit: '4', atMs: 1000 },
      { digit: '2', atMs: 1500 },
    ],
    ...(signatureSecret ? { signature: { secret: signatureSecret } } : {}),
  });
  say(
    `   call ${call.uuid}: ${call.audioSeconds.toFixed(2)} s of audio in ${call.framesSent} frames at ` +
      `${call.sampleRate} Hz, DTMF ${call.dtmfSent.map((tone) => tone.digit).join('')}, hung up (close ${call.closeCode})`,
  );

  say('\n2. The recording, read back through the S3 API:');
  const days = callDays(call.startedAt, call.endedAt);
  const metadata = await waitForRecording(stack.s3, stack.bucket, call.uuid, days);
  const localCopy = join(stack.dataDir, 'demo', `${call.uuid}.wav`);
  await downloadObject(stack.s3, stack.bucket, metadata.recordingKey, localCopy);
  const wav = await readFile(localCopy);
  const soxSeconds = Number((await run('soxi', ['-D', localCopy])).stdout.trim());
  const identical = wav.subarray(WAV_HEADER_BYTES).equals(call.pcm);
  say(`   key        s3://${stack.bucket}/${metadata.recordingKey}`);
  say(`   duration   ${soxSeconds.toFixed(2)} s (soxi), ${metadata.sampleRate} Hz mono 16-bit`);
  say(
    `   size       ${wav.length.toLocaleString('en-US')} bytes (${metadata.audioBytes.toLocaleString('en-US')} bytes of audio)`,
  );
  say(
    `   local copy ${relative(process.cwd(), localCopy) || localCopy}  (play it: play ${relative(process.cwd(), localCopy)})`,
  );
  say(
    `   DTMF       ${metadata.textEvents.map((text) => `${String(text.event.digit)} at ${text.offsetMs} ms`).join(', ') || 'none'}`,
  );
  say(
    `   audio      ${identical ? 'identical to what the caller sent' : 'DIFFERENT from what the caller sent'}`,
  );
  if (!identical) throw new DemoError('the stored audio differs from what the simulated caller sent');

  say('\n3. The call events stored beside it:');
  const events = await listCallEvents(stack.s3, stack.bucket, call.conversationUuid, days);
  for (const { key, event } of events) {
    const leg = event.uuid === call.uuid ? 'call     ' : 'websocket';
    const extra = event.status === 'completed' ? `  duration ${String(event.duration)} s` : '';
    say(
      `   ${String(event.timestamp)}  ${leg}  ${String(event.status).padEnd(9)}${extra}  ${key.split('/').at(-1)}`,
    );
  }
  const statuses = events
    .filter((stored) => stored.event.uuid === call.uuid)
    .map((stored) => stored.event.status);
  if (statuses.join() !== 'started,ringing,answered,completed') {
    throw new DemoError(
      `expected the call's events started, ringing, answered, completed; found ${statuses.join(', ') || 'none'}`,
    );
  }

  say(
    `\n4. The recording event, as EventBridge would receive it (${relative(process.cwd(), stack.eventsFile)}):`,
  );
  const entry = await waitForRecordingEvent(stack.eventsFile, 'Recording Stored', call.uuid);
  const detail = JSON.parse(entry.Detail) as { audioSha256?: string };
  const shown = { ...entry, Detail: detail };
  for (const line of JSON.stringify(shown, null, 2).split('\n')) say(`   ${line}`);
  if (metadata.schemaVersion !== 2 || detail.audioSha256 !== metadata.audioSha256) {
    throw new DemoError('the Recording Stored event names another SHA-256 than the stored recording');
  }
  say(`\nDone: one call recorded into s3://${stack.bucket} on this machine.`);
}

async function main(): Promise<number> {
  const program = localStackCommand(
    'npm run demo --',
    'Start the local stack, place one simulated call, show its recording and events, and stop.',
    'ERROR',
  );
  program.parse(process.argv);
  // Signed like a deployed stack: a throwaway signature secret (never printed) that the simulated
  // call signs its webhooks and its websocket handshake with, as Vonage would.
  const options = {
    ...stackOptions(program.opts<StartOptions>()),
    signatureSecret: process.env.VONAGE_SIGNATURE_SECRET ?? randomBytes(32).toString('base64url'),
  };
  say('Starting the call recorder locally...');
  const stack = await startLocalStack(options);
  say(describeStack(stack, true));
  try {
    await demo(stack, options.signatureSecret);
    return 0;
  } finally {
    await stack.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof SimulatorError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`error: ${message}\n`);
    process.exit(1);
  },
);
