// Merkle Patricia Trie proofs (EIP-1186, as /v1/accounts/{a}?proof=true and the ACS record
// endpoint return them), checked in the browser so a reader trusts the state root alone, not
// the node that served the proof.
//
// A proof is the list of RLP trie nodes on the key's path, root first. The walk starts from
// the state root: every node must hash to the reference its parent holds (the root to the
// state root), nodes under 32 bytes are embedded in their parent instead of listed, and the
// path is the nibbles of keccak256(key). The walk ends at the value (a leaf whose path is the
// rest of the key), or proves absence (an empty branch slot, or an extension or leaf that
// leaves the key's path). Nodes left over after the end are refused, so the list has one
// reading only. Soundness rests on keccak256: each node walked is the preimage of the
// reference that led to it.
//
// On a chain of the sm2-sm3 suite the same nodes are linked by SM3 instead: every function
// here takes the chain suite's hash as `hash` (keccak256 unless given; js/suite.js has it),
// and uses it for node references, secure keys, the empty root and storage slots alike.
//
// Every function here returns {ok: false, reason} for bad input instead of throwing.

import { concat, equalBytes, fromHex, isAddress, toHex, utf8 } from './hex.js';
import { keccak256 } from './keccak.js';
import { decodeItem, decodeList, toUint } from './rlp.js';
import { parseDecimal } from './decimal.js';

/** keccak256 of the RLP empty string: the root of the empty trie. */
export const EMPTY_ROOT = '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421';

/** The root of the empty trie under `hash`: the hash of the RLP empty string, 0x-hex. */
export function emptyRoot(hash = keccak256) {
  return hash === keccak256 ? EMPTY_ROOT : toHex(hash(Uint8Array.of(0x80)));
}
/** Most nodes a proof may hold: a 64-nibble path has at most 64 branches and a leaf. */
const MAX_PROOF_NODES = 130;

class ProofFailure extends Error {}
const fail = (reason) => {
  throw new ProofFailure(reason);
};

function nibblesOf(bytes) {
  const out = new Uint8Array(bytes.length * 2);
  bytes.forEach((byte, i) => {
    out[2 * i] = byte >> 4;
    out[2 * i + 1] = byte & 0x0f;
  });
  return out;
}

/** Decodes a hex-prefix path: {leaf, nibbles}. */
function hexPrefix(encoded, where) {
  if (encoded.length === 0) fail(`${where}: empty path`);
  const flag = encoded[0] >> 4;
  if (flag > 3) fail(`${where}: invalid hex-prefix flag ${flag}`);
  const odd = (flag & 1) === 1;
  if (!odd && (encoded[0] & 0x0f) !== 0) fail(`${where}: non-zero hex-prefix padding`);
  const all = nibblesOf(encoded);
  return { leaf: (flag & 2) === 2, nibbles: all.subarray(odd ? 1 : 2) };
}

/** A child slot: {empty}, {hash}, or {inline} for an embedded node. */
function childRef(item, where) {
  if (item.list) {
    if (item.raw.length >= 32) fail(`${where}: embedded node of ${item.raw.length} bytes (32 or more are referenced by hash)`);
    return { inline: item.raw };
  }
  if (item.payload.length === 0) return { empty: true };
  if (item.payload.length === 32) return { hash: item.payload };
  fail(`${where}: child reference of ${item.payload.length} bytes (expected empty or a 32-byte hash)`);
}

/**
 * Walks `proof` (Uint8Arrays) for `key` from `root` (32 bytes), nodes referenced by `hash`.
 * Returns the value the key maps to, or null for a proof of absence; throws ProofFailure with
 * the reason otherwise.
 */
function walk(root, key, proof, hash) {
  if (typeof hash !== 'function') fail('no hash function to check the proof with');
  const path = nibblesOf(key);
  if (proof.length === 0) {
    if (toHex(root) === emptyRoot(hash)) return null;
    fail('the proof is empty but the root is not the empty trie');
  }
  let index = 0; // next proof node to use
  let pos = 0; // nibbles of the path consumed
  let ref = { hash: root };
  let where = '';
  const finish = (value) => {
    if (index < proof.length) {
      fail(`the key's path ends at proof node ${index - 1}, but the proof has ${proof.length - index} more node(s): it is not a proof for this key (address)`);
    }
    return value;
  };
  for (;;) {
    let node;
    if (ref.hash) {
      if (index >= proof.length) {
        fail(`the proof ends after ${index} node(s) but the path goes on to node ${toHex(ref.hash)}`);
      }
      node = proof[index];
      if (!equalBytes(hash(node), ref.hash)) {
        fail(index === 0
          ? 'the first proof node does not hash to the state root'
          : `proof node ${index} does not hash to the reference in node ${index - 1}`);
      }
      if (index > 0 && node.length < 32) {
        fail(`proof node ${index} is ${node.length} bytes but referenced by hash (such nodes are embedded)`);
      }
      where = `proof node ${index}`;
      index += 1;
      if (index === 1 && node.length === 1 && node[0] === 0x80) return finish(null); // empty trie
    } else {
      node = ref.inline;
      where = `${where} (embedded)`;
    }
    let items;
    try {
      items = decodeList(node);
    } catch (e) {
      fail(`${where} is not an RLP list: ${e.message}`);
    }
    if (items.length === 17) {
      if (pos === path.length) {
        const slot = items[16];
        if (slot.list) fail(`${where}: branch value is a list`);
        return finish(slot.payload.length ? slot.payload : null);
      }
      ref = childRef(items[path[pos]], where);
      pos += 1;
      if (ref.empty) return finish(null);
    } else if (items.length === 2) {
      if (items[0].list) fail(`${where}: path is a list`);
      const { leaf, nibbles } = hexPrefix(items[0].payload, where);
      const rest = path.subarray(pos);
      if (leaf) {
        if (items[1].list) fail(`${where}: leaf value is a list`);
        const same = equalBytes(nibbles, rest);
        return finish(same && items[1].payload.length ? items[1].payload : null);
      }
      if (nibbles.length === 0) fail(`${where}: extension with an empty path`);
      if (nibbles.length > rest.length || !equalBytes(nibbles, rest.subarray(0, nibbles.length))) {
        return finish(null); // the extension leaves the key's path
      }
      pos += nibbles.length;
      ref = childRef(items[1], where);
      if (ref.empty) fail(`${where}: extension without a child`);
    } else {
      fail(`${where} has ${items.length} items, expected 2 or 17`);
    }
  }
}

function parseProof(proof) {
  if (!Array.isArray(proof)) fail('the proof is not a list of hex strings');
  if (proof.length > MAX_PROOF_NODES) fail(`the proof has ${proof.length} nodes, more than any path needs`);
  return proof.map((node, i) => {
    try {
      return fromHex(node, { what: `proof node ${i}` });
    } catch (e) {
      return fail(e.message);
    }
  });
}

function parseHex(text, length, what) {
  try {
    return fromHex(text, { length, what });
  } catch (e) {
    return fail(e.message);
  }
}

/** A non-negative integer given as BigInt, safe integer or digit string. */
function asBig(value, what) {
  if (typeof value === 'bigint' && value >= 0n) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'string' && /^[0-9]+$/.test(value)) return BigInt(value);
  return fail(`${what} is not a non-negative integer`);
}

/** Decodes an account leaf: rlp([nonce, balance, storage_root, code_hash]). */
function decodeAccount(value) {
  let items;
  try {
    items = decodeList(value);
  } catch (e) {
    fail(`the account value is not an RLP list: ${e.message}`);
  }
  if (items.length !== 4) fail(`the account value has ${items.length} fields, expected 4`);
  try {
    const [nonce, balance, storageRoot, codeHash] = items;
    if (storageRoot.list || storageRoot.payload.length !== 32) throw new Error('storage root is not 32 bytes');
    if (codeHash.list || codeHash.payload.length !== 32) throw new Error('code hash is not 32 bytes');
    return {
      nonce: toUint(nonce, 64, 'nonce'),
      balance: toUint(balance, 128, 'balance'),
      storageRoot: toHex(storageRoot.payload),
      codeHash: toHex(codeHash.payload),
    };
  } catch (e) {
    return fail(`the account value is malformed: ${e.message}`);
  }
}

function guarded(check) {
  try {
    return check();
  } catch (e) {
    if (e instanceof ProofFailure) return { ok: false, reason: e.message };
    return { ok: false, reason: `unexpected error: ${e && e.message ? e.message : e}` };
  }
}

/**
 * What a proof shows for any key (raw bytes, not hashed) under `root` (hex), nodes linked by
 * `hash`: `{ok: true, value}` with the value's bytes, or null for a proof of absence; or
 * `{ok: false, reason}`.
 */
export function verifyProof({ root, key, proof, hash = keccak256 }) {
  return guarded(() => ({ ok: true, value: walk(parseHex(root, 32, 'the root'), key, parseProof(proof), hash) }));
}

/**
 * What an account proof shows: `{ok: true, account}` with the account's decoded fields, or
 * `account: null` for a proof of absence; `{ok: false, reason}` if it proves nothing.
 */
export function proveAccount({ stateRoot, address, proof, hash = keccak256 }) {
  return guarded(() => {
    const root = parseHex(stateRoot, 32, 'the state root');
    if (!isAddress(address)) fail('the address is not 0x + 40 hex digits');
    if (typeof hash !== 'function') fail('no hash function to check the proof with');
    const key = hash(fromHex(address));
    const value = walk(root, key, parseProof(proof), hash);
    return { ok: true, account: value === null ? null : decodeAccount(value) };
  });
}

/**
 * Checks that `proof` shows, under `stateRoot`, the account at `address` as `expected` says:
 * `{exists, nonce, balance}` (nonce and balance as BigInt, number or digit string). An
 * account that does not exist must be claimed with exists false and a zero nonce and balance.
 * Returns `{ok: true, account}` or `{ok: false, reason}`.
 */
export function verifyAccountProof({ stateRoot, address, proof, expected, hash = keccak256 }) {
  return guarded(() => {
    if (!expected || typeof expected !== 'object') fail('nothing to check the proof against');
    if (typeof expected.exists !== 'boolean') fail('"exists" is not true or false');
    const nonce = asBig(expected.nonce, 'the nonce');
    const balance = asBig(expected.balance, 'the balance');
    const shown = proveAccount({ stateRoot, address, proof, hash });
    if (!shown.ok) return shown;
    const account = shown.account;
    if (account === null) {
      if (expected.exists) fail('the proof shows the account does not exist, but the response says it does');
      if (nonce !== 0n || balance !== 0n) {
        fail('the proof shows the account does not exist, but the response gives it a non-zero nonce or balance');
      }
      return { ok: true, account: null };
    }
    if (!expected.exists) fail('the proof shows the account exists, but the response says it does not');
    if (account.nonce !== nonce) fail(`the proven nonce is ${account.nonce}, not ${nonce}`);
    if (account.balance !== balance) fail(`the proven balance is ${account.balance}, not ${balance}`);
    return { ok: true, account };
  });
}

/** The 32-byte storage word of a field value given as the API's hex ("0x0", "0x1a…"). */
function parseWord(text, what) {
  if (typeof text !== 'string' || !/^0x[0-9a-fA-F]{1,64}$/.test(text)) fail(`${what} is not a hex storage word`);
  return BigInt(text);
}

/** A decimal field (the API's string) as its storage word: 256-bit two's complement. */
export function fieldWord(decimalText) {
  const units = parseDecimal(decimalText);
  return units < 0n ? (1n << 256n) + units : units;
}

/**
 * H(pad32(record) ‖ H(name)), H being `hash` (keccak256 unless given): where a record's field
 * lives in storage.
 */
export function fieldSlot(record, name, hash = keccak256) {
  const padded = concat(new Uint8Array(12), fromHex(record, { length: 20 }));
  return hash(concat(padded, hash(utf8(name))));
}

/**
 * Checks one storage proof: under `storageRoot`, slot `slot` (32 bytes hex) holds `value`
 * (hex word; zero means the slot is absent, as Ethereum stores storage).
 */
export function verifyStorageProof({ storageRoot, slot, proof, value, hash = keccak256 }) {
  return guarded(() => {
    const root = parseHex(storageRoot, 32, 'the storage root');
    if (typeof hash !== 'function') fail('no hash function to check the proof with');
    const key = hash(parseHex(slot, 32, 'the slot'));
    const expected = parseWord(value, 'the value');
    const found = walk(root, key, parseProof(proof), hash);
    if (found === null) {
      if (expected !== 0n) fail(`the proof shows the slot is empty, not ${value}`);
      return { ok: true };
    }
    let word;
    try {
      const item = decodeItem(found, 0);
      if (item.end !== found.length) throw new Error('bytes trail the word');
      if (item.payload.length === 0) throw new Error('a stored word is never empty');
      word = toUint(item, 256, 'the stored word');
    } catch (e) {
      fail(`the stored value is malformed: ${e.message}`);
    }
    if (word !== expected) fail(`the proven word is 0x${word.toString(16)}, not ${value}`);
    return { ok: true };
  });
}

/**
 * Checks a record response with proofs (GET …/records/{r}?proof=true) against `stateRoot`,
 * with the chain suite's `hash` (keccak256 unless given): the package account's proof, its
 * storage root, and every field's slot, value and proof.
 * Returns `{ok, reason?, fields: [{field, ok, reason?}]}`.
 */
export function verifyRecordProof(record, stateRoot, { hash = keccak256 } = {}) {
  return guarded(() => {
    if (!record || typeof record !== 'object') fail('no record');
    if (!Array.isArray(record.account_proof) || !Array.isArray(record.storage_proof)) {
      fail('the response carries no proof');
    }
    const shown = proveAccount({ stateRoot, address: record.package, proof: record.account_proof, hash });
    if (!shown.ok) return shown;
    if (shown.account === null) fail('the proof shows no account at the package address');
    if (typeof record.storage_hash !== 'string' || shown.account.storageRoot !== record.storage_hash.toLowerCase()) {
      fail('the storage root the response gives is not the proven one');
    }
    const fields = record.fields && typeof record.fields === 'object' ? record.fields : {};
    const seen = new Set();
    const results = record.storage_proof.map((entry) => {
      const name = entry && typeof entry.field === 'string' ? entry.field : '?';
      const one = guarded(() => {
        if (!(name in fields)) fail('the field is not among the record\'s fields');
        if (seen.has(name)) fail('the field is proven twice');
        seen.add(name);
        const slot = toHex(fieldSlot(record.record, name, hash));
        if (typeof entry.key !== 'string' || entry.key.toLowerCase() !== slot) fail('the slot is not this field\'s');
        let word;
        try {
          word = fieldWord(fields[name]);
        } catch (e) {
          fail(`the field's value is not a decimal: ${e.message}`);
        }
        if (parseWord(entry.value, 'the value') !== word) fail('the storage word does not encode the field\'s value');
        return verifyStorageProof({ storageRoot: shown.account.storageRoot, slot, proof: entry.proof, value: entry.value, hash });
      });
      return { field: name, ...one };
    });
    const missing = Object.keys(fields).filter((name) => !seen.has(name));
    if (missing.length) fail(`no proof for field(s) ${missing.join(', ')}`);
    const bad = results.find((r) => !r.ok);
    if (bad) return { ok: false, reason: `field ${bad.field}: ${bad.reason}`, fields: results };
    return { ok: true, fields: results, storageRoot: shown.account.storageRoot };
  });
}
