// Self-check of the console's sm2-sm3 code (js/sm.js over the vendored sm-crypto-v2, and the
// proof checker with SM3), run by Node.js's own test runner, nothing to install:
//
//   node --test crates/rpc/console-tests/
//
// The node verifies what the browser signs, so beyond the standards' vectors this checks the
// exact form the chain takes (crates/primitives/src/sm.rs): a 33-byte compressed public key, a
// raw 64-byte r ‖ s signature (not DER) over SM3(Z_A ‖ message) with Z_A computed from the
// default user id "1234567812345678", addresses and transaction hashes by SM3.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { sm2 } from '../console/vendor/sm-crypto-v2-1.15.1/index.mjs';
import { concat, fromHex, toHex, utf8 } from '../console/js/hex.js';
import { keccak256 } from '../console/js/keccak.js';
import { emptyRoot, fieldSlot, fieldWord, proveAccount, verifyProof, verifyRecordProof } from '../console/js/proof.js';
import { decodeList, encode } from '../console/js/rlp.js';
import { DEFAULT_USER_ID, importSecretKey, isSecretKey, randomSecretKey, sm3, verify } from '../console/js/sm.js';
import { ED25519_KECCAK, SM2_SM3, suiteNamed } from '../console/js/suite.js';
import { addressOf, encodeTransfer, packageAddress, transferSigningMessage, txHash } from '../console/js/tx.js';

const hex = (text) => fromHex(`0x${text.replace(/\s+/g, '')}`);
const bare = (bytes) => toHex(bytes).slice(2);

// The recommended curve (GB/T 32918.5).
const P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
const A = P - 3n;
const B = 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n;
const N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
const GX = 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n;
const GY = 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n;

const be32 = (value) => hex(value.toString(16).padStart(64, '0'));

/** Z_A of GB/T 32918.2 §5.5, written out here rather than taken from the library. */
function za(uncompressed, id = DEFAULT_USER_ID) {
  const idBytes = utf8(id);
  const entl = Uint8Array.of((idBytes.length * 8) >> 8, (idBytes.length * 8) & 0xff);
  return sm3(concat(entl, idBytes, be32(A), be32(B), be32(GX), be32(GY), uncompressed.subarray(1)));
}

// GM/T 0003.5-2012, appendix A (as crates/primitives/src/sm.rs checks it): "message digest"
// signed by this key, with the default user id, and k below.
const EXAMPLE = {
  d: '3945208F 7B2144B1 3F36E38A C6D39F95 88939369 2860B51A 42FB81EF 4DF7C5B8',
  x: '09F9DF31 1E5421A1 50DD7D16 1E4BC5C6 72179FAD 1833FC07 6BB08FF3 56F35020',
  y: 'CCEA490C E26775A5 2DC6EA71 8CC1AA60 0AED05FB F35E084A 6632F607 2DA9AD13',
  k: '59276E27 D506861A 16680F3A D9C02DCC EF3CC1FA 3CDBE4CE 6D54B80D EAC1BC21',
  r: 'F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3',
  s: 'B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA',
};

test('SM3 gives the examples of GB/T 32905', () => {
  assert.equal(bare(sm3(utf8('abc'))), '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0');
  assert.equal(bare(sm3(utf8('abcd'.repeat(16)))), 'debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732');
  // SM3(0x80), the empty trie's root on an sm2-sm3 chain (crates/trie/tests/sm3.rs).
  assert.equal(emptyRoot(sm3), '0x995b949869f80fa1465a9d8b6fa759ec65c3020d59c2624662bdff059bdf19b3');
  assert.equal(emptyRoot(keccak256), '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421');
});

test('the standard example: its public key, its signature verifies, and k gives the same r and s', async () => {
  const key = await importSecretKey(hex(EXAMPLE.d));
  const uncompressed = concat(Uint8Array.of(4), hex(EXAMPLE.x), hex(EXAMPLE.y));
  const y = BigInt(`0x${EXAMPLE.y.replace(/\s+/g, '')}`);
  assert.equal(key.publicKeyHex, toHex(concat(Uint8Array.of(y % 2n === 0n ? 2 : 3), hex(EXAMPLE.x))));
  const message = utf8('message digest');
  const signature = concat(hex(EXAMPLE.r), hex(EXAMPLE.s));
  assert.ok(verify(key.publicKey, message, signature), 'the compressed key');
  assert.ok(verify(uncompressed, message, signature), 'the uncompressed key');
  assert.ok(!verify(key.publicKey, utf8('message digesT'), signature));
  // The library's signing with the example's k (through its pool of precomputed points).
  const k = BigInt(`0x${EXAMPLE.k.replace(/\s+/g, '')}`);
  const kG = sm2.getPublicKeyFromPrivateKey(EXAMPLE.k.replace(/\s+/g, '').toLowerCase());
  const x1 = BigInt(`0x${kG.slice(2, 66)}`);
  const made = sm2.doSignature(message, EXAMPLE.d.replace(/\s+/g, '').toLowerCase(), {
    hash: true, der: false, userId: DEFAULT_USER_ID, pointPool: [{ k, x1 }],
  });
  assert.equal(made, bare(signature));
});

test('a signature made here verifies, is raw r ‖ s, and is over SM3(Z_A ‖ message) with the default id', async () => {
  for (let i = 0; i < 8; i++) {
    const secret = randomSecretKey();
    const key = await importSecretKey(secret);
    assert.equal(key.publicKey.length, 33);
    assert.ok(key.publicKey[0] === 2 || key.publicKey[0] === 3);
    assert.equal(key.address, toHex(sm3(key.publicKey).subarray(12)));
    assert.equal(key.address, addressOf(key.publicKey, sm3));
    const message = crypto.getRandomValues(new Uint8Array(1 + i * 37));
    const signature = await key.sign(message);
    assert.ok(signature instanceof Uint8Array);
    assert.equal(signature.length, 64, 'r ‖ s, not DER');
    assert.notEqual(signature[0], 0x30, 'not a DER sequence');
    const r = BigInt(toHex(signature.subarray(0, 32)));
    const s = BigInt(toHex(signature.subarray(32)));
    assert.ok(r >= 1n && r < N && s >= 1n && s < N);
    assert.ok(verify(key.publicKey, message, signature));
    const other = Uint8Array.from(message);
    other[0] ^= 1;
    assert.ok(!verify(key.publicKey, other, signature), 'another message');
    const bent = Uint8Array.from(signature);
    bent[63] ^= 1;
    assert.ok(!verify(key.publicKey, message, bent), 'another signature');
    // The digest the signature covers, computed here from the standard's definition: the
    // library checks r ‖ s against this e as given (bytes, which it does not hash).
    const uncompressed = hex(sm2.getPublicKeyFromPrivateKey(bare(secret)));
    const digest = (bytes) => sm2.doVerifySignature(bytes, bare(signature), bare(uncompressed), { hash: false, der: false });
    assert.ok(digest(sm3(concat(za(uncompressed), message))));
    // …and not against a digest with another user id, or without Z_A.
    assert.ok(!digest(sm3(concat(za(uncompressed, 'ALICE123@YAHOO.COM'), message))));
    assert.ok(!digest(sm3(message)));
  }
});

test('a secret key is a scalar from 1 to n-2', async () => {
  assert.ok(!isSecretKey(new Uint8Array(32)));
  assert.ok(isSecretKey(be32(1n)));
  assert.ok(isSecretKey(be32(N - 2n)));
  assert.ok(!isSecretKey(be32(N - 1n)));
  assert.ok(!isSecretKey(be32(N)));
  assert.ok(!isSecretKey(new Uint8Array(32).fill(0xff)));
  assert.ok(!isSecretKey(new Uint8Array(31).fill(1)));
  await assert.rejects(importSecretKey(be32(N - 1n)), /not a usable SM2 secret key/);
  await assert.rejects(importSecretKey(new Uint8Array(32)), /not a usable SM2 secret key/);
  // 1 is a key: its public key is the generator.
  const one = await importSecretKey(be32(1n));
  assert.equal(one.publicKeyHex, toHex(concat(Uint8Array.of(GY % 2n === 0n ? 2 : 3), be32(GX))));
});

test('a transfer signed with SM2 has the chain\'s form and its hash is SM3 of its encoding', async () => {
  const key = await importSecretKey(randomSecretKey());
  const tx = { chainId: 1337n, nonce: 5n, to: '0x00000000000000000000000000000000000000aa', amount: 2500n };
  const message = transferSigningMessage(tx);
  assert.equal(new TextDecoder().decode(message.subarray(0, 17)), 'cairn/transfer/v1');
  const signature = await key.sign(message);
  const encoded = encodeTransfer(tx, key.publicKey, signature);
  const items = decodeList(encoded);
  assert.equal(items.length, 6);
  assert.equal(bare(items[4].payload), bare(key.publicKey));
  assert.equal(items[5].payload.length, 64);
  assert.ok(verify(items[4].payload, message, items[5].payload));
  assert.equal(txHash(encoded, sm3), toHex(sm3(encoded)));
  assert.notEqual(txHash(encoded, sm3), txHash(encoded));
  // Package addresses follow the suite's hash too.
  const deployer = key.address;
  const be = new Uint8Array(8);
  be[7] = 3;
  assert.equal(packageAddress(deployer, 3n, sm3), toHex(sm3(concat(utf8('cairn/acs/package'), fromHex(deployer), be)).subarray(12)));
});

test('proofs are checked with the suite\'s hash', () => {
  // One leaf, rlp([hex-prefix("dog"), "puppy"]): its SM3 root as crates/trie/tests/sm3.rs pins
  // it (computed there with gmssl).
  const leaf = '0xcb8420646f67857075707079';
  const root = '0x2e3064c65510ed456d17e179f80c272dd93943cc74c01eba27282b63a9e39aa3';
  const shown = verifyProof({ root, key: utf8('dog'), proof: [leaf], hash: sm3 });
  assert.ok(shown.ok, shown.reason);
  assert.equal(new TextDecoder().decode(shown.value), 'puppy');
  const absent = verifyProof({ root, key: utf8('cat'), proof: [leaf], hash: sm3 });
  assert.ok(absent.ok && absent.value === null, absent.reason);
  assert.ok(!verifyProof({ root, key: utf8('dog'), proof: [leaf] }).ok, 'keccak takes an SM3 root');
  assert.ok(verifyProof({ root: emptyRoot(sm3), key: utf8('dog'), proof: [], hash: sm3 }).ok);
  assert.ok(!verifyProof({ root: emptyRoot(keccak256), key: utf8('dog'), proof: [], hash: sm3 }).ok);

  // A secure trie of one account: its leaf sits at SM3(address).
  const address = '0x00000000000000000000000000000000000000bb';
  const account = encode([7n, 1000n, fromHex(emptyRoot(sm3)), sm3(new Uint8Array(0))]);
  const node = encode([concat(Uint8Array.of(0x20), sm3(fromHex(address))), account]);
  const stateRoot = toHex(sm3(node));
  const proven = proveAccount({ stateRoot, address, proof: [toHex(node)], hash: sm3 });
  assert.ok(proven.ok, proven.reason);
  assert.equal(proven.account.nonce, 7n);
  assert.equal(proven.account.balance, 1000n);
  assert.ok(!proveAccount({ stateRoot, address, proof: [toHex(node)] }).ok, 'keccak takes an SM3 trie');
  // Storage slots too: H(pad32(record) ‖ H(name)).
  const slot = fieldSlot(address, 'rent', sm3);
  assert.equal(bare(slot), bare(sm3(concat(new Uint8Array(12), fromHex(address), sm3(utf8('rent'))))));
});

test('a record\'s proof is checked with SM3 throughout: account, storage root, slot and word', () => {
  const pkg = '0x00000000000000000000000000000000000000cc';
  const record = '0x00000000000000000000000000000000000000dd';
  const slot = fieldSlot(record, 'rent', sm3);
  const word = fieldWord('900.5');
  const storageNode = encode([concat(Uint8Array.of(0x20), sm3(slot)), encode(word)]);
  const storageRoot = sm3(storageNode);
  const accountNode = encode([
    concat(Uint8Array.of(0x20), sm3(fromHex(pkg))),
    encode([1n, 0n, storageRoot, sm3(utf8('the source'))]),
  ]);
  const stateRoot = toHex(sm3(accountNode));
  const response = {
    package: pkg,
    record,
    storage_hash: toHex(storageRoot),
    account_proof: [toHex(accountNode)],
    storage_proof: [{ field: 'rent', key: toHex(slot), value: `0x${word.toString(16)}`, proof: [toHex(storageNode)] }],
    fields: { rent: '900.5' },
  };
  const checked = verifyRecordProof(response, stateRoot, { hash: sm3 });
  assert.ok(checked.ok, checked.reason);
  assert.ok(!verifyRecordProof(response, stateRoot).ok, 'keccak takes SM3 proofs');
  const richer = { ...response, fields: { rent: '900.6' } };
  assert.ok(!verifyRecordProof(richer, stateRoot, { hash: sm3 }).ok, 'another value');
});

test('the suite comes from the name /v1/status gives', async () => {
  assert.equal((await suiteNamed(undefined)).name, ED25519_KECCAK, 'no name: ed25519-keccak');
  assert.equal((await suiteNamed(ED25519_KECCAK)).hash, keccak256);
  const sm = await suiteNamed(SM2_SM3);
  assert.equal(sm.name, SM2_SM3);
  assert.equal(sm.signing, 'SM2');
  assert.equal(bare(sm.hash(utf8('abc'))), '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0');
  assert.ok(sm.isKey(sm.randomKey()));
  const key = await sm.importKey(hex(EXAMPLE.d));
  assert.equal(key.address, sm.addressOf(key.publicKey));
  await assert.rejects(suiteNamed('rsa-md5'), /does not know/);
});
