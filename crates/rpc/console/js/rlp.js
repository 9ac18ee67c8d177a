// Recursive Length Prefix encoding (Ethereum's Yellow Paper, appendix B).
//
// Encoding takes Uint8Array (a byte string), BigInt or safe integer (an unsigned integer,
// minimal big-endian, so 0 is the empty string 0x80) and arrays (lists).
// Decoding is strict: only the one canonical encoding of a value is accepted (no leading
// zeros in lengths, no long form for short payloads, no single byte below 0x80 wrapped in a
// header), every length is checked against the input, and trailing bytes are refused.

import { bigToBytes, concat } from './hex.js';

function header(short, length) {
  if (length < 56) return Uint8Array.of(short + length);
  const len = bigToBytes(BigInt(length));
  return concat(Uint8Array.of(short + 55 + len.length), len);
}

/** The RLP encoding of `item`. */
export function encode(item) {
  if (item instanceof Uint8Array) {
    if (item.length === 1 && item[0] < 0x80) return Uint8Array.of(item[0]);
    return concat(header(0x80, item.length), item);
  }
  if (Array.isArray(item)) {
    const payload = concat(...item.map(encode));
    return concat(header(0xc0, payload.length), payload);
  }
  if (typeof item === 'bigint' || (typeof item === 'number' && Number.isSafeInteger(item))) {
    if (item < 0) throw new Error('RLP integers are unsigned');
    return encode(bigToBytes(BigInt(item)));
  }
  throw new Error(`cannot RLP-encode ${typeof item}`);
}

function readLength(bytes, at, count) {
  if (at + count > bytes.length) throw new Error('RLP length runs past the end of the input');
  if (bytes[at] === 0) throw new Error('RLP length has a leading zero');
  if (count > 6) throw new Error('RLP length too large');
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + bytes[at + i];
  if (length < 56) throw new Error('RLP long form used for a short payload');
  return length;
}

/**
 * One item starting at `offset`: `{list, payload, raw, end}`, where `payload` and `raw` (the
 * item with its header) are views into `bytes` and `end` is the offset after the item.
 */
export function decodeItem(bytes, offset = 0) {
  if (offset >= bytes.length) throw new Error('RLP input ends where an item was expected');
  const first = bytes[offset];
  let list = false;
  let start;
  let length;
  if (first < 0x80) {
    start = offset;
    length = 1;
  } else if (first <= 0xb7) {
    start = offset + 1;
    length = first - 0x80;
    if (length === 1 && start < bytes.length && bytes[start] < 0x80) {
      throw new Error('RLP single byte below 0x80 must not have a header');
    }
  } else if (first <= 0xbf) {
    const count = first - 0xb7;
    length = readLength(bytes, offset + 1, count);
    start = offset + 1 + count;
  } else if (first <= 0xf7) {
    list = true;
    start = offset + 1;
    length = first - 0xc0;
  } else {
    list = true;
    const count = first - 0xf7;
    length = readLength(bytes, offset + 1, count);
    start = offset + 1 + count;
  }
  const end = start + length;
  if (end > bytes.length) throw new Error('RLP item runs past the end of the input');
  return {
    list,
    payload: bytes.subarray(start, end),
    raw: bytes.subarray(offset, end),
    end,
  };
}

/** The items of a list payload, shallow (each `{list, payload, raw}`). */
export function splitList(payload) {
  const items = [];
  let at = 0;
  while (at < payload.length) {
    const item = decodeItem(payload, at);
    items.push(item);
    at = item.end;
  }
  return items;
}

/** `bytes` as exactly one RLP list: its items, shallow. */
export function decodeList(bytes) {
  const item = decodeItem(bytes, 0);
  if (item.end !== bytes.length) throw new Error('bytes trail the RLP item');
  if (!item.list) throw new Error('expected an RLP list, found a string');
  return splitList(item.payload);
}

/** `bytes` as exactly one RLP item, decoded fully: Uint8Array for strings, arrays for lists. */
export function decode(bytes) {
  const item = decodeItem(bytes, 0);
  if (item.end !== bytes.length) throw new Error('bytes trail the RLP item');
  return deep(item);
}

function deep(item) {
  return item.list ? splitList(item.payload).map(deep) : item.payload;
}

/**
 * A decoded string item as an unsigned integer of at most `bits` bits, refusing leading
 * zeros (RLP integers are minimal).
 */
export function toUint(item, bits, what = 'integer') {
  if (item.list) throw new Error(`${what} is a list, expected an integer`);
  const bytes = item.payload;
  if (bytes.length > 0 && bytes[0] === 0) throw new Error(`${what} has a leading zero byte`);
  if (bytes.length * 8 > bits) throw new Error(`${what} is wider than ${bits} bits`);
  let n = 0n;
  for (const byte of bytes) n = (n << 8n) | BigInt(byte);
  return n;
}
