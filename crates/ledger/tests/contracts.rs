//! Contract packages on a real chain (redb store, signed transactions, sealed blocks): the
//! seed's package as printed, records in storage tries with proofs an independent Ethereum
//! trie library checks, gas, roles, the job executor (order, caps, lateness, isolation,
//! restarts), the rent story by schedule alone, and two nodes agreeing on every root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_primitives::CryptoSuite;
use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_contracts::{Decimal, days_from_civil};
use cairn_ledger::acs::{self, JOB_RUN_GAS, MAX_JOB_RUNS_PER_BLOCK};
use cairn_ledger::verify::verify_chain;
use cairn_ledger::{Chain, CommittedBlock};
use cairn_primitives::dev::{dev_account_key, dev_genesis, dev_validator_key};
use cairn_primitives::{
    AcsAction, AcsTransaction, Address, Bytes, FailureReason, JobRun, Outcome, Receipt, Seal,
    SecretKey, SignedTransaction, U256, keccak256, package_address,
};
use cairn_storage::Store;
use tempfile::TempDir;

const CHAIN_ID: u64 = cairn_primitives::dev::DEV_CHAIN_ID;
const SEED: &str = include_str!("../../contracts/tests/seed/nbcs.properties");
const GAS: u64 = 1_000_000;

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

struct Node {
    _dir: TempDir,
    path: std::path::PathBuf,
    chain: Arc<Chain>,
}

impl Node {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        let store = Store::open(&path).unwrap();
        Chain::initialize(&store, &dev_genesis(1, 1_000)).unwrap();
        Self {
            chain: Arc::new(Chain::open(store).unwrap()),
            path,
            _dir: dir,
        }
    }

    /// Closes and reopens the store, as a restarted node does.
    fn restart(self) -> Self {
        let Self { _dir, path, chain } = self;
        drop(chain);
        let chain = Arc::new(Chain::open(Store::open(&path).unwrap()).unwrap());
        Self { _dir, path, chain }
    }

    /// Proposes and commits a block of `txs` at `time_ms`.
    fn block_at(&self, txs: Vec<SignedTransaction>, time_ms: u64) -> Arc<CommittedBlock> {
        let validator = dev_validator_key(0);
        let executed = self
            .chain
            .propose(txs.clone(), time_ms, validator.address())
            .unwrap();
        assert_eq!(
            executed.block.transactions.len(),
            txs.len(),
            "left out: {:?}",
            executed.excluded
        );
        let seal = Seal::sign(&executed.hash(), &validator);
        self.chain.commit(&executed.hash(), seal).unwrap()
    }

    fn block(&self, txs: Vec<SignedTransaction>) -> Arc<CommittedBlock> {
        let time = self.chain.head().timestamp_ms + 1_000;
        self.block_at(txs, time)
    }

    fn nonce(&self, key: &SecretKey) -> u64 {
        self.chain
            .account(&key.address(), None)
            .unwrap()
            .map_or(0, |account| account.nonce)
    }

    fn fields(&self, package: &Address, record: &Address) -> BTreeMap<String, Decimal> {
        self.chain
            .record(package, record, None, false)
            .unwrap()
            .expect("a record")
            .fields
            .into_iter()
            .map(|field| (field.name, field.value))
            .collect()
    }
}

fn acs(key: &SecretKey, nonce: u64, gas_limit: u64, action: AcsAction) -> SignedTransaction {
    AcsTransaction {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit,
        action,
    }
    .sign(key)
}

fn deploy(key: &SecretKey, nonce: u64, source: &str) -> SignedTransaction {
    acs(
        key,
        nonce,
        GAS,
        AcsAction::Deploy {
            source: Bytes::copy_from_slice(source.as_bytes()),
        },
    )
}

/// A join or set with exactly the gas it costs (they run no contract), so many fit a block.
fn exact(key: &SecretKey, nonce: u64, action: AcsAction) -> SignedTransaction {
    acs(key, nonce, acs::intrinsic_gas(&action), action)
}

fn join(key: &SecretKey, nonce: u64, package: Address) -> SignedTransaction {
    exact(key, nonce, AcsAction::Join { package })
}

fn set(
    key: &SecretKey,
    nonce: u64,
    package: Address,
    record: Address,
    fields: &[(&str, &str)],
) -> SignedTransaction {
    exact(
        key,
        nonce,
        AcsAction::Set {
            package,
            record,
            fields: fields
                .iter()
                .map(|(name, value)| (name.to_string(), d(value).units()))
                .collect(),
        },
    )
}

fn call(
    key: &SecretKey,
    nonce: u64,
    package: Address,
    contract: &str,
    record: Address,
) -> SignedTransaction {
    call_with_gas(key, nonce, package, contract, record, GAS)
}

fn call_with_gas(
    key: &SecretKey,
    nonce: u64,
    package: Address,
    contract: &str,
    record: Address,
    gas: u64,
) -> SignedTransaction {
    acs(
        key,
        nonce,
        gas,
        AcsAction::Call {
            package,
            contract: contract.into(),
            record,
        },
    )
}

fn returned(receipt: &Receipt) -> Option<Decimal> {
    receipt
        .contract
        .as_ref()
        .unwrap()
        .returned
        .map(Decimal::from_units)
}

fn error(receipt: &Receipt) -> String {
    assert_eq!(
        receipt.outcome,
        Outcome::Failed(FailureReason::Contract),
        "{receipt:?}"
    );
    receipt
        .contract
        .as_ref()
        .unwrap()
        .error
        .as_ref()
        .unwrap()
        .to_string()
}

fn ok(receipt: &Receipt) {
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
}

/// The seed's package deployed by dev account 0 and activated by its own `#when` line; three
/// holders: 10 A shares, 3 B shares, none.
struct Seeded {
    node: Node,
    package: Address,
    operator: SecretKey,
    holders: [SecretKey; 3],
}

fn seeded() -> Seeded {
    let node = Node::new();
    let operator = dev_account_key(0);
    let holders = [dev_account_key(1), dev_account_key(2), dev_account_key(3)];
    let deployed = node.block(vec![deploy(&operator, 0, SEED)]);
    ok(&deployed.receipts[0]);
    let package = package_address(CryptoSuite::Ed25519Keccak, &operator.address(), 0);
    assert!(
        !node
            .chain
            .package(&package, None)
            .unwrap()
            .unwrap()
            .info
            .active,
        "inactive until its commitACS line runs"
    );
    assert!(deployed.job_runs.is_empty());
    // The next block's start runs `#when ebs>=1 trigger=onStart commitACS`.
    let next = node.block(vec![]);
    assert_eq!(next.job_runs.len(), 1);
    let activation = &next.job_runs[0];
    assert_eq!(
        (
            activation.contract.as_str(),
            activation.record,
            activation.late_blocks,
            &activation.error
        ),
        ("commitACS", operator.address(), 0, &None)
    );
    assert!(
        node.chain
            .package(&package, None)
            .unwrap()
            .unwrap()
            .info
            .active
    );
    let me = operator.address();
    let block = node.block(vec![
        set(
            &operator,
            1,
            package,
            me,
            &[
                ("rate", "0.05"),
                ("sprate", "1"),
                ("rc", "100"),
                ("bl", "1000"),
            ],
        ),
        join(&holders[0], 0, package),
        join(&holders[1], 0, package),
        join(&holders[2], 0, package),
    ]);
    block.receipts.iter().for_each(ok);
    let block = node.block(vec![
        set(
            &operator,
            2,
            package,
            holders[0].address(),
            &[("stka", "10"), ("bl", "50")],
        ),
        set(
            &operator,
            3,
            package,
            holders[1].address(),
            &[("stkb", "3")],
        ),
        set(&operator, 4, package, holders[2].address(), &[("bl", "5")]),
    ]);
    block.receipts.iter().for_each(ok);
    Seeded {
        node,
        package,
        operator,
        holders,
    }
}

#[test]
fn the_seeds_package_deploys_as_printed_and_pays_hand_checked_dividends() {
    let Seeded {
        node,
        package,
        operator,
        holders,
    } = seeded();
    let me = operator.address();
    // Two operator runs: eps 10 then 9, a dividend of 100 each time.
    let block = node.block(vec![
        call(&operator, 5, package, "operator", me),
        call(&operator, 6, package, "operator", me),
    ]);
    block.receipts.iter().for_each(ok);
    let fields = node.fields(&package, &me);
    assert_eq!(fields["bl"], d("800"));
    assert_eq!(fields["xdbl"], d("200"));
    assert_eq!(fields["xdc"], d("2"));
    assert_eq!(fields["stkav"], d("3300"));

    let [a, b, none] = &holders;
    let block = node.block(vec![
        // getvbl before: 50 + 10 × (2 − 0) × 1 × (1 − 0.05) = 69.
        call(a, 1, package, "holder.getvbl", a.address()),
        call(a, 2, package, "holder", a.address()),
        call(a, 3, package, "holder.getvbl", a.address()),
        call(b, 1, package, "holder", b.address()),
        call(none, 1, package, "holder", none.address()),
    ]);
    block.receipts.iter().for_each(ok);
    assert_eq!(returned(&block.receipts[0]), Some(d("69")));
    assert_eq!(returned(&block.receipts[2]), Some(d("51.9")));
    assert_eq!(node.fields(&package, &a.address())["bl"], d("51.9"));
    assert_eq!(node.fields(&package, &a.address())["xdc"], d("2"));
    assert_eq!(node.fields(&package, &b.address())["bl"], d("1.9"));
    // No shares: the holder contract returns at once and writes nothing.
    assert_eq!(
        node.fields(&package, &none.address()),
        BTreeMap::from([("bl".to_string(), d("5"))])
    );
    // A query runs against the head and writes nothing.
    let before = node.chain.head().state_root;
    assert_eq!(
        node.chain
            .query_contract(&package, "holder.getvbl", &a.address())
            .unwrap(),
        Ok(Some(d("51.9")))
    );
    assert_eq!(node.chain.head().state_root, before);
    // Receipts carry the gas spent.
    assert!(block.receipts[0].contract.as_ref().unwrap().gas_used > acs::BASE_GAS);
    assert!(verify_chain(node.chain.store(), None, |_, _| {}).is_ok());
}

#[test]
fn roles_are_enforced() {
    let Seeded {
        node,
        package,
        operator,
        holders,
    } = seeded();
    let [a, b, _] = &holders;
    let me = operator.address();
    let block = node.block(vec![
        // A holder runs an operator contract.
        call(a, 1, package, "operator", me),
        // A holder runs a contract on another holder's record.
        call(a, 2, package, "holder", b.address()),
        // The operator runs a holder contract on the operator's record.
        call(&operator, 5, package, "holder", me),
        // A holder sets fields.
        set(a, 3, package, a.address(), &[("bl", "1000000")]),
        // A contract the package does not have.
        call(a, 4, package, "holder.nothing", a.address()),
        // Joining twice.
        join(a, 5, package),
        // The operator may run a holder contract on a holder's record.
        call(&operator, 6, package, "holder", b.address()),
        // An address that never joined has no record.
        call(&operator, 7, package, "holder", Address::repeat_byte(9)),
        // A package that does not exist.
        call(a, 6, Address::repeat_byte(7), "holder", a.address()),
        // A holder runs an operator contract on its own record.
        call(a, 7, package, "operator", a.address()),
    ]);
    let errors: Vec<String> = block.receipts[..6].iter().map(error).collect();
    assert!(errors[0].contains("only the operator"), "{}", errors[0]);
    assert!(errors[1].contains("only the operator"), "{}", errors[1]);
    assert!(
        errors[2].contains("runs on holders' records"),
        "{}",
        errors[2]
    );
    assert!(
        errors[3].contains("only the package's operator"),
        "{}",
        errors[3]
    );
    assert!(
        errors[4].contains("no contract `holder.nothing`"),
        "{}",
        errors[4]
    );
    assert!(errors[5].contains("already a holder"), "{}", errors[5]);
    ok(&block.receipts[6]);
    assert!(error(&block.receipts[7]).contains("not a record"));
    assert!(error(&block.receipts[8]).contains("no package"));
    let wrong_role = error(&block.receipts[9]);
    assert!(
        wrong_role.contains("runs on the operator's records"),
        "{wrong_role}"
    );
    // Every refused action still used its nonce, and changed no field.
    assert_eq!(node.nonce(a), 8);
    assert_eq!(node.fields(&package, &a.address())["bl"], d("50"));
}

#[test]
fn gas_runs_out_with_its_place_and_a_failed_call_writes_nothing() {
    let node = Node::new();
    let key = dev_account_key(0);
    let source = "x.acs.operator={ p.w.a = 1;\n p.w.b = p.b + 1; p.w.c = 1 / p.zero; }\n\
                  x.acs.operator.two={ p.w.a = 2; p.w.b = 2; }\n";
    node.block(vec![deploy(&key, 0, source)]);
    let package = package_address(CryptoSuite::Ed25519Keccak, &key.address(), 0);
    let me = key.address();
    let need = acs::intrinsic_gas(&AcsAction::Call {
        package,
        contract: "operator.two".into(),
        record: me,
    });
    let block = node.block(vec![
        // Division by zero at line 2: nothing the run wrote before it stays.
        call(&key, 1, package, "operator", me),
        // Two writes of 20 gas and two literals of 1: 42 gas; 41 is not enough.
        call_with_gas(&key, 2, package, "operator.two", me, need + 41),
        call_with_gas(&key, 3, package, "operator.two", me, need + 42),
    ]);
    let division = error(&block.receipts[0]);
    assert!(division.starts_with("2:"), "{division}");
    assert!(division.contains("division by zero"), "{division}");
    let out = error(&block.receipts[1]);
    assert!(out.contains("out of gas"), "{out}");
    assert_eq!(
        block.receipts[1].contract.as_ref().unwrap().gas_used,
        need + 41
    );
    ok(&block.receipts[2]);
    assert_eq!(
        block.receipts[2].contract.as_ref().unwrap().gas_used,
        need + 42
    );
    assert_eq!(
        node.fields(&package, &me),
        BTreeMap::from([("a".to_string(), d("2")), ("b".to_string(), d("2"))])
    );
    // A gas limit below the intrinsic gas or above the maximum is not applicable at all.
    let executed = node
        .chain
        .propose(
            vec![call_with_gas(
                &key,
                4,
                package,
                "operator.two",
                me,
                need - 1,
            )],
            node.chain.head().timestamp_ms + 1,
            dev_validator_key(0).address(),
        )
        .unwrap();
    assert!(executed.block.transactions.is_empty());
    assert_eq!(executed.excluded.len(), 1);
}

#[test]
fn a_deployment_that_does_not_compile_fails_with_its_place() {
    let node = Node::new();
    let key = dev_account_key(0);
    let block = node.block(vec![deploy(
        &key,
        0,
        "x=1\nx.acs.holder={\n  p.w.a = ;\n}\n",
    )]);
    let message = error(&block.receipts[0]);
    assert!(message.starts_with("3:"), "{message}");
    assert!(
        node.chain
            .package(
                &package_address(CryptoSuite::Ed25519Keccak, &key.address(), 0),
                None
            )
            .unwrap()
            .is_none()
    );
}

/// keccak256 of the RLP of a trie path's key, for alloy-trie.
fn nibbles_of(key: &[u8]) -> alloy_trie::Nibbles {
    alloy_trie::Nibbles::unpack(keccak256(key))
}

#[test]
fn records_and_fields_are_proven_by_an_independent_ethereum_trie_library() {
    let Seeded {
        node,
        package,
        operator,
        holders,
    } = seeded();
    node.block(vec![call(
        &operator,
        5,
        package,
        "operator",
        operator.address(),
    )]);
    for record in [operator.address(), holders[0].address()] {
        let view = node
            .chain
            .record(&package, &record, None, true)
            .unwrap()
            .unwrap();
        assert_eq!(view.state_root, node.chain.head().state_root);
        // The package account, as Ethereum encodes an account, under keccak256(address).
        alloy_trie::proof::verify_proof(
            view.state_root,
            nibbles_of(package.as_slice()),
            Some(view.account.encoded()),
            view.account_proof.iter(),
        )
        .expect("the account proof verifies");
        assert_eq!(view.account.code_hash, keccak256(SEED.as_bytes()));
        assert!(!view.fields.is_empty());
        for field in &view.fields {
            // The slot is keccak256(pad32(record) ‖ keccak256(name)); the value the word of
            // the decimal's 18-place integer, RLP-encoded as Ethereum stores a word.
            let mut preimage = [0u8; 64];
            preimage[12..32].copy_from_slice(record.as_slice());
            preimage[32..].copy_from_slice(keccak256(field.name.as_bytes()).as_slice());
            assert_eq!(field.slot, keccak256(preimage));
            let units = field.value.units();
            assert!(units > 0, "the seed's fields here are positive");
            let word = U256::from(units as u128);
            alloy_trie::proof::verify_proof(
                view.account.storage_root,
                nibbles_of(field.slot.as_slice()),
                Some(alloy_rlp::encode(word)),
                field.proof.iter(),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", field.name));
            // The same proof does not prove another value.
            assert!(
                alloy_trie::proof::verify_proof(
                    view.account.storage_root,
                    nibbles_of(field.slot.as_slice()),
                    Some(alloy_rlp::encode(word + U256::from(1))),
                    field.proof.iter(),
                )
                .is_err()
            );
        }
    }
    assert_eq!(node.fields(&package, &operator.address())["bl"], d("900"));
}

#[test]
fn a_second_node_importing_the_blocks_reaches_the_same_roots() {
    let Seeded {
        node,
        package,
        operator,
        holders,
    } = seeded();
    node.block(vec![
        call(&operator, 5, package, "operator", operator.address()),
        call(&holders[0], 1, package, "holder", holders[0].address()),
    ]);
    let follower = Node::new();
    for height in 1..=node.chain.head().height {
        let block = node.chain.block(height).unwrap().unwrap();
        let committed = follower.chain.import(block.clone()).unwrap();
        assert_eq!(committed.len(), 1);
        assert_eq!(committed[0].block.header, block.header);
        assert_eq!(
            committed[0].receipts,
            node.chain.store().receipts(height).unwrap().unwrap()
        );
    }
    assert_eq!(follower.chain.head(), node.chain.head());
    assert_eq!(
        follower.chain.job_runs(&package, 100).unwrap(),
        node.chain.job_runs(&package, 100).unwrap()
    );
}

/// A package whose holder contract runs every 4 blocks on every holder: `n` counts the runs,
/// and a holder whose `d` is 0 divides by zero.
const EVERY_FOURTH: &str = "\
#when trigger=every(4 blocks) run(holder)
t.acs.holder={ p.w.n = p.n + 1;
  p.w.q = 1 / p.d; }
t.acs.operator={ p.w.x = 1; }
";

fn key(index: u32) -> SecretKey {
    let mut bytes = [0x5a; 32];
    bytes[..4].copy_from_slice(&index.to_be_bytes());
    SecretKey::from_bytes(bytes)
}

/// Deploys [`EVERY_FOURTH`] at height 1 and has `holders` join (at 2) and get `d` = 1 (at 3),
/// except holder 3. The schedule first falls due at height 5.
fn crowded(node: &Node, holders: u32) -> Address {
    let operator = dev_account_key(0);
    node.block(vec![deploy(&operator, 0, EVERY_FOURTH)]);
    let package = package_address(CryptoSuite::Ed25519Keccak, &operator.address(), 0);
    let joins: Vec<_> = (0..holders).map(|i| join(&key(i), 0, package)).collect();
    node.block(joins);
    let sets: Vec<_> = (0..holders)
        .filter(|i| *i != 3)
        .enumerate()
        .map(|(n, i)| {
            set(
                &operator,
                1 + n as u64,
                package,
                key(i).address(),
                &[("d", "1")],
            )
        })
        .collect();
    node.block(sets);
    assert!(node.block(vec![]).job_runs.is_empty());
    assert_eq!(node.chain.head().height, 4);
    package
}

#[test]
fn the_job_executor_runs_in_order_within_its_caps_and_records_lateness_and_failures() {
    let node = Node::new();
    let holders = MAX_JOB_RUNS_PER_BLOCK as u32 + 200;
    let package = crowded(&node, holders);
    assert!(node.chain.jobs_due(node.chain.head().timestamp_ms).unwrap());
    let first = node.block(vec![]);
    // The cap: the first 1,000 holders, in join order; the other 200 wait.
    assert_eq!(first.job_runs.len(), MAX_JOB_RUNS_PER_BLOCK);
    let out_of_order = first
        .job_runs
        .iter()
        .enumerate()
        .find(|(i, run)| run.record != key(*i as u32).address());
    assert!(out_of_order.is_none(), "{out_of_order:?}");
    assert!(first.job_runs.iter().all(|run| run.late_blocks == 0));
    // Holder 3 divides by zero: its run failed with the place, and the others went on.
    let failed: Vec<&JobRun> = first
        .job_runs
        .iter()
        .filter(|run| run.error.is_some())
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].record, key(3).address());
    let message = failed[0].error.as_ref().unwrap().to_string();
    // Line 3 of the package, column 13: the `/`.
    assert_eq!(message, "3:13: division by zero");
    assert!(
        first
            .job_runs
            .iter()
            .all(|run| run.gas_used > 0 && run.gas_used <= JOB_RUN_GAS)
    );
    // The next block finishes the occurrence, one block late, from holder 1,000 on.
    assert!(node.chain.jobs_due(node.chain.head().timestamp_ms).unwrap());
    let second = node.block(vec![]);
    assert_eq!(second.job_runs.len(), 200);
    assert!(second.job_runs.iter().all(|run| run.late_blocks == 1));
    assert_eq!(
        second.job_runs[0].record,
        key(MAX_JOB_RUNS_PER_BLOCK as u32).address()
    );
    // Then nothing until height 9.
    assert!(!node.chain.jobs_due(node.chain.head().timestamp_ms).unwrap());
    assert!(node.block(vec![]).job_runs.is_empty());
    assert!(node.block(vec![]).job_runs.is_empty());
    // Every holder ran once; the failing holder's run wrote nothing.
    for i in [0, 2, 999, 1000, 1199] {
        assert_eq!(
            node.fields(&package, &key(i).address())["n"],
            d("1"),
            "holder {i}"
        );
    }
    assert!(!node.fields(&package, &key(3).address()).contains_key("n"));
    // The runs are stored under their blocks and queryable by package, oldest first.
    let stored = node.chain.job_runs(&package, 10_000).unwrap();
    assert_eq!(stored.len(), 1_200);
    assert_eq!(stored[..1_000], first.job_runs[..]);
    assert_eq!(stored[1_000..], second.job_runs[..]);
    assert_eq!(
        node.chain.job_runs(&package, 3).unwrap(),
        second.job_runs[197..]
    );
    let ninth = node.block(vec![]);
    assert_eq!(ninth.block.header.height, 9);
    assert_eq!(ninth.job_runs.len(), MAX_JOB_RUNS_PER_BLOCK);
}

#[test]
fn a_node_restarted_mid_schedule_resumes_where_it_stopped() {
    let holders = MAX_JOB_RUNS_PER_BLOCK as u32 + 50;
    let mut restarted = Node::new();
    let steady = Node::new();
    let package = crowded(&restarted, holders);
    crowded(&steady, holders);
    assert_eq!(restarted.chain.head(), steady.chain.head());
    for round in 0..4 {
        let time = restarted.chain.head().timestamp_ms + 1_000;
        let a = restarted.block_at(vec![], time);
        let b = steady.block_at(vec![], time);
        assert_eq!(a.block.header, b.block.header, "round {round}");
        assert_eq!(a.job_runs, b.job_runs);
        // Work is queued (the cap left 50 runs waiting); stop and start again.
        restarted = restarted.restart();
    }
    assert_eq!(
        restarted.chain.job_runs(&package, 100_000).unwrap(),
        steady.chain.job_runs(&package, 100_000).unwrap()
    );
    assert!(verify_chain(restarted.chain.store(), None, |_, _| {}).is_ok());
}

/// The seed's rent story: the landlord deploys the lease and is its operator; the tenant
/// joins. On the 1st of every month the tenant's record pays the landlord's 10,000, by the
/// `p.w.$f` extension; when it cannot, the lease ends. Nobody sends a transaction after the
/// set-up: the blocks are empty.
const LEASE: &str = "\
#when trigger=monthly(1) run(holder.rent)
lease.rent=10000
lease.acs.holder.rent={ if (p.ended == 1) { return; }
  if (p.bl < p.$rent) { p.w.ended = 1; return; }
  p.w.bl = p.bl - p.$rent; p.w.$bl = p.$bl + p.$rent;
  p.w.paid = p.paid + 1; if (p.paid >= 12) { p.w.ended = 1; } }
";

fn day(year: i64, month: u32, day: u32) -> u64 {
    days_from_civil(year, month, day) as u64 * 86_400_000
}

#[test]
fn the_rent_is_paid_by_schedule_alone_until_the_tenant_cannot_pay() {
    let node = Node::new();
    let landlord = dev_account_key(0);
    let tenant = dev_account_key(1);
    let signed = day(2026, 1, 15) + 12 * 3_600_000;
    node.block_at(vec![deploy(&landlord, 0, LEASE)], signed);
    let lease = package_address(CryptoSuite::Ed25519Keccak, &landlord.address(), 0);
    node.block_at(vec![join(&tenant, 0, lease)], signed + 1_000);
    node.block_at(
        vec![
            set(
                &landlord,
                1,
                lease,
                landlord.address(),
                &[("rent", "10000")],
            ),
            set(&landlord, 2, lease, tenant.address(), &[("bl", "85000")]),
        ],
        signed + 2_000,
    );
    // A block every six hours, empty, through 20 October.
    let mut time = signed + 6 * 3_600_000;
    while time < day(2026, 10, 20) {
        node.block_at(vec![], time);
        time += 6 * 3_600_000;
    }
    let runs = node.chain.job_runs(&lease, 1_000).unwrap();
    // February to October: nine 1sts; 85,000 pays eight months, October ends the lease.
    assert_eq!(runs.len(), 9, "{runs:#?}");
    for (run, month) in runs.iter().zip(2..=10) {
        assert!(run.time_ms >= day(2026, month, 1), "{run:?}");
        assert!(run.time_ms < day(2026, month, 1) + 6 * 3_600_000, "{run:?}");
        assert_eq!((run.late_blocks, &run.error), (0, &None));
    }
    let tenant_fields = node.fields(&lease, &tenant.address());
    assert_eq!(tenant_fields["bl"], d("5000"));
    assert_eq!(tenant_fields["paid"], d("8"));
    assert_eq!(tenant_fields["ended"], d("1"));
    assert_eq!(node.fields(&lease, &landlord.address())["bl"], d("80000"));
    // The producer knows when the schedule needs a block: on 1 November, not the day before.
    assert!(node.chain.jobs_due(day(2026, 11, 1)).unwrap());
    assert!(!node.chain.jobs_due(day(2026, 10, 31)).unwrap());
}

#[test]
fn blocks_respect_the_byte_and_gas_budgets() {
    let node = Node::new();
    // Every call reserves the per-transaction maximum; the block gas limit admits
    // BLOCK_GAS_LIMIT / MAX_TRANSACTION_GAS of them and the proposal stops there.
    let fits = (acs::BLOCK_GAS_LIMIT / acs::MAX_TRANSACTION_GAS) as usize;
    let key = dev_account_key(0);
    let calls: Vec<_> = (0..fits as u64 + 3)
        .map(|nonce| {
            call_with_gas(
                &key,
                nonce,
                Address::ZERO,
                "x",
                key.address(),
                acs::MAX_TRANSACTION_GAS,
            )
        })
        .collect();
    let executed = node
        .chain
        .propose(calls, 2_000, dev_validator_key(0).address())
        .unwrap();
    assert_eq!(executed.block.transactions.len(), fits);
    // A block that carries more is refused on import.
    let mut over = executed.block.clone();
    over.transactions.push(call_with_gas(
        &key,
        fits as u64,
        Address::ZERO,
        "x",
        key.address(),
        acs::MAX_TRANSACTION_GAS,
    ));
    over.header.transactions_root =
        cairn_ledger::transactions_root(CryptoSuite::Ed25519Keccak, &over.transactions);
    over.seal = Seal::sign(
        &over.hash(CryptoSuite::Ed25519Keccak),
        &dev_validator_key(0),
    );
    let fresh = Node::new();
    let error = fresh.chain.import(over).unwrap_err().to_string();
    assert!(error.contains("block gas limit"), "{error}");
}

#[test]
fn records_whose_condition_does_not_hold_still_count_toward_the_visits_cap() {
    let node = Node::new();
    let operator = dev_account_key(0);
    let source = "#when p.on == 1 trigger=every(4 blocks) run(holder)\n\
                  t.acs.holder={ p.w.n = p.n + 1; }\n";
    node.block(vec![deploy(&operator, 0, source)]);
    let package = package_address(CryptoSuite::Ed25519Keccak, &operator.address(), 0);
    let holders = acs::MAX_JOB_VISITS_PER_BLOCK as u32 + 1_000;
    node.block((0..holders).map(|i| join(&key(i), 0, package)).collect());
    // Only the last holder's condition holds.
    let last = key(holders - 1).address();
    node.block(vec![set(&operator, 1, package, last, &[("on", "1")])]);
    assert!(node.block(vec![]).job_runs.is_empty());
    // Height 5: the first 5,000 records are visited, none runs; the last waits.
    let first = node.block(vec![]);
    assert_eq!(first.block.header.height, 5);
    assert!(first.job_runs.is_empty());
    let second = node.block(vec![]);
    assert_eq!(second.job_runs.len(), 1);
    assert_eq!(
        (second.job_runs[0].record, second.job_runs[0].late_blocks),
        (last, 1)
    );
    assert_eq!(node.fields(&package, &last)["n"], d("1"));
}

#[test]
fn long_error_messages_are_stored_as_they_are_kept() {
    let node = Node::new();
    let key = dev_account_key(0);
    let name = "x".repeat(2 * cairn_primitives::MAX_ERROR_BYTES);
    let source = format!("#when {name} >= 1 trigger=onStart commitACS\n");
    let block = node.block(vec![deploy(&key, 0, &source)]);
    let message = error(&block.receipts[0]);
    assert!(message.contains("unknown name"), "{}", &message[..60]);
    assert!(
        block.receipts[0]
            .contract
            .as_ref()
            .unwrap()
            .error
            .as_ref()
            .unwrap()
            .message
            .len()
            <= cairn_primitives::MAX_ERROR_BYTES
    );
    assert_eq!(
        node.chain.store().receipts(1).unwrap().unwrap(),
        block.receipts
    );
    assert!(verify_chain(node.chain.store(), None, |_, _| {}).is_ok());
}

#[test]
fn a_run_refused_for_want_of_room_writes_nothing_anywhere() {
    let node = Node::new();
    let operator = dev_account_key(0);
    let holder = dev_account_key(1);
    let source = "t.acs.holder={ p.w.x = p.x + 1; p.w.$y = p.$y + 1; }\n";
    node.block(vec![deploy(&operator, 0, source)]);
    let package = package_address(CryptoSuite::Ed25519Keccak, &operator.address(), 0);
    node.block(vec![join(&holder, 0, package)]);
    // The operator's record is full: 128 fields, none of them `y`.
    let names: Vec<String> = (0..acs::MAX_RECORD_FIELDS)
        .map(|i| format!("f{i}"))
        .collect();
    let sets: Vec<_> = names
        .chunks(cairn_primitives::MAX_SET_FIELDS)
        .enumerate()
        .map(|(n, chunk)| {
            let fields: Vec<(&str, &str)> = chunk.iter().map(|name| (name.as_str(), "1")).collect();
            set(
                &operator,
                1 + n as u64,
                package,
                operator.address(),
                &fields,
            )
        })
        .collect();
    node.block(sets).receipts.iter().for_each(ok);
    let block = node.block(vec![call(&holder, 1, package, "holder", holder.address())]);
    let message = error(&block.receipts[0]);
    assert!(message.contains("more than 128 fields"), "{message}");
    // The holder's own write (`x`) did not land either.
    assert!(node.fields(&package, &holder.address()).is_empty());
    assert_eq!(
        node.fields(&package, &operator.address()).len(),
        acs::MAX_RECORD_FIELDS
    );
}

#[test]
fn every_field_a_contract_may_read_is_paid_for_before_it_runs() {
    let node = Node::new();
    let key = dev_account_key(0);
    // Three distinct fields read, one of them only in a branch that never runs.
    let source = "t.acs.operator={ if (0) { p.w.r = p.c; } p.w.r = p.a + p.b + p.a; }\n";
    node.block(vec![deploy(&key, 0, source)]);
    let package = package_address(CryptoSuite::Ed25519Keccak, &key.address(), 0);
    let me = key.address();
    let call_gas = acs::intrinsic_gas(&AcsAction::Call {
        package,
        contract: "operator".into(),
        record: me,
    });
    let reads = 3 * acs::FIELD_READ_GAS;
    let block = node.block(vec![
        call_with_gas(&key, 1, package, "operator", me, call_gas + reads - 1),
        call_with_gas(&key, 2, package, "operator", me, call_gas + reads + 1_000),
    ]);
    let refused = error(&block.receipts[0]);
    assert!(
        refused.contains("out of gas") && refused.contains("3 fields"),
        "{refused}"
    );
    ok(&block.receipts[1]);
    let used = block.receipts[1].contract.as_ref().unwrap().gas_used;
    assert!(
        used > call_gas + reads && used < call_gas + reads + 1_000,
        "{used}"
    );
}

#[test]
fn a_package_has_at_most_sixteen_schedule_lines() {
    let node = Node::new();
    let key = dev_account_key(0);
    let mut source = String::from("t.acs.operator={ p.w.n = p.n + 1; }\n");
    for _ in 0..=acs::MAX_SCHEDULE_LINES {
        source.push_str("#when trigger=every(1 blocks) run(operator)\n");
    }
    let block = node.block(vec![deploy(&key, 0, &source)]);
    let message = error(&block.receipts[0]);
    assert!(message.starts_with("18:1:"), "{message}");
    assert!(acs::compile_for_chain(&source).is_err());
}
