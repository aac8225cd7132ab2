#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx recordings …` works in the repo without a build step.
import { register } from 'tsx/esm/api';

register();
const { runRecordingsCli } = await import('../tools/cli/recordings.ts');
process.exitCode = await runRecordingsCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
});
