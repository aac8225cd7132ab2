import { defineConfig } from 'vitest/config';

/**
 * Four projects, chosen by file name and folder:
 * - `unit`: `*.unit.test.ts` anywhere; pure logic, no sockets, servers or child processes
 *   (test-support/unit-setup.ts makes them throw). `npm run test:unit` runs only these.
 * - `infra`: test/infra/: CDK synths and template assertions (seconds per synth).
 * - `integration`: every other `*.test.ts`, with real sockets, a real S3 server on loopback and
 *   child processes.
 * - `reliability`: test/reliability/: faults, crashes and load (minutes).
 */
const unitTests = '**/*.unit.test.ts';
const testRoots = ['test/**/*.test.ts', 'fargate/test/**/*.test.ts'];

export default defineConfig({
  test: {
    // Tests start real servers (S3, websocket) and synthesize stacks: give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: testRoots.map((root) => root.replace('*.test.ts', '*.unit.test.ts')),
          setupFiles: ['test-support/unit-setup.ts'],
          testTimeout: 10_000,
        },
      },
      {
        extends: true,
        test: { name: 'infra', include: ['test/infra/**/*.test.ts'], exclude: [unitTests] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: testRoots,
          exclude: [unitTests, 'test/infra/**', 'test/reliability/**'],
        },
      },
      {
        extends: true,
        test: { name: 'reliability', include: ['test/reliability/**/*.test.ts'] },
      },
    ],
  },
});
