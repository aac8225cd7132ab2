/**
 * The baseline recorder as a process, configured like the recorder's own entry:
 * `PORT`, `HOST`, `RECORDINGS_BUCKET`, `CALL_TOKEN_SECRET`, `S3_ENDPOINT`, `SCRATCH_DIR`.
 */
import { createS3Client } from '../../common/s3-client.js';
import { createBaselineRecorder } from './server.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

const endpoint = process.env.S3_ENDPOINT;
const recorder = createBaselineRecorder({
  bucket: required('RECORDINGS_BUCKET'),
  s3: createS3Client(endpoint ? { endpoint } : {}),
  callTokenSecret: required('CALL_TOKEN_SECRET'),
  scratchDir: process.env.SCRATCH_DIR ?? '/tmp/baseline-recorder',
});
const address = await recorder.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '0.0.0.0');
console.log(JSON.stringify({ msg: 'listening', port: address.port }));
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void recorder.close().then(() => process.exit(0));
  });
}
