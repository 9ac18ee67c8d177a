// Ed25519 keys through WebCrypto. A key is its 32-byte seed (what the CLI and the devnet call
// a private key), imported as PKCS#8; the seed never leaves the browser.

import { concat, fromHex, toHex } from './hex.js';
import { addressOf } from './tx.js';

// DER of PKCS#8 PrivateKeyInfo for Ed25519 (RFC 8410) up to the 32-byte seed.
const PKCS8_PREFIX = fromHex('0x302e020100300506032b657004220420');
const ALGORITHM = { name: 'Ed25519' };

function base64UrlDecode(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

let support; // a promise of {ok, reason}, computed once

/**
 * Whether this browser can sign with Ed25519 here: `{ok: true}` or `{ok: false, reason}`
 * (WebCrypto exists only in secure contexts, and older browsers lack Ed25519).
 */
export function ed25519Support() {
  if (!support) {
    support = (async () => {
      if (!globalThis.isSecureContext) {
        return { ok: false, reason: 'This page is not a secure context, so the browser offers no WebCrypto. Open the console over https, or over http at localhost or 127.0.0.1.' };
      }
      if (!globalThis.crypto || !crypto.subtle) {
        return { ok: false, reason: 'This browser offers no WebCrypto (crypto.subtle).' };
      }
      try {
        const key = await importSeed(new Uint8Array(32));
        await key.sign(new Uint8Array(1));
        return { ok: true };
      } catch (e) {
        return { ok: false, reason: 'This browser cannot sign with Ed25519 through WebCrypto (it needs Chromium 137 or later, Firefox 129 or later, or Safari 17 or later).' };
      }
    })();
  }
  return support;
}

/**
 * The key with this 32-byte seed: {publicKey (32 bytes), address (0x-hex), sign(message)}.
 * The signing key itself is not extractable.
 */
export async function importSeed(seed) {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new Error('a seed is 32 bytes');
  const pkcs8 = concat(PKCS8_PREFIX, seed);
  // Imported once extractable, only to read the public key out of its JWK.
  const readable = await crypto.subtle.importKey('pkcs8', pkcs8, ALGORITHM, true, ['sign']);
  const jwk = await crypto.subtle.exportKey('jwk', readable);
  const publicKey = base64UrlDecode(jwk.x);
  if (publicKey.length !== 32) throw new Error('the browser returned a malformed public key');
  const signing = await crypto.subtle.importKey('pkcs8', pkcs8, ALGORITHM, false, ['sign']);
  return {
    publicKey,
    publicKeyHex: toHex(publicKey),
    address: addressOf(publicKey),
    async sign(message) {
      return new Uint8Array(await crypto.subtle.sign(ALGORITHM, signing, message));
    },
  };
}

/** 32 fresh random bytes for a new key. */
export function randomSeed() {
  return crypto.getRandomValues(new Uint8Array(32));
}
