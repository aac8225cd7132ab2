/**
 * The floor the recorder is measured against: a bare `ws` server that accepts every websocket and
 * discards every frame. Whatever a recorder costs above this is its own work (token, spool,
 * uploads, checkpoints); this much any `ws`-based server pays to take the same frames in.
 * Configured like the recorder: `PORT`, `HOST`; answers `GET /healthz`.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

// The recorder's own settings for what ws does per frame (fargate/src/recorder.ts).
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
const server = createServer((request, response) => {
  if (request.url === '/healthz') response.writeHead(200).end('{"status":"ok"}');
  else response.writeHead(404).end();
});
server.on('upgrade', (request, socket, head) => {
  socket.on('error', () => socket.destroy());
  wss.handleUpgrade(request, socket, head, (ws) => {
    ws.on('error', () => ws.terminate());
    ws.on('message', () => {});
  });
});
server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '0.0.0.0', () => {
  console.log(JSON.stringify({ msg: 'listening', port: process.env.PORT }));
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => server.close(() => process.exit(0)));
}
