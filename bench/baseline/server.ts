import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import wav from 'wav';
import { WebSocketServer } from 'ws';
import { parseContentType } from '../../common/audio-format.js';
import { verifyCallToken } from '../../common/call-token.js';
import { isValidCallUuid, recordingKey } from '../../common/recording-keys.js';

/**
 * The baseline the recorder is measured against: a websocket recorder built the way many
 * published samples build one. `ws` accepts the call, a `wav` FileWriter writes the audio to a
 * temporary file, and after hangup the file is uploaded in one go (lib-storage `Upload`) and
 * deleted. It speaks the same URL and handshake as the recorder (`/calls/<uuid>?token=…`, first
 * text frame `websocket:connected`), so one load generator drives both. It is correct (the WAV
 * header is fixed before the upload) but nothing more: no streaming upload, no retries beyond the
 * SDK's, no drain.
 */
export interface BaselineOptions {
  readonly bucket: string;
  readonly s3: S3Client;
  readonly callTokenSecret: string;
  readonly scratchDir: string;
}

export interface BaselineRecorder {
  readonly server: Server;
  listen(port: number, host?: string): Promise<AddressInfo>;
  close(): Promise<void>;
  activeCalls(): number;
}

export class BaselineUploadError extends Error {
  override readonly name = 'BaselineUploadError';
}

export function createBaselineRecorder(options: BaselineOptions): BaselineRecorder {
  let active = 0;
  const server = createServer((request, response) => {
    if (request.url === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ status: 'ok', activeCalls: active }));
      return;
    }
    response.writeHead(404).end();
  });
  const wss = new WebSocketServer({ noServer: true });

  server.on('upgrade', (request, socket, head) => {
    const url = new URL(request.url ?? '/', 'http://recorder');
    const uuid = /^\/calls\/([^/]+)$/.exec(url.pathname)?.[1];
    if (!uuid || !isValidCallUuid(uuid)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    if (!verifyCallToken(options.callTokenSecret, uuid, url.searchParams.get('token')).ok) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      active += 1;
      const startedAt = new Date();
      const path = join(options.scratchDir, `${uuid}.wav`);
      let writer: wav.FileWriter | undefined;
      ws.on('message', (data, isBinary) => {
        if (!isBinary) {
          if (writer) return;
          const first = JSON.parse(data.toString()) as Record<string, unknown>;
          const sampleRate = parseContentType(first['content-type']) ?? 16000;
          writer = new wav.FileWriter(path, { sampleRate, channels: 1, bitDepth: 16 });
          return;
        }
        writer?.write(data as Buffer);
      });
      ws.on('error', (error) => console.error(`call ${uuid}: ${error.message}`));
      ws.on('close', () => {
        active -= 1;
        if (!writer) return;
        const file = writer;
        // FileWriter emits `done` once the fixed header is written; the data may still be flushing.
        const written = Promise.all([once(file, 'done'), once(file.file, 'close')]);
        file.end();
        written
          .then(() =>
            new Upload({
              client: options.s3,
              params: {
                Bucket: options.bucket,
                Key: recordingKey(uuid, startedAt),
                Body: createReadStream(path),
              },
            }).done(),
          )
          .then(() => rm(path, { force: true }))
          .catch((error: Error) => console.error(new BaselineUploadError(`call ${uuid}: ${error.message}`)));
      });
    });
  });

  return {
    server,
    async listen(port, host = '0.0.0.0') {
      await mkdir(options.scratchDir, { recursive: true });
      server.listen(port, host);
      await once(server, 'listening');
      return server.address() as AddressInfo;
    },
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    activeCalls: () => active,
  };
}
