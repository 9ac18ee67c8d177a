// The wallet's keys, kept in this browser's localStorage under "cairn.wallet" and nowhere
// else: {"version": 1, "keys": [{"seed": "0x…", "address": "0x…", "added_ms": n}],
// "current": "0x…address"}. Seeds are never sent to the node. A "seed" is the key's 32 bytes
// under either crypto suite (an Ed25519 seed, or an SM2 secret key on an sm2-sm3 chain); the
// wallet page derives each address anew with the chain's suite.
//
// Reading is lenient (a bare seed string or an array of seeds, as someone may have put there
// by hand, is taken too); writing always uses the shape above.

import { isHexOf } from './hex.js';

const KEY = 'cairn.wallet';

function storage() {
  try {
    return globalThis.localStorage || null;
  } catch {
    return null; // storage disabled (some privacy settings throw on access)
  }
}

/** Whether keys can be kept in this browser. */
export function storageAvailable() {
  const store = storage();
  if (!store) return false;
  try {
    store.setItem(`${KEY}.probe`, '1');
    store.removeItem(`${KEY}.probe`);
    return true;
  } catch {
    return false;
  }
}

function normalise(entry) {
  if (typeof entry === 'string') entry = { seed: entry };
  if (!entry || typeof entry !== 'object' || !isHexOf(entry.seed, 32)) return null;
  return {
    seed: entry.seed.toLowerCase(),
    address: typeof entry.address === 'string' && isHexOf(entry.address, 20) ? entry.address.toLowerCase() : null,
    added_ms: Number.isSafeInteger(entry.added_ms) ? entry.added_ms : 0,
  };
}

function parse(raw) {
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = raw.trim(); // a bare seed
  }
  let entries;
  if (typeof parsed === 'string') entries = [parsed];
  else if (Array.isArray(parsed)) entries = parsed;
  else if (parsed && Array.isArray(parsed.keys)) entries = parsed.keys;
  else entries = null;
  const keys = [];
  for (const entry of entries || []) {
    const key = normalise(entry);
    if (key && !keys.some((k) => k.seed === key.seed)) keys.push(key);
  }
  const current = parsed && typeof parsed.current === 'string' ? parsed.current.toLowerCase() : null;
  // Lossy: something is stored that this console cannot read back in full.
  const lossy = entries === null || entries.some((entry) => !normalise(entry));
  return { keys, current, lossy };
}

function read() {
  const store = storage();
  if (!store) return null;
  try {
    return store.getItem(KEY);
  } catch {
    return null;
  }
}

/**
 * The stored wallet: {keys: [{seed, address|null, added_ms}], current: address|null, lossy}.
 * `lossy` says part of what is stored could not be read (it is backed up before any save).
 */
export function load() {
  const raw = read();
  if (!raw) return { keys: [], current: null, lossy: false };
  return parse(raw);
}

/**
 * Stores the wallet; throws if the browser refuses. Stored data this console could not read
 * (a damaged entry, a format of some later version) is first copied to
 * "cairn.wallet.backup-<ms>", so saving never destroys a key.
 */
export function save(wallet) {
  const store = storage();
  if (!store) throw new Error('This browser does not let the console keep keys (local storage is disabled).');
  const before = read();
  if (before && parse(before).lossy) store.setItem(`${KEY}.backup-${Date.now()}`, before);
  store.setItem(KEY, JSON.stringify({ version: 1, keys: wallet.keys, current: wallet.current }));
}
