// Cairn transactions: encoding, signing messages and hashes, byte for byte as
// crates/primitives/src/transaction.rs and acs.rs define them.
//
// Transfer: rlp([chain_id, nonce, to, amount, public_key, signature]); the signature covers
//   "cairn/transfer/v1" ‖ rlp([chain_id, nonce, to, amount]).
// ACS: 0x01 ‖ rlp([chain_id, nonce, gas_limit, action, public_key, signature]); the signature
//   covers "cairn/acs/v1" ‖ rlp([chain_id, nonce, gas_limit, action]). Actions:
//   [0, source] deploy, [1, package] join, [2, package, record, [[name, value], …]] set,
//   [3, package, contract, record] call; a set value is an i128 as 16 big-endian bytes.
// The hash of either is keccak256 of the full encoding (the type byte included). On a chain of
// the sm2-sm3 suite every hash here is SM3 instead: the transaction hash, addresses (of a
// 33-byte compressed SM2 public key) and package addresses; js/suite.js gives the chain's.

import { concat, fromHex, signedToBytes, toHex, utf8 } from './hex.js';
import { keccak256 } from './keccak.js';
import { encode } from './rlp.js';

const TRANSFER_DOMAIN = utf8('cairn/transfer/v1');
const ACS_DOMAIN = utf8('cairn/acs/v1');
export const ACS_TX_TYPE = 0x01;

/** Bounds the chain enforces (crates/primitives/src/acs.rs, crates/ledger/src/acs.rs). */
export const LIMITS = Object.freeze({
  maxSourceBytes: 24 * 1024,
  maxSetFields: 64,
  maxNameBytes: 64,
  maxTransactionGas: 10_000_000n,
  baseGas: 1_000n,
  deployGasPerByte: 10n,
  setGasPerField: 200n,
  callGas: 200n,
  maxU64: (1n << 64n) - 1n,
  maxU128: (1n << 128n) - 1n,
});

const address = (text, what) => fromHex(text, { length: 20, what });

function transferFields(tx) {
  return [BigInt(tx.chainId), BigInt(tx.nonce), address(tx.to, 'the recipient'), BigInt(tx.amount)];
}

/** The bytes a transfer's sender signs. */
export function transferSigningMessage(tx) {
  return concat(TRANSFER_DOMAIN, encode(transferFields(tx)));
}

/** The canonical encoding of a signed transfer. */
export function encodeTransfer(tx, publicKey, signature) {
  return encode([...transferFields(tx), publicKey, signature]);
}

/** Whether `name` may name a field: a letter or _, then letters, digits and _. */
export function isFieldName(name) {
  return typeof name === 'string' && name.length <= LIMITS.maxNameBytes && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

/** Whether `name` may name a contract: field names joined by dots (holder.getvbl). */
export function isContractName(name) {
  return typeof name === 'string' && name.length <= LIMITS.maxNameBytes &&
    name.split('.').every((part) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(part));
}

/**
 * The RLP item of an ACS action:
 * {kind: 'deploy', source} | {kind: 'join', package} | {kind: 'set', package, record,
 * fields: [[name, units BigInt], …]} | {kind: 'call', package, contract, record}.
 */
export function acsActionItem(action) {
  switch (action.kind) {
    case 'deploy':
      return [0n, utf8(action.source)];
    case 'join':
      return [1n, address(action.package, 'the package')];
    case 'set':
      return [
        2n,
        address(action.package, 'the package'),
        address(action.record, 'the record'),
        action.fields.map(([name, units]) => [utf8(name), signedToBytes(units, 16)]),
      ];
    case 'call':
      return [3n, address(action.package, 'the package'), utf8(action.contract), address(action.record, 'the record')];
    default:
      throw new Error(`unknown ACS action ${action.kind}`);
  }
}

function acsFields(tx) {
  return [BigInt(tx.chainId), BigInt(tx.nonce), BigInt(tx.gasLimit), acsActionItem(tx.action)];
}

/** The bytes an ACS transaction's sender signs. */
export function acsSigningMessage(tx) {
  return concat(ACS_DOMAIN, encode(acsFields(tx)));
}

/** The canonical encoding (typed envelope) of a signed ACS transaction. */
export function encodeAcs(tx, publicKey, signature) {
  return concat(Uint8Array.of(ACS_TX_TYPE), encode([...acsFields(tx), publicKey, signature]));
}

/** The gas an ACS action costs before its contract runs (the least gas limit it may carry). */
export function intrinsicGas(action) {
  const extra = {
    deploy: () => LIMITS.deployGasPerByte * BigInt(utf8(action.source).length),
    join: () => 0n,
    set: () => LIMITS.setGasPerField * BigInt(action.fields.length),
    call: () => LIMITS.callGas,
  }[action.kind];
  if (!extra) throw new Error(`unknown ACS action ${action.kind}`);
  return LIMITS.baseGas + extra();
}

/**
 * The transaction hash: `hash` (the chain suite's: keccak256 unless given) of the canonical
 * encoding, 0x-hex.
 */
export function txHash(encoded, hash = keccak256) {
  return toHex(hash(encoded));
}

/** The address of a public key: the last 20 bytes of `hash(key)` (keccak256 unless given), 0x-hex. */
export function addressOf(publicKey, hash = keccak256) {
  return toHex(hash(publicKey).subarray(12));
}

/**
 * The address a deployment by `deployer` with `nonce` creates its package at: the last 20
 * bytes of `hash` (keccak256 unless given) of "cairn/acs/package" ‖ deployer ‖ nonce (8 bytes).
 */
export function packageAddress(deployer, nonce, hash = keccak256) {
  const be = new Uint8Array(8);
  new DataView(be.buffer).setBigUint64(0, BigInt(nonce));
  const preimage = concat(utf8('cairn/acs/package'), address(deployer, 'the deployer'), be);
  return toHex(hash(preimage).subarray(12));
}
