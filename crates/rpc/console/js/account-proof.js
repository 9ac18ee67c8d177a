// Checks an account response (the JSON of GET /v1/accounts/{a}?proof=true) in the browser:
// the state root comes from block N's header as this node serves it (never from the response
// itself), and the proof must show exactly the address, balance, nonce and existence the
// response claims. Used for the account page's own response and for pasted ones. The trie's
// hash is the chain's (keccak-256, or SM3 on an sm2-sm3 chain: js/suite.js).

import { ApiError, get, seg } from './api.js';
import { isAddress, isDecimalDigits, isHash } from './hex.js';
import { keccak256 } from './keccak.js';
import { verifyAccountProof } from './proof.js';
import { chainSuite } from './suite.js';

const notVerified = (reason) => ({ ok: false, text: `Not verified: ${reason}` });

/** Reads and checks the claimed fields; throws an Error naming the bad one. */
function claims(data) {
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new Error('the response is not a JSON object');
  const { address, balance, nonce, exists, block, proof } = data;
  if (!isAddress(address)) throw new Error('"address" is not 0x and 40 hex digits');
  if (!isDecimalDigits(balance)) throw new Error('"balance" is not a decimal string of digits');
  if (BigInt(balance) >= 1n << 128n) throw new Error('"balance" is above 2^128');
  if (!Number.isSafeInteger(nonce) || nonce < 0) throw new Error('"nonce" is not a non-negative integer');
  if (typeof exists !== 'boolean') throw new Error('"exists" is not true or false');
  if (!Number.isSafeInteger(block) || block < 0) throw new Error('"block" is not a block height');
  if (!Array.isArray(proof)) throw new Error('"proof" is missing or not a list (ask with ?proof=true)');
  if (data.state_root !== undefined && !isHash(data.state_root)) throw new Error('"state_root" is not 0x and 64 hex digits');
  if (data.pending_nonce !== undefined && (!Number.isSafeInteger(data.pending_nonce) || data.pending_nonce < 0)) {
    throw new Error('"pending_nonce" is not a non-negative integer');
  }
  return { address: address.toLowerCase(), balance, nonce, exists, block, proof, stateRoot: data.state_root, pendingNonce: data.pending_nonce };
}

/**
 * `{ok, text, stateRoot?, block?}`: text starts with "Verified" or "Not verified:". Never
 * throws (but rethrows an abort, so a page being left stays quiet). `suite` (js/suite.js's)
 * defaults to the chain's.
 */
export async function verifyAccountResponse(data, { signal, address, suite } = {}) {
  let claim;
  try {
    claim = claims(data);
  } catch (e) {
    return notVerified(e.message);
  }
  // A proof of some other account proves nothing about the one asked for.
  if (address !== undefined && claim.address.toLowerCase() !== String(address).toLowerCase()) {
    return notVerified(`the node answered for ${claim.address}, not for ${address}`);
  }
  if (!suite) {
    try {
      suite = await chainSuite();
    } catch (e) {
      if (signal && signal.aborted) throw e;
      return notVerified(`could not tell which hash this chain's trie uses: ${e.message}`);
    }
  }
  let header;
  try {
    header = await get(`/v1/blocks/${seg(claim.block)}`, { signal });
  } catch (e) {
    if (signal && signal.aborted) throw e;
    if (e instanceof ApiError && e.status === 404) return notVerified(`this node has no block ${claim.block}`);
    return notVerified(`could not read block ${claim.block} from this node: ${e.message}`);
  }
  const root = typeof header.state_root === 'string' ? header.state_root.toLowerCase() : '';
  if (!isHash(root) || header.height !== claim.block) return notVerified(`this node's answer for block ${claim.block} is malformed`);
  if (claim.stateRoot !== undefined && claim.stateRoot.toLowerCase() !== root) {
    return notVerified(`the state root given (${claim.stateRoot}) is not block ${claim.block}'s, ${root}`);
  }
  const result = verifyAccountProof({
    stateRoot: root,
    address: claim.address,
    proof: claim.proof,
    expected: { exists: claim.exists, nonce: claim.nonce, balance: claim.balance },
    hash: suite.hash,
  });
  if (!result.ok) return notVerified(result.reason);
  // The pending nonce is pool state, which no proof covers; it can never be below the nonce.
  if (claim.pendingNonce !== undefined && claim.pendingNonce < claim.nonce) {
    return notVerified('"pending_nonce" is below the proven nonce');
  }
  const hashed = suite.hash === keccak256 ? '' : ` (its trie hashed with ${suite.hashName})`;
  const where = `against the state root ${root} of block ${claim.block}${hashed}`;
  const what = claim.exists
    ? `account ${claim.address} holds ${claim.balance} base units and has nonce ${claim.nonce}`
    : `no account exists at ${claim.address}`;
  return { ok: true, text: `Verified ${where}: ${what}.`, stateRoot: root, block: claim.block };
}

/** The same for pasted text: malformed JSON is a "Not verified" with the parser's reason. */
export async function verifyPastedAccount(text, options) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return notVerified(`the text is not valid JSON (${e.message})`);
  }
  return verifyAccountResponse(data, options);
}
