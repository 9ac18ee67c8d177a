// keccak256 as Ethereum (and Cairn) uses it: the original Keccak padding, not NIST SHA3-256.
// The vendored @noble/hashes implementation does the work (see /console/vendor/README.md).

import { keccak_256 } from '../vendor/noble-hashes-1.8.0/sha3.js';

/** keccak256 of `bytes` (a Uint8Array), 32 bytes. */
export function keccak256(bytes) {
  return keccak_256(bytes);
}
