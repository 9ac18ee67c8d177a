// The national algorithms of the sm2-sm3 crypto suite: SM3 hashing (GB/T 32905) and SM2
// signatures (GB/T 32918.2) on the recommended curve, through the vendored sm-crypto-v2 (see
// /console/vendor/README.md), byte for byte as crates/primitives/src/sm.rs has them:
//
// - a secret key is a 32-byte big-endian scalar d with 1 <= d <= n-2 (n the group's order;
//   n-1 cannot sign, since 1 + d must be invertible);
// - its public key is the 33-byte compressed SEC1 point (02 or 03, then x);
// - a signature is r ‖ s, 64 bytes (each 32 bytes big-endian, not DER), over
//   SM3(Z_A ‖ message), Z_A computed with the default user id "1234567812345678".
//
// Loaded only on sm2-sm3 chains (js/suite.js imports it when the chain says so).

import { sm2, sm3 as sm3Hex } from '../vendor/sm-crypto-v2-1.15.1/index.mjs';
import { fromHex, toHex } from './hex.js';
import { addressOf } from './tx.js';

/** The user id of GM/T 0009-2012 for parties that agreed on none; it enters Z_A. */
export const DEFAULT_USER_ID = '1234567812345678';
/** The order of the curve's group. */
const N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;

const bare = (bytes) => toHex(bytes).slice(2);

/** SM3 of `bytes` (a Uint8Array), 32 bytes. */
export function sm3(bytes) {
  if (!(bytes instanceof Uint8Array)) throw new Error('SM3 takes bytes');
  return fromHex(`0x${sm3Hex(bytes)}`);
}

/** Whether `bytes` (32) is a usable SM2 secret key: 1 <= d <= n-2. */
export function isSecretKey(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) return false;
  const d = BigInt(toHex(bytes));
  return d >= 1n && d <= N - 2n;
}

/** 32 fresh random bytes that make a usable SM2 secret key. */
export function randomSecretKey() {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    if (isSecretKey(bytes)) return bytes;
  }
}

/** The compressed (33-byte) public key of an uncompressed one given as 04 ‖ x ‖ y hex. */
function compress(uncompressedHex) {
  if (!/^04[0-9a-f]{128}$/.test(uncompressedHex)) throw new Error('the SM2 library returned a malformed public key');
  return fromHex(`0x${sm2.compressPublicKeyHex(uncompressedHex)}`);
}

/**
 * The key with this 32-byte secret: {publicKey (33 bytes), publicKeyHex, address (0x-hex),
 * sign(message)}, like js/keys.js's importSeed for Ed25519.
 */
export async function importSecretKey(secret) {
  if (!(secret instanceof Uint8Array) || secret.length !== 32) throw new Error('an SM2 secret key is 32 bytes');
  if (!isSecretKey(secret)) throw new Error('this is not a usable SM2 secret key (it must be a number from 1 to n-2, n the order of the SM2 curve)');
  const d = bare(secret);
  const uncompressed = sm2.getPublicKeyFromPrivateKey(d);
  const publicKey = compress(uncompressed);
  return {
    publicKey,
    publicKeyHex: toHex(publicKey),
    address: addressOf(publicKey, sm3), // the last 20 bytes of SM3(compressed key)
    async sign(message) {
      return sign(d, uncompressed, message);
    },
  };
}

function sign(d, uncompressed, message) {
  if (!(message instanceof Uint8Array)) throw new Error('a message to sign is bytes');
  // hash: SM3(Z_A ‖ message); der: false gives r ‖ s as 128 hex digits.
  const signature = sm2.doSignature(message, d, {
    hash: true, der: false, publicKey: uncompressed, userId: DEFAULT_USER_ID,
  });
  if (!/^[0-9a-f]{128}$/.test(signature)) throw new Error('the SM2 library returned a malformed signature');
  return fromHex(`0x${signature}`);
}

/**
 * Whether `signature` (64 bytes, r ‖ s) is an SM2 signature of `message` by `publicKey` (33
 * or 65 bytes SEC1), under the default user id. Strict as the node is: r and s in [1, n-1].
 */
export function verify(publicKey, message, signature) {
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
  const r = BigInt(toHex(signature.subarray(0, 32)));
  const s = BigInt(toHex(signature.subarray(32)));
  if (r < 1n || r >= N || s < 1n || s >= N) return false;
  try {
    return sm2.doVerifySignature(message, bare(signature), bare(publicKey), {
      hash: true, der: false, userId: DEFAULT_USER_ID,
    });
  } catch {
    return false; // not a point of the curve
  }
}
