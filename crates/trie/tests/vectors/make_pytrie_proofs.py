#!/usr/bin/env python3
"""Generate Merkle proof test vectors with py-trie, an independent Ethereum MPT.

py-trie is the Ethereum Foundation's Python Merkle Patricia Trie (PyPI package
`trie`). These vectors were made with trie 4.0.0 on Python 3.11, installed with

    pip install "trie==4.0.0" "eth-hash[pycryptodome]"

(eth-hash, which py-trie uses for keccak256, needs a backend; without
pycryptodome or pysha3 installed every hash raises ImportError.)

Run from anywhere:  python3 make_pytrie_proofs.py
It writes pytrie_proofs.json next to itself, deterministically (fixed seed; the
output is byte-identical from run to run).

Output shape:
    {"generator": "py-trie <version>",
     "tries": [{"name": ..., "root": "0x..",
                "proofs": [{"key": "0x..", "value": "0x.." | null,
                            "proof": ["0x..", ...]}]}]}
`key` is the raw trie key (for the secure-style trie, already keccak256 of the
address), `value` the raw stored value, null when the key is absent. `proof` is
exactly the list `HexaryTrie.get_proof(key)` returns, in its order, each node
RLP-encoded (get_proof returns decoded nodes -- nested Python lists of bytes --
not encodings; `rlp.encode(node)` gives the node's canonical encoding).

What py-trie's proofs look like (observed with trie 4.0.0, and asserted by this
script on every vector):

* Order: root first, then each node on the key's path in turn; every entry
  after the first is a child of the entry before it. No other order occurs.
* Embedded nodes are listed as separate entries too. A node whose RLP is under
  32 bytes is embedded in its parent (the parent holds the node itself, not its
  hash), yet get_proof walks into it and appends it as its own entry, after the
  parent that already contains it. E.g. in the do/dog/doge/horse trie the proof
  for b"doge" has 7 entries: 4 hash-referenced nodes (35, 66, 37, 52 bytes)
  followed by three embedded ones (31, 29, 7 bytes). Such entries are
  redundant: keccak256 of them is referenced by nothing. A verifier that
  requires every entry after the root to be hash-referenced by its parent (and
  at least 32 bytes) rejects these proofs as they are; dropping the entries
  under 32 bytes at index > 0 yields the strict EIP-1186 form.
* The root node is always listed by its hash, even when under 32 bytes (the
  single-key trie's root is a 7-byte leaf; the root hash is keccak256 of it).
* Absent keys: get_proof never raises for them. The proof is the path up to
  where the key diverges: ending at a leaf with a different rest-of-path, at an
  extension whose path does not match, at a branch whose child slot for the
  next nibble is empty, or at a branch whose value slot is empty when the key
  ends there. For the empty trie the proof is [] (no nodes at all).
* Verification: `HexaryTrie.get_from_proof(root, key, proof)` loads every
  entry into a fresh database under keccak256 of its encoding (so the redundant
  embedded entries are harmless) and looks the key up; it returns the value,
  b"" for an absent key (py-trie never stores empty values), and raises
  BadTrieProof when a needed node is missing. It does not reject extra or
  reordered nodes. Every vector here is checked with it.
"""

import json
import os
import random
import sys
from importlib.metadata import version

import rlp
from eth_hash.auto import keccak
from trie import HexaryTrie

SEED = 20240611
BLANK_ROOT = keccak(rlp.encode(b""))


def children(node):
    """Child references (hash bytes or embedded node list) of a decoded node."""
    if isinstance(node, list) and len(node) == 17:
        return [c for c in node[:16] if c != b""]
    if isinstance(node, list) and len(node) == 2:
        path = node[0]
        flag = path[0] >> 4 if path else 0
        if flag in (0, 1):  # extension
            return [node[1]]
    return []  # leaf


def check_order(root, proof):
    """Assert root-first path order; return how many entries are embedded nodes."""
    if not proof:
        assert root == BLANK_ROOT, "empty proof for non-empty trie"
        return 0
    assert keccak(rlp.encode(proof[0])) == root, "first entry is not the root"
    embedded = 0
    for parent, child in zip(proof, proof[1:]):
        enc = rlp.encode(child)
        refs = children(parent)
        if len(enc) < 32:
            assert child in refs, "embedded entry is not a child of the entry before it"
            embedded += 1
        else:
            assert keccak(enc) in refs, "entry is not hash-referenced by the entry before it"
    return embedded


STATS = {"tries": 0, "proofs": 0, "present": 0, "absent": 0,
         "with_small_entries": 0, "small_entries": 0}


def make_vectors(name, items, present, absent):
    """Build a trie from `items` (list of (key, value)), prove the given keys."""
    t = HexaryTrie({})
    for k, v in items:
        assert v != b"", "py-trie treats an empty value as deletion"
        t[k] = v
    expected = dict(items)
    root = t.root_hash
    proofs = []
    for key, is_present in [(k, True) for k in present] + [(k, False) for k in absent]:
        assert (key in expected) == is_present, (name, key)
        value = expected.get(key)
        assert t.get(key) == (value if is_present else b"")
        proof = t.get_proof(key)
        got = HexaryTrie.get_from_proof(root, key, proof)
        assert got == (value if is_present else b""), (name, key, got)
        small = check_order(root, proof)
        encoded = [rlp.encode(n) for n in proof]
        assert sum(1 for e in encoded[1:] if len(e) < 32) == small
        STATS["proofs"] += 1
        STATS["present" if is_present else "absent"] += 1
        STATS["small_entries"] += small
        STATS["with_small_entries"] += bool(small)
        proofs.append({
            "key": "0x" + key.hex(),
            "value": "0x" + value.hex() if is_present else None,
            "proof": ["0x" + e.hex() for e in encoded],
        })
    STATS["tries"] += 1
    return {"name": name, "root": "0x" + root.hex(), "proofs": proofs}


def rand_bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def absent_near(rng, keys, count):
    """Absent keys close to present ones: strict prefixes, extensions, tweaks."""
    keyset = set(keys)
    out = []
    ordered = sorted(keyset)
    while len(out) < count:
        k = rng.choice(ordered)
        kind = rng.randrange(4)
        if kind == 0 and len(k) > 1:
            cand = k[: rng.randrange(1, len(k))]
        elif kind == 1:
            cand = k + rand_bytes(rng, rng.randrange(1, 4))
        elif kind == 2:
            i = rng.randrange(len(k))
            cand = k[:i] + bytes([k[i] ^ (1 << rng.randrange(8))]) + k[i + 1:]
        else:
            cand = rand_bytes(rng, rng.randrange(1, 41))
        if cand and cand not in keyset and cand not in out:
            out.append(cand)
    return out


def main():
    rng = random.Random(SEED)
    tries = []

    # (a) Ethereum's classic small example: short keys and values, so most
    # nodes below the root are under 32 bytes and embedded in their parents.
    items = [(b"do", b"verb"), (b"dog", b"puppy"), (b"doge", b"coin"),
             (b"horse", b"stallion")]
    tries.append(make_vectors(
        "small_embedded_do_dog_doge_horse", items,
        present=[k for k, _ in items],
        absent=[b"d", b"dogs", b"doe", b"cat", b"hors", b"horses", b"h", b"\x00"]))

    # (a') Same idea, tiny one-byte keys and values, heavily embedded.
    items = [(b"\x01", b"a"), (b"\x01\x02", b"b"), (b"\x01\x03", b"c"),
             (b"\x11", b"d"), (b"\x12", b"e"), (b"\x12\x34", b"f")]
    tries.append(make_vectors(
        "small_embedded_bytes", items,
        present=[k for k, _ in items],
        absent=[b"\x02", b"\x01\x04", b"\x10", b"\x12\x35", b"\x12\x34\x56", b"\x13"]))

    # (b) ~200 random keys of 1-40 bytes, values of 1-80 bytes.
    kv = {}
    while len(kv) < 200:
        k = rand_bytes(rng, rng.randrange(1, 41))
        kv.setdefault(k, rand_bytes(rng, rng.randrange(1, 81)))
    items = list(kv.items())
    keys = [k for k, _ in items]
    # Put short keys in first among the proven ones: they sit high in the trie
    # and are the most likely to end in branch values or embedded nodes.
    present = sorted(keys, key=len)[:4] + rng.sample(keys, 10)
    present = list(dict.fromkeys(present))
    tries.append(make_vectors("random_200", items, present,
                              absent_near(rng, keys, 12)))

    # (c) Secure-style state trie: keys keccak256(address), values RLP accounts
    # [nonce, balance, storageRoot, codeHash].
    empty_code = keccak(b"")
    accounts = {}
    while len(accounts) < 64:
        addr = rand_bytes(rng, 20)
        nonce = rng.randrange(0, 1000)
        balance = rng.randrange(0, 1 << 72)
        storage = BLANK_ROOT if rng.random() < 0.6 else rand_bytes(rng, 32)
        code = empty_code if rng.random() < 0.6 else rand_bytes(rng, 32)
        accounts[keccak(addr)] = rlp.encode([nonce, balance, storage, code])
    items = list(accounts.items())
    keys = [k for k, _ in items]
    absent = [keccak(rand_bytes(rng, 20)) for _ in range(8)]
    tries.append(make_vectors("secure_accounts_64", items,
                              rng.sample(keys, 10), absent))

    # (d) Single key: the root is a leaf (7 bytes here, still listed by hash).
    tries.append(make_vectors(
        "single_key_short", [(b"key", b"v")], present=[b"key"],
        absent=[b"ke", b"keys", b"kez", b"\x00", b"\xff" * 32]))
    tries.append(make_vectors(
        "single_key_long", [(b"\xab" * 32, b"x" * 40)], present=[b"\xab" * 32],
        absent=[b"\xab" * 31, b"\xab" * 33, b"\xab" * 31 + b"\xac", b"\x01"]))

    # (e) Keys that are prefixes of each other, so branch nodes carry values;
    # a mix of short and long values so some such branches are embedded and
    # some hash-referenced.
    items = [(b"a", b"1"), (b"ab", b"2"), (b"abc", b"3" * 40),
             (b"abcd", b"4"), (b"abcde", b"5" * 33), (b"abcdef", b"6"),
             (b"abd", b"7"), (b"b", b"8" * 50), (b"ba", b"9"),
             (b"\x10", b"x"), (b"\x10\x01", b"y"), (b"\x10\x01\x00", b"z" * 31)]
    tries.append(make_vectors(
        "prefix_keys", items, present=[k for k, _ in items],
        absent=[b"abcdefg", b"abce", b"aa", b"abcdf", b"bb", b"bab", b"c",
                b"\x10\x00", b"\x10\x01\x00\x00", b"\x10\x01\x01", b"\x11"]))

    # Empty trie: absence proofs are the empty list.
    tries.append(make_vectors("empty", [], present=[],
                              absent=[b"a", b"\x00" * 32]))

    out = {"generator": "py-trie " + version("trie"), "tries": tries}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "pytrie_proofs.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)", file=sys.stderr)
    print(json.dumps(STATS), file=sys.stderr)


if __name__ == "__main__":
    main()
