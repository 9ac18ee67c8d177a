// The chain's crypto suite, chosen at genesis and named by GET /v1/status as "crypto":
//
// - "ed25519-keccak": Ed25519 signatures (through the browser's WebCrypto, js/keys.js) and
//   keccak-256 for addresses, transaction hashes and the state trie;
// - "sm2-sm3": SM2 signatures and SM3 for all of these (js/sm.js, the vendored
//   sm-crypto-v2), loaded only on such a chain.
//
// A node that names no suite is on ed25519-keccak. A key is 32 bytes either way (an Ed25519
// seed, or an SM2 scalar): the wallet derives it with the chain's suite, whatever chain it was
// made on. The transaction encodings and signing messages are the same under both.

import { get } from './api.js';
import { keccak256 } from './keccak.js';
import { ed25519Support, importSeed, randomSeed } from './keys.js';
import { addressOf } from './tx.js';

export const ED25519_KECCAK = 'ed25519-keccak';
export const SM2_SM3 = 'sm2-sm3';

const ed25519Keccak = Object.freeze({
  name: ED25519_KECCAK,
  signing: 'Ed25519',
  hashName: 'keccak-256',
  keyName: 'seed',
  hash: keccak256,
  addressOf: (publicKey) => addressOf(publicKey),
  support: ed25519Support,
  importKey: importSeed,
  randomKey: randomSeed,
  isKey: (bytes) => bytes instanceof Uint8Array && bytes.length === 32,
});

let smSuite; // a promise of the sm2-sm3 suite, made once

function sm2Sm3() {
  if (!smSuite) {
    smSuite = import('./sm.js').then((sm) => Object.freeze({
      name: SM2_SM3,
      signing: 'SM2',
      hashName: 'SM3',
      keyName: 'secret key',
      hash: sm.sm3,
      addressOf: (publicKey) => addressOf(publicKey, sm.sm3),
      async support() {
        if (!globalThis.crypto || typeof crypto.getRandomValues !== 'function') {
          return { ok: false, reason: 'This browser offers no secure random numbers (crypto.getRandomValues), which SM2 signing needs.' };
        }
        return { ok: true };
      },
      importKey: sm.importSecretKey,
      randomKey: sm.randomSecretKey,
      isKey: sm.isSecretKey,
    }));
    smSuite.catch(() => {
      smSuite = undefined; // a failed load is tried again next time
    });
  }
  return smSuite;
}

/**
 * The suite called `name` (as /v1/status gives it; undefined or null for ed25519-keccak):
 * a promise of {name, signing, hashName, keyName, hash(bytes), addressOf(publicKey),
 * support(), importKey(bytes), randomKey(), isKey(bytes)}. Rejects for a suite this console
 * does not know.
 */
export async function suiteNamed(name) {
  if (name === undefined || name === null || name === ED25519_KECCAK) return ed25519Keccak;
  if (name === SM2_SM3) return sm2Sm3();
  throw new Error(`this node's chain uses the crypto suite ${JSON.stringify(String(name))}, which this console does not know`);
}

let chainName; // a promise of the chain's suite name, asked once

/**
 * The suite of the chain this node serves (see suiteNamed). The node is asked once; a failed
 * question is asked again next time.
 */
export function chainSuite() {
  if (!chainName) {
    chainName = get('/v1/status').then((status) => (status && typeof status === 'object' ? status.crypto : undefined));
    chainName.catch(() => {
      chainName = undefined;
    });
  }
  return chainName.then(suiteNamed);
}
