import { createHash } from 'node:crypto';

/**
 * Websocket framing for the lean load generator (RFC 6455 §5), done once ahead of time so that
 * sending a frame costs one `socket.write` of a slice and nothing else.
 *
 * A client must mask every frame it sends (§5.3). The key here is fixed, and its four bytes are
 * equal, so a payload masks the same at any offset: the whole looped source is masked once, and
 * the server still unmasks every byte as it would with a random key.
 */
export const MASK_KEY = Buffer.from([0x5a, 0x5a, 0x5a, 0x5a]);

const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;

/** A final frame's header with the mask bit and key: 2 bytes, the extended length, 4 mask bytes. */
export function frameHeader(opcode: number, payloadLength: number): Buffer {
  const extended = payloadLength < 126 ? 0 : payloadLength < 65536 ? 2 : 8;
  const header = Buffer.alloc(2 + extended + 4);
  header[0] = 0x80 | opcode;
  if (extended === 0) header[1] = 0x80 | payloadLength;
  else if (extended === 2) {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(payloadLength, 2);
  } else {
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(payloadLength), 2);
  }
  MASK_KEY.copy(header, 2 + extended);
  return header;
}

function masked(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i += 1) out[i] = (payload[i] as number) ^ (MASK_KEY[0] as number);
  return out;
}

/** One whole masked frame (text, ping or close), built when it is needed: these are rare. */
export function maskedFrame(opcode: number, payload: Buffer): Buffer {
  return Buffer.concat([frameHeader(opcode, payload.length), masked(payload)]);
}

export const textFrame = (text: string): Buffer => maskedFrame(OPCODE_TEXT, Buffer.from(text, 'utf8'));
export const pingFrame = (payload: Buffer): Buffer => maskedFrame(OPCODE_PING, payload);

export function closeFrame(code: number, reason: string): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2, 'utf8');
  return maskedFrame(OPCODE_CLOSE, payload);
}

/**
 * Every frame of a looped PCM source, framed and masked back to back, with the first
 * `framesPerWrite - 1` frames repeated at the end: any run of `framesPerWrite` frames, from any
 * frame of the loop, is then one contiguous slice (`slice(first)`).
 */
export class FramedSource {
  readonly frames: number;
  readonly framedBytes: number;
  readonly #buffer: Buffer;

  constructor(
    pcm: Buffer,
    readonly frameSize: number,
    readonly framesPerWrite: number,
  ) {
    if (!Number.isInteger(framesPerWrite) || framesPerWrite < 1) {
      throw new RangeError(`frames per write must be a whole number ≥ 1, got ${framesPerWrite}`);
    }
    if (pcm.length < frameSize || pcm.length % frameSize !== 0) {
      throw new RangeError(`source PCM must be whole ${frameSize}-byte frames, got ${pcm.length} bytes`);
    }
    this.frames = pcm.length / frameSize;
    const header = frameHeader(OPCODE_BINARY, frameSize);
    this.framedBytes = header.length + frameSize;
    const total = this.frames + framesPerWrite - 1;
    this.#buffer = Buffer.allocUnsafe(total * this.framedBytes);
    const maskedPcm = masked(pcm);
    for (let i = 0; i < total; i += 1) {
      const at = i * this.framedBytes;
      header.copy(this.#buffer, at);
      const from = (i % this.frames) * frameSize;
      maskedPcm.copy(this.#buffer, at + header.length, from, from + frameSize);
    }
  }

  /** `count` (≤ framesPerWrite) consecutive frames of the loop from frame `first`, ready to write. */
  slice(first: number, count = this.framesPerWrite): Buffer {
    const start = (first % this.frames) * this.framedBytes;
    return this.#buffer.subarray(start, start + count * this.framedBytes);
  }
}

/** The HTTP/1.1 upgrade request (RFC 6455 §4.1) and the `Sec-WebSocket-Accept` it must be answered with. */
export function upgradeRequest(host: string, path: string, key: string): { request: string; accept: string } {
  const request =
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  return { request, accept };
}

/** What the server sent that the generator cares about. */
export type ServerFrame =
  | { readonly kind: 'pong'; readonly payload: Buffer }
  | { readonly kind: 'close'; readonly code: number; readonly reason: string }
  | { readonly kind: 'other' };

/**
 * Splits the server's byte stream into frames (servers do not mask, §5.1). Pongs and the close
 * frame are reported; text, binary and pings are skipped (a ping needs no answer in a benchmark
 * that ends long before a heartbeat would give up).
 */
export class ServerFrameReader {
  #pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): ServerFrame[] {
    let data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const frames: ServerFrame[] = [];
    for (;;) {
      if (data.length < 2) break;
      const opcode = (data[0] as number) & 0x0f;
      let length = (data[1] as number) & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (data.length < 4) break;
        length = data.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (data.length < 10) break;
        length = Number(data.readBigUInt64BE(2));
        offset = 10;
      }
      if (data.length < offset + length) break;
      const payload = data.subarray(offset, offset + length);
      if (opcode === OPCODE_PONG) frames.push({ kind: 'pong', payload: Buffer.from(payload) });
      else if (opcode === OPCODE_CLOSE) {
        frames.push({
          kind: 'close',
          code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005,
          reason: payload.subarray(2).toString('utf8'),
        });
      } else frames.push({ kind: 'other' });
      data = data.subarray(offset + length);
    }
    this.#pending = data.length === 0 ? Buffer.alloc(0) : Buffer.from(data);
    return frames;
  }
}
