import { describe, expect, it } from 'vitest';
import { WAV_HEADER_BYTES } from '../../common/wav.js';
import {
  isCompletedUpload,
  isSinglePut,
  MIN_PART_BYTES,
  multipartEtag,
  partAudioEnd,
  partRange,
  RecordingUpload,
  type RecordingUploadOptions,
  wavPartCount,
} from '../src/upload.js';

const MIB = 1024 * 1024;

describe('the parts of a recording', () => {
  it('puts the 44-byte header at the start of part 1, so each part ends 44 bytes earlier in the audio', () => {
    expect(partAudioEnd(1, MIN_PART_BYTES)).toBe(5 * MIB - WAV_HEADER_BYTES);
    expect(partAudioEnd(2, MIN_PART_BYTES)).toBe(10 * MIB - WAV_HEADER_BYTES);
  });

  it('cuts the WAV into whole parts and a shorter last one', () => {
    const wavBytes = 12 * MIB;
    expect([1, 2, 3].map((part) => partRange(part, wavBytes, MIN_PART_BYTES))).toEqual([
      { start: 0, length: 5 * MIB },
      { start: 5 * MIB, length: 5 * MIB },
      { start: 10 * MIB, length: 2 * MIB },
    ]);
  });

  it('stores a call that never filled part 2 in one PutObject, and a longer one in as many parts as it takes', () => {
    const fillsPart2 = partAudioEnd(2, MIN_PART_BYTES);
    expect(wavPartCount(0, MIN_PART_BYTES)).toBe(1);
    // 5 MiB and more of audio, below 10 MiB of WAV: still one PUT (S3 takes up to 5 GiB in one).
    expect(wavPartCount(fillsPart2 - 1, MIN_PART_BYTES)).toBe(1);
    expect(wavPartCount(fillsPart2, MIN_PART_BYTES)).toBe(2);
    expect(wavPartCount(fillsPart2 + 1, MIN_PART_BYTES)).toBe(3);
    // Two hours at 16 kHz: 230.4 MB of audio.
    expect(wavPartCount(7200 * 32_000, MIN_PART_BYTES)).toBe(44);
  });

  it('refuses a part size that leaves no room for audio beside the header', () => {
    const options = { partSizeBytes: WAV_HEADER_BYTES } as RecordingUploadOptions;
    expect(() => new RecordingUpload(options)).toThrow(/part size must exceed the 44-byte header, got 44/);
  });
});

// Two parts whose bodies are "first part" and "second part"; the expected multipart ETag was
// computed apart from the code: printf '550c…920b…' | xxd -r -p | md5sum.
const parts = [
  { PartNumber: 1, ETag: '"550cf6b6e60f65a0e3104a26e70fea42"' },
  { PartNumber: 2, ETag: '"920b914bca0a70780b40881b8f376135"' },
];
const OUR_ETAG = '"2f2f82eceacf5bd0ac5d7c3d3d388849-2"';

describe('after a 412 or a lost answer: is the stored object our own upload?', () => {
  it("computes S3's multipart ETag: the MD5 of the parts' MD5s, then the part count", () => {
    expect(multipartEtag(parts)).toBe('2f2f82eceacf5bd0ac5d7c3d3d388849-2');
  });

  it('takes an object of our size with the ETag of exactly our parts as ours, however S3 quotes or cases it', () => {
    expect(isCompletedUpload({ Size: 1000, ETag: OUR_ETAG }, parts, 1000)).toBe(true);
    expect(isCompletedUpload({ Size: 1000, ETag: OUR_ETAG.toUpperCase() }, parts, 1000)).toBe(true);
  });

  it('takes a recording another connection stored as not ours: other parts, another size, or none', () => {
    const otherParts = [...parts.slice(0, 1), { PartNumber: 2, ETag: '"00000000000000000000000000000000"' }];
    expect(isCompletedUpload({ Size: 1000, ETag: OUR_ETAG }, otherParts, 1000)).toBe(false);
    expect(isCompletedUpload({ Size: 1000, ETag: OUR_ETAG }, parts.slice(0, 1), 1000)).toBe(false);
    expect(isCompletedUpload({ Size: 999, ETag: OUR_ETAG }, parts, 1000)).toBe(false);
    expect(isCompletedUpload(undefined, parts, 1000)).toBe(false);
  });

  it('judges by size alone on a server that gives a whole-object MD5 for multipart objects', () => {
    expect(isCompletedUpload({ Size: 1000, ETag: '"0123456789abcdef0123456789abcdef"' }, parts, 1000)).toBe(
      true,
    );
    expect(isCompletedUpload({ Size: 998, ETag: '"0123456789abcdef0123456789abcdef"' }, parts, 1000)).toBe(
      false,
    );
  });

  it('takes a single PUT as ours only when its ETag is our body MD5 and its size ours', () => {
    const md5 = '550cf6b6e60f65a0e3104a26e70fea42';
    expect(isSinglePut({ Size: 10, ETag: `"${md5}"` }, 10, md5)).toBe(true);
    expect(isSinglePut({ Size: 10, ETag: '"920b914bca0a70780b40881b8f376135"' }, 10, md5)).toBe(false);
    expect(isSinglePut({ Size: 11, ETag: `"${md5}"` }, 10, md5)).toBe(false);
    expect(isSinglePut(undefined, 10, md5)).toBe(false);
    // Under SSE-KMS S3's ETag is no MD5 of the body: never taken as ours.
    expect(isSinglePut({ Size: 10, ETag: '"a1b2c3"' }, 10, md5)).toBe(false);
  });
});
