// Bytes, hex strings and big integers. Every parser here is strict and throws an Error whose
// message can be shown to a person as is; nothing here trusts its input.

const HEX = /^[0-9a-fA-F]*$/;

/** "0x…" lowercase hex of `bytes`. */
export function toHex(bytes) {
  let out = '0x';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

/**
 * The bytes of a "0x"-prefixed hex string. With `length`, exactly that many bytes are
 * required. `what` names the value in error messages.
 */
export function fromHex(text, { length, what = 'value' } = {}) {
  if (typeof text !== 'string') throw new Error(`${what} is not a string`);
  if (!/^0[xX]/.test(text)) throw new Error(`${what} does not start with 0x`);
  const digits = text.slice(2);
  if (!HEX.test(digits)) throw new Error(`${what} holds characters that are not hex digits`);
  if (digits.length % 2 !== 0) throw new Error(`${what} has an odd number of hex digits`);
  if (length !== undefined && digits.length !== 2 * length) {
    throw new Error(`${what} is not ${length} bytes (0x + ${2 * length} hex digits)`);
  }
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.substr(2 * i, 2), 16);
  return out;
}

/** Whether `text` is 0x + exactly 2*`length` hex digits. */
export function isHexOf(text, length) {
  return typeof text === 'string' && text.length === 2 + 2 * length && /^0[xX]/.test(text) &&
    HEX.test(text.slice(2));
}

export const isAddress = (text) => isHexOf(text, 20);
export const isHash = (text) => isHexOf(text, 32);

/** Concatenation of byte arrays. */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Whether two byte arrays hold the same bytes. */
export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Minimal big-endian bytes of a non-negative integer (0 gives no bytes, as RLP wants). */
export function bigToBytes(value) {
  let n = BigInt(value);
  if (n < 0n) throw new Error('negative integer');
  const out = [];
  while (n > 0n) {
    out.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  return Uint8Array.from(out);
}

/** `value` as exactly `length` big-endian bytes of its two's complement (for i128 fields). */
export function signedToBytes(value, length) {
  const bits = BigInt(8 * length);
  let n = BigInt(value);
  const min = -(1n << (bits - 1n));
  const max = (1n << (bits - 1n)) - 1n;
  if (n < min || n > max) throw new Error(`${value} does not fit in ${length} bytes`);
  if (n < 0n) n += 1n << bits;
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

const utf8Encoder = new TextEncoder();
/** UTF-8 bytes of a string. */
export const utf8 = (text) => utf8Encoder.encode(text);

/** Digits only, no sign, no leading zeros unless "0": a decimal u-integer as the API writes it. */
export function isDecimalDigits(text) {
  return typeof text === 'string' && /^(0|[1-9][0-9]*)$/.test(text);
}

/** A decimal string (digits only) as a BigInt below 2^`bits`; throws a readable Error. */
export function parseUnsigned(text, bits, what = 'value') {
  if (typeof text !== 'string' || !/^[0-9]+$/.test(text)) {
    throw new Error(`${what} must be digits only (0-9)`);
  }
  const n = BigInt(text);
  if (n >= 1n << BigInt(bits)) throw new Error(`${what} must be below 2^${bits}`);
  return n;
}
