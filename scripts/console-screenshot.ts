/**
 * Takes the README's screenshot of the audit console (docs/console.png) in headless Chromium:
 *   npm run demo && npx recordings console --local     # prints the URL
 *   npx tsx scripts/console-screenshot.ts 'http://127.0.0.1:8090/?token=…' docs/console.png
 * Opens the newest call, waits for its waveform, and saves the page.
 */
import { launchChromium } from '../test-support/browser.js';

const [url, out = 'docs/console.png'] = process.argv.slice(2);
if (!url) {
  process.stderr.write('usage: npx tsx scripts/console-screenshot.ts CONSOLE_URL [OUT.png]\n');
  process.exit(2);
}
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1000, deviceScaleFactor: 1 });
  await page.goto(url, { waitUntil: 'networkidle0' });
  await page.click('#list tbody tr button');
  await page.waitForFunction(() => (document.querySelector('#player') as HTMLAudioElement).readyState >= 1);
  await page.click('#verify');
  await page.waitForFunction(() => document.querySelector('#badge')?.textContent === 'verified');
  await page.waitForNetworkIdle();
  await page.screenshot({ path: out as `${string}.png`, fullPage: true });
  process.stdout.write(`saved ${out}\n`);
} finally {
  await browser.close();
}
