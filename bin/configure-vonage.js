#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx configure-vonage …` works in the repo without a build step.
import { register } from 'tsx/esm/api';

register();
const { runConfigureVonageCli } = await import('../tools/cli/configure-vonage.ts');
process.exitCode = await runConfigureVonageCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
});
