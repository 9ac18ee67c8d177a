//! Ethereum's trie conformance vectors, transcribed from ethereum/tests `TrieTests/`:
//! `trietest.json`, `trieanyorder.json`, `trietest_secureTrie.json`,
//! `trieanyorder_secureTrie.json` and `hex_encoded_securetrie_test.json`.
//!
//! Convention of those files: a string starting with `0x` is hex, anything else is its UTF-8
//! bytes, and a `null` value deletes the key. Roots are the files' expected roots, not values
//! computed here. The "any order" cases are run in every insertion order.

use std::sync::Arc;

use cairn_trie::{B256, EMPTY_ROOT, MemoryNodeStore, SecureTrie, Trie};

fn bytes(s: &str) -> Vec<u8> {
    match s.strip_prefix("0x") {
        Some(hex) => hex::decode(hex).expect("vector hex"),
        None => s.as_bytes().to_vec(),
    }
}

fn root(s: &str) -> B256 {
    s.parse().expect("vector root")
}

/// Applies ordered operations (`None` deletes) to a plain or secure trie and checks the root;
/// then commits, reopens from the store and checks the root and surviving values again.
fn run_ordered(name: &str, ops: &[(&str, Option<&str>)], expected: &str, secure: bool) {
    let expected = root(expected);
    let store = Arc::new(MemoryNodeStore::new());
    let mut live = std::collections::BTreeMap::new();
    let got = if secure {
        let mut trie = SecureTrie::new(store.clone());
        for (key, value) in ops {
            match value {
                Some(value) => trie.insert(&bytes(key), &bytes(value)),
                None => trie.remove(&bytes(key)),
            }
            .expect("in-memory update");
            live.insert(bytes(key), value.map(bytes));
        }
        let (committed, batch) = trie.commit().expect("commit");
        store.apply(&batch);
        let reopened = SecureTrie::open(store.clone(), committed).expect("reopen");
        for (key, value) in &live {
            assert_eq!(
                reopened.get(key).expect("get"),
                *value,
                "{name}: read-back of {key:?}"
            );
        }
        committed
    } else {
        let mut trie = Trie::new(store.clone());
        for (key, value) in ops {
            trie.insert(&bytes(key), value.map(bytes).as_deref().unwrap_or_default())
                .expect("in-memory update");
            live.insert(bytes(key), value.map(bytes));
        }
        let (committed, batch) = trie.commit().expect("commit");
        store.apply(&batch);
        let reopened = Trie::open(store.clone(), committed).expect("reopen");
        for (key, value) in &live {
            assert_eq!(
                reopened.get(key).expect("get"),
                *value,
                "{name}: read-back of {key:?}"
            );
        }
        committed
    };
    assert_eq!(got, expected, "{name} (secure: {secure})");
}

fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            all.push(tail);
        }
    }
    all
}

fn run_any_order(name: &str, pairs: &[(&str, &str)], expected: &str, secure: bool) {
    for order in permutations(pairs) {
        let ops: Vec<(&str, Option<&str>)> = order.iter().map(|(k, v)| (*k, Some(*v))).collect();
        run_ordered(&format!("{name} {order:?}"), &ops, expected, secure);
    }
}

// ----- trietest.json -----

const EMPTY_VALUES: &[(&str, Option<&str>)] = &[
    ("do", Some("verb")),
    ("ether", Some("wookiedoo")),
    ("horse", Some("stallion")),
    ("shaman", Some("horse")),
    ("doge", Some("coin")),
    ("ether", None),
    ("dog", Some("puppy")),
    ("shaman", None),
];

const BRANCHING_KEYS: &[&str] = &[
    "0x04110d816c380812a427968ece99b1c963dfbce6",
    "0x095e7baea6a6c7c4c2dfeb977efac326af552d87",
    "0x0a517d755cebbf66312b30fff713666a9cb917e0",
    "0x24dd378f51adc67a50e339e8031fe9bd4aafab36",
    "0x293f982d000532a7861ab122bdc4bbfd26bf9030",
    "0x2cf5732f017b0cf1b1f13a1478e10239716bf6b5",
    "0x31c640b92c21a1f1465c91070b4b3b4d6854195f",
    "0x37f998764813b136ddf5a754f34063fd03065e36",
    "0x37fa399a749c121f8a15ce77e3d9f9bec8020d7a",
    "0x4f36659fa632310b6ec438dea4085b522a2dd077",
    "0x62c01474f089b07dae603491675dc5b5748f7049",
    "0x729af7294be595a0efd7d891c9e51f89c07950c7",
    "0x83e3e5a16d3b696a0314b30b2534804dd5e11197",
    "0x8703df2417e0d7c59d063caa9583cb10a4d20532",
    "0x8dffcd74e5b5923512916c6a64b502689cfa65e1",
    "0x95a4d7cccb5204733874fa87285a176fe1e9e240",
    "0x99b2fcba8120bedd048fe79f5262a6690ed38c39",
    "0xa4202b8b8afd5354e3e40a219bdc17f6001bf2cf",
    "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b",
    "0xa9647f4a0a14042d91dc33c0328030a7157c93ae",
    "0xaa6cffe5185732689c18f37a7f86170cb7304c2a",
    "0xaae4a2e3c51c04606dcb3723456e58f3ed214f45",
    "0xc37a43e940dfb5baf581a0b82b351d48305fc885",
    "0xd2571607e241ecf590ed94b12d87c94babe36db6",
    "0xf735071cbee190d76b704ce68384fc21e389fbe7",
];

/// `branchingTests`: the 25 keys set to "something", then each deleted in the same order.
fn branching_ops() -> Vec<(&'static str, Option<&'static str>)> {
    let inserts = BRANCHING_KEYS.iter().map(|k| (*k, Some("something")));
    let deletes = BRANCHING_KEYS.iter().map(|k| (*k, None));
    inserts.chain(deletes).collect()
}

const JEFF: &[(&str, Option<&str>)] = &[
    (
        "0x0000000000000000000000000000000000000000000000000000000000000045",
        Some("0x22b224a1420a802ab51d326e29fa98e34c4f24ea"),
    ),
    (
        "0x0000000000000000000000000000000000000000000000000000000000000046",
        Some("0x67706c2076330000000000000000000000000000000000000000000000000000"),
    ),
    (
        "0x0000000000000000000000000000000000000000000000000000001234567890",
        Some("0x697c7b8c961b56f675d570498424ac8de1a918f6"),
    ),
    (
        "0x000000000000000000000000697c7b8c961b56f675d570498424ac8de1a918f6",
        Some("0x1234567890"),
    ),
    (
        "0x0000000000000000000000007ef9e639e2733cb34e4dfc576d4b23f72db776b2",
        Some("0x4655474156000000000000000000000000000000000000000000000000000000"),
    ),
    (
        "0x000000000000000000000000ec4f34c97e43fbb2816cfd95e388353c7181dab1",
        Some("0x4e616d6552656700000000000000000000000000000000000000000000000000"),
    ),
    (
        "0x4655474156000000000000000000000000000000000000000000000000000000",
        Some("0x7ef9e639e2733cb34e4dfc576d4b23f72db776b2"),
    ),
    (
        "0x4e616d6552656700000000000000000000000000000000000000000000000000",
        Some("0xec4f34c97e43fbb2816cfd95e388353c7181dab1"),
    ),
    (
        "0x0000000000000000000000000000000000000000000000000000001234567890",
        None,
    ),
    (
        "0x000000000000000000000000697c7b8c961b56f675d570498424ac8de1a918f6",
        Some("0x6f6f6f6820736f2067726561742c207265616c6c6c793f000000000000000000"),
    ),
    (
        "0x6f6f6f6820736f2067726561742c207265616c6c6c793f000000000000000000",
        Some("0x697c7b8c961b56f675d570498424ac8de1a918f6"),
    ),
];

const INSERT_MIDDLE_LEAF: &[(&str, Option<&str>)] = &[
    (
        "key1aa",
        Some("0123456789012345678901234567890123456789xxx"),
    ),
    (
        "key1",
        Some("0123456789012345678901234567890123456789Very_Long"),
    ),
    ("key2bb", Some("aval3")),
    ("key2", Some("short")),
    ("key3cc", Some("aval3")),
    ("key3", Some("1234567890123456789012345678901")),
];

const BRANCH_VALUE_UPDATE: &[(&str, Option<&str>)] = &[
    ("abc", Some("123")),
    ("abcd", Some("abcd")),
    ("abc", Some("abc")),
];

#[test]
fn trietest_empty_values() {
    let expected = "0x5991bb8c6514148a29db676a14ac506cd2cd5775ace63c30a4fe457715e9ac84";
    run_ordered("emptyValues", EMPTY_VALUES, expected, false);
}

#[test]
fn trietest_branching_deletes_back_to_empty() {
    let expected = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421";
    assert_eq!(root(expected), EMPTY_ROOT);
    run_ordered("branchingTests", &branching_ops(), expected, false);
}

#[test]
fn trietest_jeff() {
    let expected = "0x9f6221ebb8efe7cff60a716ecb886e67dd042014be444669f0159d8e68b42100";
    run_ordered("jeff", JEFF, expected, false);
}

#[test]
fn trietest_insert_middle_leaf() {
    let expected = "0xcb65032e2f76c48b82b5c24b3db8f670ce73982869d38cd39a624f23d62a9e89";
    run_ordered("insert-middle-leaf", INSERT_MIDDLE_LEAF, expected, false);
}

#[test]
fn trietest_branch_value_update() {
    let expected = "0x7a320748f780ad9ad5b0837302075ce0eeba6c26e3d8562c67ccc0f1b273298a";
    run_ordered("branch-value-update", BRANCH_VALUE_UPDATE, expected, false);
}

// ----- trietest_secureTrie.json -----

#[test]
fn secure_trietest_empty_values() {
    let expected = "0x29b235a58c3c25ab83010c327d5932bcf05324b7d6b1185e650798034783ca9d";
    run_ordered("emptyValues", EMPTY_VALUES, expected, true);
}

#[test]
fn secure_trietest_branching_deletes_back_to_empty() {
    let expected = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421";
    run_ordered("branchingTests", &branching_ops(), expected, true);
}

#[test]
fn secure_trietest_jeff() {
    let expected = "0x72adb52e9d9428f808e3e8045be18d3baa77881d0cfab89a17a2bcbacee2f320";
    run_ordered("jeff", JEFF, expected, true);
}

// ----- trieanyorder.json and trieanyorder_secureTrie.json -----

struct AnyOrderCase {
    name: &'static str,
    pairs: &'static [(&'static str, &'static str)],
    plain_root: &'static str,
    secure_root: &'static str,
}

const ANY_ORDER: &[AnyOrderCase] = &[
    AnyOrderCase {
        name: "singleItem",
        pairs: &[("A", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")],
        plain_root: "0xd23786fb4a010da3ce639d66d5e904a11dbc02746d1ce25029e53290cabf28ab",
        secure_root: "0xe9e2935138352776cad724d31c9fa5266a5c593bb97726dd2a908fe6d53284df",
    },
    AnyOrderCase {
        name: "dogs",
        pairs: &[
            ("doe", "reindeer"),
            ("dog", "puppy"),
            ("dogglesworth", "cat"),
        ],
        plain_root: "0x8aad789dff2f538bca5d8ea56e8abe10f4c7ba3a5dea95fea4cd6e7c3a1168d3",
        secure_root: "0xd4cd937e4a4368d7931a9cf51686b7e10abb3dce38a39000fd7902a092b64585",
    },
    AnyOrderCase {
        name: "puppy",
        pairs: &[
            ("do", "verb"),
            ("horse", "stallion"),
            ("doge", "coin"),
            ("dog", "puppy"),
        ],
        plain_root: "0x5991bb8c6514148a29db676a14ac506cd2cd5775ace63c30a4fe457715e9ac84",
        secure_root: "0x29b235a58c3c25ab83010c327d5932bcf05324b7d6b1185e650798034783ca9d",
    },
    AnyOrderCase {
        name: "foo",
        pairs: &[("foo", "bar"), ("food", "bass")],
        plain_root: "0x17beaa1648bafa633cda809c90c04af50fc8aed3cb40d16efbddee6fdf63c4c3",
        secure_root: "0x1385f23a33021025d9e87cca5c66c00de06178807b96a9acc92b7d651ccde842",
    },
    AnyOrderCase {
        name: "smallValues",
        pairs: &[("be", "e"), ("dog", "puppy"), ("bed", "d")],
        plain_root: "0x3f67c7a47520f79faa29255d2d3c084a7a6df0453116ed7232ff10277a8be68b",
        secure_root: "0x826a4f9f9054a3e980e54b20da992c24fa20467f1ca635115ef4917be66e746f",
    },
    AnyOrderCase {
        name: "testy",
        pairs: &[("test", "test"), ("te", "testy")],
        plain_root: "0x8452568af70d8d140f58d941338542f645fcca50094b20f3c3d8c3df49337928",
        secure_root: "0xaea54fb6c80499674248a462864c420c9d9f3b3d38c879c12425bade1ad76552",
    },
    AnyOrderCase {
        name: "hex",
        pairs: &[("0x0045", "0x0123456789"), ("0x4500", "0x9876543210")],
        plain_root: "0x285505fcabe84badc8aa310e2aae17eddc7d120aabec8a476902c8184b3a3503",
        secure_root: "0xbc11c02c8ab456db0c4d2728b6a2a6210d06f26a2ace4f7d8bdfc72ddf2630ab",
    },
];

#[test]
fn trieanyorder_every_order() {
    for case in ANY_ORDER {
        run_any_order(case.name, case.pairs, case.plain_root, false);
    }
}

#[test]
fn trieanyorder_secure_every_order() {
    for case in ANY_ORDER {
        run_any_order(case.name, case.pairs, case.secure_root, true);
    }
}

// ----- hex_encoded_securetrie_test.json (account records keyed by address) -----

#[test]
fn hex_encoded_securetrie_test1() {
    let pairs = [
        (
            "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b",
            "0xf848018405f446a7a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a0c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
        ),
        (
            "0x095e7baea6a6c7c4c2dfeb977efac326af552d87",
            "0xf8440101a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a004bccc5d94f4d1f99aab44369a910179931772f2a5c001c3229f57831c102769",
        ),
        (
            "0xd2571607e241ecf590ed94b12d87c94babe36db6",
            "0xf8440180a0ba4b47865c55a341a4a78759bb913cd15c3ee8eaf30a62fa8d1c8863113d84e8a0c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
        ),
        (
            "0x62c01474f089b07dae603491675dc5b5748f7049",
            "0xf8448080a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a0c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
        ),
        (
            "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba",
            "0xf8478083019a59a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a0c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
        ),
    ];
    let expected = "0x730a444e08ab4b8dee147c9b232fc52d34a223d600031c1e9d25bfc985cbd797";
    run_any_order("test1", &pairs, expected, true);
}

#[test]
fn hex_encoded_securetrie_test2() {
    let pairs = [
        (
            "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b",
            "0xf84c01880de0b6b3a7622746a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a0c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
        ),
        (
            "0x095e7baea6a6c7c4c2dfeb977efac326af552d87",
            "0xf84780830186b7a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a0501653f02840675b1aab0328c6634762af5d51764e78f9641cccd9b27b90db4f",
        ),
        (
            "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba",
            "0xf8468082521aa056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a0c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
        ),
    ];
    let expected = "0xa7c787bf470808896308c215e22c7a580a0087bb6db6e8695fb4759537283a83";
    run_any_order("test2", &pairs, expected, true);
}

#[test]
fn hex_encoded_securetrie_test3() {
    let pairs = [
        (
            "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b",
            "0xf84c01880de0b6b3a7614bc3a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a0c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
        ),
        (
            "0x095e7baea6a6c7c4c2dfeb977efac326af552d87",
            "0xf84880840132b3a0a065fee2fffd7a68488cf7ef79f35f7979133172ac5727b5e0cf322953d13de492a06e5d8fec8b6b9bf41c3fb9b61696d5c87b66f6daa98d5f02ba9361b0c6916467",
        ),
        (
            "0x0000000000000000000000000000000000000001",
            "0xf8448080a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a0c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
        ),
        (
            "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba",
            "0xf8478083012d9da056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a0c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
        ),
    ];
    let expected = "0x40b37be88a49e2c08b8d33fcb03a0676ffd0481df54dfebd3512b8ec54f40cad";
    run_any_order("test3", &pairs, expected, true);
}

// ----- mechanism checks on the same classic data -----

/// foo/food: the branch below the root extension is under 32 bytes, so it is embedded in the
/// root and a commit stores exactly one node.
#[test]
fn small_trie_is_one_stored_root_node() {
    let mut trie = Trie::new(MemoryNodeStore::new());
    trie.insert(b"foo", b"bar").expect("insert");
    trie.insert(b"food", b"bass").expect("insert");
    let (root, batch) = trie.commit().expect("commit");
    assert_eq!(
        root,
        self::root("0x17beaa1648bafa633cda809c90c04af50fc8aed3cb40d16efbddee6fdf63c4c3")
    );
    assert_eq!(batch.len(), 1);
    let (hash, node) = batch.iter().next().expect("one node");
    assert_eq!(hash, root);
    match cairn_trie::decode_node(&node).expect("valid root") {
        cairn_trie::DecodedNode::Extension {
            child: cairn_trie::ChildRef::Inline(branch),
            ..
        } => {
            assert!(branch.len() < 32);
        }
        other => panic!("expected an extension embedding its branch, got {other:?}"),
    }
}
