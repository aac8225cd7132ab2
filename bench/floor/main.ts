/**
 * The floor the recorder is measured against: a bare `ws` server that accepts every websocket and
 * discards every frame. Whatever a recorder costs above this is its own work (token, spool,
 * uploads, checkpoints); this much any `ws`-based server pays to take the same frames in.
 * Configured like the recorder: `PORT`, `HOST`; answers `GET /healthz`.
 *
 * With `FLOOR_SPOOL_DIR` set it is the storage floor instead: each call's frames are copied into a
 * 32 KiB buffer, written to a file of their own in that directory a buffer at a time and hashed
 * with SHA-256, as the recorder's spool does, with nothing else around them. The file is removed
 * when the call ends. What the recorder costs above this is everything but durable, hashed audio.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { type WebSocket, WebSocketServer } from 'ws';

const BATCH_BYTES = 32 * 1024;
const spoolDir = process.env.FLOOR_SPOOL_DIR;

// The recorder's own settings for what ws does per frame (fargate/src/recorder.ts).
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
const server = createServer((request, response) => {
  if (request.url === '/healthz') response.writeHead(200).end('{"status":"ok"}');
  else response.writeHead(404).end();
});
let connections = 0;
server.on('upgrade', (request, socket, head) => {
  socket.on('error', () => socket.destroy());
  wss.handleUpgrade(request, socket, head, (ws) => {
    ws.on('error', () => ws.terminate());
    if (spoolDir) storeFrames(ws, join(spoolDir, `call-${process.pid}-${connections++}.pcm`));
    else ws.on('message', () => {});
  });
});

/** The recorder's storage path with nothing else: copy, write a batch at a time, hash. */
function storeFrames(ws: WebSocket, path: string): void {
  const fd = openSync(path, 'wx');
  const hash: Hash = createHash('sha256');
  const batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
  let fill = 0;
  let position = 0;
  const writeBatch = (): void => {
    position += writeSync(fd, batch, 0, fill, position);
    hash.update(batch.subarray(0, fill));
    fill = 0;
  };
  ws.on('message', (data: Buffer) => {
    for (let offset = 0; offset < data.length; ) {
      const copied = data.copy(batch, fill, offset);
      fill += copied;
      offset += copied;
      if (fill === BATCH_BYTES) writeBatch();
    }
  });
  ws.on('close', () => {
    writeBatch();
    hash.digest();
    closeSync(fd);
    unlinkSync(path);
  });
}

server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '0.0.0.0', () => {
  console.log(JSON.stringify({ msg: 'listening', port: process.env.PORT }));
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => server.close(() => process.exit(0)));
}
