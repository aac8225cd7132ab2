/// <reference lib="dom" />
// The page functions below run inside Chromium: they see the DOM, not Node.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_PATH, chromiumAvailable, launchChromium } from '../../test-support/browser.js';
import { startTestStack } from '../../test-support/local-stack.js';
import { putRecording, type StoredFixture } from '../../test-support/recording-fixtures.js';
import { speechPcm } from '../../test-support/speech.js';
import { type RunningConsole, startConsole } from '../../tools/console/console-server.js';
import type { LocalStack } from '../../tools/local/stack.js';
import { type SimulatedCall, simulateCall } from '../../tools/simulator/simulate-call.js';

/**
 * The console page in a real headless Chromium (Debian's `chromium`), against the local stack:
 * a call placed by the simulator is listed, plays and seeks, shows its DTMF markers, and a
 * recording altered in S3 fails verification with a red badge.
 */

const hasChromium = chromiumAvailable();
if (!hasChromium) {
  console.warn(
    `console browser tests skipped: no Chromium at ${CHROMIUM_PATH} (bash scripts/setup.sh installs it)`,
  );
}

let work: string;
let stack: LocalStack;
let running: RunningConsole;
let browser: Browser;
let page: Page;
let call: SimulatedCall;
let altered: StoredFixture;
const audioStatuses: number[] = [];

describe.skipIf(!hasChromium)('the console in Chromium', () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'console-browser-'));
    stack = await startTestStack(join(work, 'stack'));
    const speech = await speechPcm('Thank you for calling. This call is recorded for quality.', 16000);
    call = await simulateCall({
      answerUrl: stack.answerUrl,
      audio: { pcm: speech, sampleRate: 16000 },
      speed: 8,
      dtmf: [
        { digit: '4', atMs: 1000 },
        { digit: '2', atMs: 1500 },
      ],
    });
    altered = await putRecording(stack.s3, stack.bucket, {
      uuid: 'a17e8ed0-0000-4000-8000-000000000001',
      conversationUuid: 'CON-a17e8ed0-0000-4000-8000-000000000001',
      from: '447700900777',
      to: '442071838750',
      startedAt: new Date('2026-11-25T09:00:00.000Z'),
      sampleRate: 16000,
      pcm: speech,
    });
    const changed = Buffer.from(altered.wav);
    changed[5000] = (changed[5000] as number) ^ 0x55;
    await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: altered.wavKey, Body: changed }));

    running = await startConsole({
      s3: stack.s3,
      bucket: stack.bucket,
      description: 'local test bucket',
      port: 0,
    });
    browser = await launchChromium();
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    page.on('response', (response) => {
      if (response.url().endsWith('/audio')) audioStatuses.push(response.status());
    });
    await page.goto(running.url, { waitUntil: 'networkidle0' });
  });

  afterAll(async () => {
    await browser?.close();
    await running?.close();
    await stack?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const openButton = (uuid: string) => `button[aria-label="Open call ${uuid}"]`;
  const audio = <T>(fn: (player: HTMLAudioElement) => T) =>
    page.$eval('#player', fn as (element: Element) => T);

  it('answers a wrong token with the 401 page', async () => {
    const other = await browser.newPage();
    const response = await other.goto(`${running.origin}/?token=wrong`);
    expect(response?.status()).toBe(401);
    expect(await other.$eval('h1', (h1) => h1.textContent)).toBe('Access token not accepted');
    await other.close();
  });

  it('lists the call the simulator placed, with its caller, and drops the token from the address bar', async () => {
    expect(page.url()).toBe(`${running.origin}/`);
    await page.waitForSelector(openButton(call.uuid));
    const cells = await page.$eval(`tr[data-uuid="${call.uuid}"]`, (row) =>
      [...row.querySelectorAll('td')].map((cell) => cell.textContent),
    );
    expect(cells[1]).toBe(call.from);
    expect(cells[4]).toBe('ok');
  });

  it('loads the recording in the player, draws its waveform, and seeks with range requests', async () => {
    await page.click(openButton(call.uuid));
    await page.waitForFunction(() => (document.querySelector('#player') as HTMLAudioElement).readyState >= 1);
    expect(await audio((player) => player.duration)).toBeCloseTo(call.audioSeconds, 1);
    await page.waitForFunction(() => {
      const canvas = document.querySelector('#waveform') as HTMLCanvasElement;
      const pixels = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
      return Array.prototype.some.call(
        pixels,
        (value: number, index: number) => index % 4 === 3 && value > 0,
      );
    });

    const target = call.audioSeconds - 1;
    await page.$eval(
      '#player',
      (player, at) =>
        new Promise<void>((resolve) => {
          const element = player as HTMLAudioElement;
          element.addEventListener('seeked', () => resolve(), { once: true });
          element.currentTime = at as number;
        }),
      target,
    );
    expect(await audio((player) => player.currentTime)).toBeCloseTo(target, 1);
    await audio((player) => player.play());
    await page.waitForFunction(
      (from) => (document.querySelector('#player') as HTMLAudioElement).currentTime > (from as number) + 0.2,
      {},
      target,
    );
    await audio((player) => player.pause());
    expect(audioStatuses).toContain(206);
  });

  it('puts a marker on the timeline at each DTMF offset, and a marker seeks there', async () => {
    const markers = await page.$$eval('#markers button', (buttons) =>
      buttons.map((button) => {
        const timeline = (document.querySelector('#timeline') as HTMLElement).getBoundingClientRect();
        const box = button.getBoundingClientRect();
        return {
          text: button.textContent,
          offsetMs: Number(button.getAttribute('data-offset-ms')),
          at: (box.left + box.width / 2 - timeline.left) / timeline.width,
        };
      }),
    );
    expect(markers.map((marker) => [marker.text, marker.offsetMs])).toEqual([
      ['4', 1000],
      ['2', 1500],
    ]);
    for (const marker of markers) {
      expect(marker.at).toBeCloseTo(marker.offsetMs / 1000 / call.audioSeconds, 2);
    }
    await page.click('#markers button[data-offset-ms="1500"]');
    await page.waitForFunction(() => {
      const player = document.querySelector('#player') as HTMLAudioElement;
      return player.currentTime >= 1.5 && player.currentTime < 2.5;
    });
    await audio((player) => player.pause());
  });

  it('shows a green badge for the intact call and a red one for the recording altered in S3', async () => {
    await page.click('#verify');
    await page.waitForFunction(() => document.querySelector('#badge')?.textContent === 'verified');

    // A date input's typed format follows the browser's locale; its value is always YYYY-MM-DD.
    for (const name of ['from', 'to']) {
      await page.$eval(`input[name="${name}"]`, (input) => {
        (input as HTMLInputElement).value = '2026-11-25';
      });
    }
    await page.click('#filters button[type="submit"]');
    await page.waitForSelector(openButton(altered.metadata.uuid));
    expect(await page.$$eval('#list tbody tr', (rows) => rows.length)).toBe(1);
    await page.click(openButton(altered.metadata.uuid));
    await page.waitForFunction(
      (uuid) => document.querySelector('#detail-uuid')?.textContent === uuid,
      {},
      altered.metadata.uuid,
    );
    await page.click('#verify');
    await page.waitForFunction(() => document.querySelector('#badge')?.textContent === 'FAILED verification');
    const color = await page.$eval('#badge', (badge) => getComputedStyle(badge).backgroundColor);
    expect(color).toBe('rgb(207, 34, 46)');
    expect(await page.$eval('#verify-details', (list) => list.textContent)).toMatch(/sha256: stored/);
  });
});
