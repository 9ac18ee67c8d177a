//! The chain end to end over a real redb store: production, import with full validation,
//! proofs, persistence and whole-chain verification.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_primitives::CryptoSuite;
use std::sync::Arc;

use cairn_ledger::verify::{verify_chain, verify_chain_with};
use cairn_ledger::{BlockError, Chain, ChainError, transactions_root};
use cairn_primitives::dev::{dev_account_key, dev_genesis, dev_validator_key};
use cairn_primitives::{
    Account, Address, Block, ConsensusEngine, FailureReason, GenesisConfig, Outcome, Seal,
    SecretKey, SignedTransaction, Transaction, decode_exact,
};
use cairn_storage::Store;
use cairn_trie::verify_secure_proof;
use tempfile::TempDir;

const CHAIN_ID: u64 = cairn_primitives::dev::DEV_CHAIN_ID;

fn new_chain() -> (TempDir, Arc<Chain>) {
    new_chain_with(&dev_genesis(1, 1_000))
}

fn new_chain_with(genesis: &GenesisConfig) -> (TempDir, Arc<Chain>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("chain.redb")).unwrap();
    Chain::initialize(&store, genesis).unwrap();
    (dir, Arc::new(Chain::open(store).unwrap()))
}

/// A new chain from `genesis` whose certificates are checked by [`LabelledCertificates`].
fn certified_chain(genesis: &GenesisConfig) -> (TempDir, Chain) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("chain.redb")).unwrap();
    Chain::initialize(&store, genesis).unwrap();
    let chain = Chain::open(store)
        .unwrap()
        .with_seal_verifier(Arc::new(LabelledCertificates));
    (dir, chain)
}

/// A development genesis whose `validators` agree by BFT consensus (named, so that even one
/// validator runs BFT).
fn bft_genesis(validators: u32) -> GenesisConfig {
    let mut genesis = dev_genesis(validators, 1_000);
    genesis.consensus.engine = Some(ConsensusEngine::Bft);
    genesis
}

fn transfer(
    from: &impl cairn_primitives::TransactionSigner,
    nonce: u64,
    to: Address,
    amount: u128,
) -> SignedTransaction {
    Transaction {
        chain_id: CHAIN_ID,
        nonce,
        to,
        amount,
    }
    .sign(from)
}

fn produce(chain: &Chain, txs: Vec<SignedTransaction>) -> Block {
    let validator = dev_validator_key(0);
    let ts = chain.head().timestamp_ms + 1;
    let executed = chain.propose(txs, ts, validator.address()).unwrap();
    let seal = Seal::sign(&executed.hash(), &validator);
    chain.commit(&executed.hash(), seal).unwrap().block.clone()
}

/// Re-seals a block after its header was edited, so only the intended defect remains.
fn reseal(mut block: Block, key: &SecretKey) -> Block {
    block.header.proposer = key.address();
    block.seal = Seal::sign(&block.hash(CryptoSuite::Ed25519Keccak), key);
    block
}

fn balance(chain: &Chain, address: &Address) -> u128 {
    chain
        .account(address, None)
        .unwrap()
        .unwrap_or(cairn_primitives::Account::empty(CryptoSuite::Ed25519Keccak))
        .balance
}

#[test]
fn a_follower_imports_what_the_producer_commits() {
    let (_a, producer) = new_chain();
    let (_b, follower) = new_chain();
    assert_eq!(producer.genesis_hash(), follower.genesis_hash());
    let alice = dev_account_key(0);
    let bob = Address::repeat_byte(0xb0);
    let mut events = follower.subscribe();
    for round in 0..3u64 {
        let txs = (0..5)
            .map(|i| transfer(&alice, round * 5 + i, bob, 10))
            .collect();
        let block = produce(&producer, txs);
        let imported = follower.import(block.clone()).unwrap();
        assert_eq!(imported.len(), 1);
        assert_eq!(imported[0].block, block);
        assert_eq!(
            events
                .try_recv()
                .unwrap()
                .block
                .hash(CryptoSuite::Ed25519Keccak),
            block.hash(CryptoSuite::Ed25519Keccak)
        );
    }
    assert_eq!(follower.head(), producer.head());
    assert_eq!(balance(&follower, &bob), 150);
    assert_eq!(
        follower
            .account(&alice.address(), None)
            .unwrap()
            .unwrap()
            .nonce,
        15
    );
}

#[test]
fn overspending_fails_in_its_receipt_and_moves_nothing() {
    let (_dir, chain) = new_chain();
    let alice = dev_account_key(0);
    let bob = Address::repeat_byte(0xb0);
    let before = balance(&chain, &alice.address());
    let block = produce(
        &chain,
        vec![
            transfer(&alice, 0, bob, before + 1),
            transfer(&alice, 1, bob, 5),
        ],
    );
    let receipts = chain
        .store()
        .receipts(block.header.height)
        .unwrap()
        .unwrap();
    assert_eq!(
        receipts[0].outcome,
        Outcome::Failed(FailureReason::InsufficientFunds)
    );
    assert_eq!(receipts[1].outcome, Outcome::Success);
    assert_eq!(balance(&chain, &alice.address()), before - 5);
    assert_eq!(balance(&chain, &bob), 5);
}

#[test]
fn proposals_leave_out_transfers_that_cannot_be_included() {
    let (_dir, chain) = new_chain();
    let alice = dev_account_key(0);
    let bob = Address::repeat_byte(0xb0);
    let other_chain = Transaction {
        chain_id: CHAIN_ID + 1,
        nonce: 0,
        to: bob,
        amount: 1,
    }
    .sign(&alice);
    let gap = transfer(&alice, 5, bob, 1);
    let good = transfer(&alice, 0, bob, 1);
    let executed = chain
        .propose(
            vec![other_chain, gap, good.clone()],
            2_000,
            dev_validator_key(0).address(),
        )
        .unwrap();
    assert_eq!(executed.block.transactions, vec![good]);
    assert_eq!(executed.excluded.len(), 2);
}

fn expect_invalid(chain: &Chain, block: Block) -> BlockError {
    match chain.import(block) {
        Err(ChainError::InvalidBlock(error)) => error,
        other => panic!("expected an invalid block, got {other:?}"),
    }
}

#[test]
fn import_rejects_every_kind_of_bad_block() {
    let (_a, producer) = new_chain();
    let (_b, follower) = new_chain();
    let alice = dev_account_key(0);
    let bob = Address::repeat_byte(0xb0);
    let validator = dev_validator_key(0);
    let stranger = SecretKey::from_bytes([42; 32]);
    let good = produce(&producer, vec![transfer(&alice, 0, bob, 7)]);

    // Sealed by someone who is not a validator.
    assert!(matches!(
        expect_invalid(&follower, reseal(good.clone(), &stranger)),
        BlockError::UnknownProposer(_)
    ));
    // A validator's header with a forged seal.
    let mut forged = good.clone();
    forged.seal = Seal::sign(&good.hash(CryptoSuite::Ed25519Keccak), &stranger);
    assert!(matches!(
        expect_invalid(&follower, forged),
        BlockError::BadSeal(_)
    ));
    // Wrong parent.
    let mut orphan = good.clone();
    orphan.header.parent_hash = orphan.header.state_root;
    assert!(matches!(
        follower.import(reseal(orphan, &validator)),
        Err(ChainError::UnknownParent(_))
    ));
    // Timestamp before the parent's.
    let mut early = good.clone();
    early.header.timestamp_ms = 0;
    assert!(matches!(
        expect_invalid(&follower, reseal(early, &validator)),
        BlockError::BadTimestamp { .. }
    ));
    // A state root that does not follow from the transactions.
    let mut lying = good.clone();
    lying.header.state_root = lying.header.receipts_root;
    assert!(matches!(
        expect_invalid(&follower, reseal(lying, &validator)),
        BlockError::RootMismatch { which: "state", .. }
    ));
    // A transactions root that does not match the body.
    let mut swapped_body = good.clone();
    swapped_body.transactions = vec![transfer(&alice, 0, bob, 8)];
    assert!(matches!(
        expect_invalid(&follower, reseal(swapped_body, &validator)),
        BlockError::RootMismatch {
            which: "transactions",
            ..
        }
    ));
    // A transaction whose signature was tampered with (roots recomputed to match).
    let tx = &good.transactions[0];
    let mut signature = *tx.signature();
    signature.0[0] ^= 1;
    let mut tampered = good.clone();
    tampered.transactions = vec![SignedTransaction::new(
        tx.tx().clone(),
        *tx.public_key(),
        signature,
    )];
    tampered.header.transactions_root =
        transactions_root(CryptoSuite::Ed25519Keccak, &tampered.transactions);
    assert!(matches!(
        expect_invalid(&follower, reseal(tampered, &validator)),
        BlockError::BadSignature { index: 0, .. }
    ));
    // A transaction for another chain.
    let mut foreign = good.clone();
    foreign.transactions = vec![
        Transaction {
            chain_id: 99,
            nonce: 0,
            to: bob,
            amount: 7,
        }
        .sign(&alice),
    ];
    foreign.header.transactions_root =
        transactions_root(CryptoSuite::Ed25519Keccak, &foreign.transactions);
    assert!(matches!(
        expect_invalid(&follower, reseal(foreign, &validator)),
        BlockError::NotApplicable { .. }
    ));

    // None of that moved the follower; the genuine block still imports.
    assert_eq!(follower.head().height, 0);
    follower.import(good.clone()).unwrap();

    // Replaying a committed transfer in the next block is refused.
    let next = produce(&producer, vec![transfer(&alice, 1, bob, 1)]);
    let mut replay = next.clone();
    replay.transactions = vec![good.transactions[0].clone()];
    replay.header.transactions_root =
        transactions_root(CryptoSuite::Ed25519Keccak, &replay.transactions);
    assert!(matches!(
        expect_invalid(&follower, reseal(replay, &validator)),
        BlockError::NotApplicable { .. }
    ));
    // Importing the same block twice is a no-op: peers re-send what a node already has.
    assert!(follower.import(good).unwrap().is_empty());
    follower.import(next).unwrap();
    assert_eq!(follower.head(), producer.head());
}

#[test]
fn account_proofs_verify_against_the_state_root_of_any_height() {
    let (_dir, chain) = new_chain();
    let alice = dev_account_key(0);
    let bob = Address::repeat_byte(0xb0);
    produce(&chain, vec![transfer(&alice, 0, bob, 100)]);
    produce(&chain, vec![transfer(&alice, 1, bob, 1)]);
    for (height, expected) in [(1, 100u128), (2, 101)] {
        let proven = chain.account_proof(&bob, Some(height)).unwrap();
        assert_eq!(
            proven.state_root,
            chain.store().header(height).unwrap().unwrap().state_root
        );
        let value = verify_secure_proof(proven.state_root, bob.as_slice(), &proven.proof)
            .unwrap()
            .unwrap();
        let account: Account = decode_exact(&value).unwrap();
        assert_eq!(
            account,
            Account::with_balance(CryptoSuite::Ed25519Keccak, 0, expected)
        );
        assert_eq!(proven.account, Some(account));
    }
    // At genesis bob did not exist: the proof proves absence.
    let absent = chain.account_proof(&bob, Some(0)).unwrap();
    assert_eq!(absent.account, None);
    assert_eq!(
        verify_secure_proof(absent.state_root, bob.as_slice(), &absent.proof).unwrap(),
        None
    );
    // A proof for one block's root does not verify against another's.
    let newer = chain.account_proof(&bob, Some(2)).unwrap();
    let older_root = chain.store().header(1).unwrap().unwrap().state_root;
    assert!(verify_secure_proof(older_root, bob.as_slice(), &newer.proof).is_err());
}

#[test]
fn a_reopened_chain_resumes_at_its_head_with_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    let alice = dev_account_key(0);
    let bob = Address::repeat_byte(0xb0);
    let head = {
        let store = Store::open(&path).unwrap();
        Chain::initialize(&store, &dev_genesis(1, 1_000)).unwrap();
        let chain = Chain::open(store).unwrap();
        produce(&chain, vec![transfer(&alice, 0, bob, 3)]);
        produce(&chain, vec![transfer(&alice, 1, bob, 4)]);
        chain.head()
    };
    let chain = Chain::open(Store::open(&path).unwrap()).unwrap();
    assert_eq!(chain.head(), head);
    assert_eq!(balance(&chain, &bob), 7);
    produce(&chain, vec![transfer(&alice, 2, bob, 5)]);
    assert_eq!(balance(&chain, &bob), 12);
    // Initializing again with the same genesis is a no-op; another genesis is refused.
    assert!(Chain::initialize(chain.store(), &dev_genesis(1, 1_000)).is_ok());
    assert!(matches!(
        Chain::initialize(chain.store(), &dev_genesis(2, 1_000)),
        Err(ChainError::GenesisMismatch { .. })
    ));
}

/// Builds (without committing) a block with `txs` on `parent`.
fn build_on(
    chain: &Chain,
    parent: &cairn_primitives::B256,
    txs: Vec<SignedTransaction>,
) -> Arc<cairn_ledger::ExecutedBlock> {
    let validator = dev_validator_key(0);
    chain
        .propose_on(parent, txs, 2_000, validator.address(), Default::default())
        .unwrap()
}

fn seal_of(executed: &cairn_ledger::ExecutedBlock) -> Seal {
    Seal::sign(&executed.hash(), &dev_validator_key(0))
}

#[test]
fn blocks_build_on_unfinalized_parents_and_commit_in_order() {
    let (_dir, chain) = new_chain();
    let alice = dev_account_key(0);
    let bob = Address::repeat_byte(0xb0);
    let genesis = chain.head().hash(CryptoSuite::Ed25519Keccak);
    // Three blocks, each on the previous one, none committed yet.
    let b1 = build_on(&chain, &genesis, vec![transfer(&alice, 0, bob, 1)]);
    let b2 = build_on(&chain, &b1.hash(), vec![transfer(&alice, 1, bob, 2)]);
    let b3 = build_on(&chain, &b2.hash(), vec![transfer(&alice, 2, bob, 3)]);
    assert_eq!(b3.block.header.height, 3);
    assert_eq!(chain.pending_len(), 3);
    assert_eq!(balance(&chain, &bob), 0, "nothing is committed yet");
    // A child cannot commit before its parent.
    assert!(matches!(
        chain.commit(&b2.hash(), seal_of(&b2)),
        Err(ChainError::InvalidBlock(BlockError::NotOnHead { .. }))
    ));
    for executed in [&b1, &b2, &b3] {
        chain.commit(&executed.hash(), seal_of(executed)).unwrap();
    }
    assert_eq!(balance(&chain, &bob), 6);
    assert_eq!(chain.pending_len(), 0);
    assert_eq!(
        chain.pending_nodes(),
        0,
        "committed blocks' nodes leave the pending layer"
    );
    assert!(verify_chain(chain.store(), None, |_, _| {}).is_ok());
}

#[test]
fn committing_one_branch_drops_the_others() {
    let (_dir, chain) = new_chain();
    let alice = dev_account_key(0);
    let genesis = chain.head().hash(CryptoSuite::Ed25519Keccak);
    // Two competing blocks at height 1, each with a child.
    let a = build_on(
        &chain,
        &genesis,
        vec![transfer(&alice, 0, Address::repeat_byte(1), 1)],
    );
    let b = build_on(
        &chain,
        &genesis,
        vec![transfer(&alice, 0, Address::repeat_byte(2), 1)],
    );
    let a_child = build_on(
        &chain,
        &a.hash(),
        vec![transfer(&alice, 1, Address::repeat_byte(1), 1)],
    );
    let b_child = build_on(
        &chain,
        &b.hash(),
        vec![transfer(&alice, 1, Address::repeat_byte(2), 1)],
    );
    assert_eq!(chain.pending_len(), 4);
    chain.commit(&b.hash(), seal_of(&b)).unwrap();
    // The losing branch is gone, with its descendants; the winner's child remains.
    assert_eq!(chain.pending_len(), 1);
    assert!(chain.pending_block(&b_child.hash()).is_some());
    assert!(matches!(
        chain.commit(&a.hash(), seal_of(&a)),
        Err(ChainError::NotExecuted(_))
    ));
    assert!(matches!(
        chain.commit(&a_child.hash(), seal_of(&a_child)),
        Err(ChainError::NotExecuted(_))
    ));
    // Nor can anything be built on the losing branch or below the head again.
    assert!(matches!(
        chain.propose_on(
            &a.hash(),
            vec![],
            2_000,
            dev_validator_key(0).address(),
            Default::default()
        ),
        Err(ChainError::UnknownParent(_))
    ));
    assert!(matches!(
        chain.propose_on(
            &genesis,
            vec![],
            2_000,
            dev_validator_key(0).address(),
            Default::default()
        ),
        Err(ChainError::InvalidBlock(BlockError::NotOnHead { .. }))
    ));
    chain.commit(&b_child.hash(), seal_of(&b_child)).unwrap();
    assert_eq!(balance(&chain, &Address::repeat_byte(2)), 2);
    assert_eq!(balance(&chain, &Address::repeat_byte(1)), 0);
    assert_eq!(
        chain.pending_nodes(),
        0,
        "dropped branches release their nodes"
    );
}

#[test]
fn a_follower_executes_a_pending_chain_from_another_node() {
    let (_a, producer) = new_chain();
    let (_b, follower) = new_chain();
    let alice = dev_account_key(0);
    let genesis = producer.head().hash(CryptoSuite::Ed25519Keccak);
    let b1 = build_on(
        &producer,
        &genesis,
        vec![transfer(&alice, 0, Address::repeat_byte(1), 5)],
    );
    let b2 = build_on(
        &producer,
        &b1.hash(),
        vec![transfer(&alice, 1, Address::repeat_byte(1), 6)],
    );
    // The follower validates both before either is final, then commits them.
    let f1 = follower.execute_block(b1.block.clone(), false).unwrap();
    let f2 = follower.execute_block(b2.block.clone(), false).unwrap();
    assert_eq!(f2.block.header.state_root, b2.block.header.state_root);
    // Executing again is idempotent.
    assert!(Arc::ptr_eq(
        &f1,
        &follower.execute_block(b1.block.clone(), false).unwrap()
    ));
    // A block whose parent the follower never saw is reported as such.
    let b3 = build_on(&producer, &b2.hash(), vec![]);
    let (_c, stranger) = new_chain();
    assert!(matches!(
        stranger.execute_block(b3.block.clone(), false),
        Err(ChainError::UnknownParent(_))
    ));
    follower.commit(&f1.hash(), seal_of(&f1)).unwrap();
    follower.commit(&f2.hash(), seal_of(&f2)).unwrap();
    assert_eq!(balance(&follower, &Address::repeat_byte(1)), 11);
}

#[test]
fn verify_chain_passes_a_good_chain_and_names_the_first_bad_block() {
    let (_dir, chain) = new_chain();
    let alice = dev_account_key(0);
    let bob = Address::repeat_byte(0xb0);
    for nonce in 0..4 {
        produce(&chain, vec![transfer(&alice, nonce, bob, 1)]);
    }
    let mut calls = 0;
    let report = verify_chain(chain.store(), None, |_, _| calls += 1).unwrap();
    assert_eq!(report.head_height, 4);
    assert_eq!(report.transactions, 4);
    assert_eq!(report.accounts, 11, "ten dev accounts and bob");
    assert_eq!(calls, 5);

    // Write a block with a wrong state root straight into the store, bypassing validation.
    let validator = dev_validator_key(0);
    let executed = chain
        .propose(
            vec![transfer(&alice, 4, bob, 1)],
            chain.head().timestamp_ms,
            validator.address(),
        )
        .unwrap();
    let mut bad = executed.block.clone();
    bad.header.state_root = chain.head().state_root;
    let bad = reseal(bad, &validator);
    chain
        .store()
        .commit_block(&bad, &executed.receipts, &[], &Default::default())
        .unwrap();
    let error = verify_chain(chain.store(), None, |_, _| {}).unwrap_err();
    assert_eq!(error.height, 5);
    assert!(error.problem.contains("state root"), "{error}");
}

#[test]
fn verify_chain_reads_dropped_bodies_from_an_archive_and_checks_them_against_the_headers() {
    let (_dir, chain) = new_chain();
    let alice = dev_account_key(0);
    let bob = Address::repeat_byte(0xb0);
    let mut bodies = std::collections::BTreeMap::new();
    for nonce in 0..6 {
        let block = produce(&chain, vec![transfer(&alice, nonce, bob, 1)]);
        let height = block.header.height;
        let receipts = chain.store().receipts(height).unwrap().unwrap();
        bodies.insert(height, (block.transactions, receipts));
    }
    // A cluster member drops the bodies of its old blocks.
    for height in 1..=4 {
        assert!(chain.store().prune_body(height).unwrap());
    }
    let error = verify_chain(chain.store(), None, |_, _| {}).unwrap_err();
    assert_eq!(error.height, 1);
    assert!(error.problem.contains("body was dropped"), "{error}");

    // Read back honestly, everything checks.
    let mut asked = Vec::new();
    let mut honest = |height: u64| {
        asked.push(height);
        bodies
            .get(&height)
            .cloned()
            .ok_or_else(|| "none".to_string())
    };
    let report = verify_chain_with(chain.store(), None, Some(&mut honest), |_, _| {}).unwrap();
    assert_eq!(report.head_height, 6);
    assert_eq!(report.transactions, 6);
    assert_eq!(asked, vec![1, 2, 3, 4], "only the dropped bodies are read");

    // A body that is not the header's is refused, naming the block.
    let mut forged = |height: u64| {
        let (mut transactions, receipts) = bodies[&height].clone();
        if height == 3 {
            transactions[0] = transfer(&alice, 2, Address::repeat_byte(0xee), 1);
        }
        Ok((transactions, receipts))
    };
    let error = verify_chain_with(chain.store(), None, Some(&mut forged), |_, _| {}).unwrap_err();
    assert_eq!(error.height, 3);
    assert!(error.problem.contains("transactions root"), "{error}");

    // So are receipts that are not the header's.
    let mut lying = |height: u64| {
        let (transactions, mut receipts) = bodies[&height].clone();
        if height == 2 {
            receipts.pop();
        }
        Ok((transactions, receipts))
    };
    let error = verify_chain_with(chain.store(), None, Some(&mut lying), |_, _| {}).unwrap_err();
    assert_eq!(error.height, 2);
    assert!(error.problem.contains("receipts root"), "{error}");

    // And an archive that cannot answer stops the verification there.
    let mut silent = |height: u64| {
        if height == 4 {
            Err("no member answered".to_string())
        } else {
            Ok(bodies[&height].clone())
        }
    };
    let error = verify_chain_with(chain.store(), None, Some(&mut silent), |_, _| {}).unwrap_err();
    assert_eq!(error.height, 4);
    assert!(error.problem.contains("no member answered"), "{error}");
}

/// Certificates whose bytes say what they prove: stands in for a consensus engine's verifier.
struct LabelledCertificates;

impl cairn_ledger::SealVerifier for LabelledCertificates {
    fn verify(
        &self,
        _: &cairn_primitives::B256,
        _: &cairn_primitives::Header,
        seal: &Seal,
        _: &cairn_ledger::ValidatorSet,
    ) -> Result<cairn_ledger::SealStrength, String> {
        match seal {
            Seal::Certificate(bytes) if bytes.as_ref() == b"final" => {
                Ok(cairn_ledger::SealStrength::Final)
            }
            Seal::Certificate(bytes) if bytes.starts_with(b"through:") => {
                Ok(cairn_ledger::SealStrength::Final)
            }
            Seal::Certificate(bytes) if bytes.as_ref() == b"notarized" => {
                Ok(cairn_ledger::SealStrength::Notarized)
            }
            _ => Err("unrecognised certificate".into()),
        }
    }

    fn seal_through(&self, final_seal: &Seal, path: &[cairn_primitives::Header]) -> Option<Seal> {
        (*final_seal == certificate("final"))
            .then(|| Seal::Certificate(format!("through:{}", path.len()).into_bytes().into()))
    }
}

fn certificate(label: &str) -> Seal {
    Seal::Certificate(cairn_primitives::Bytes::copy_from_slice(label.as_bytes()))
}

#[test]
fn notarized_blocks_commit_when_a_final_descendant_arrives() {
    let (_a, producer) = new_chain_with(&bft_genesis(1));
    let (_f, follower) = certified_chain(&bft_genesis(1));
    let alice = dev_account_key(0);
    let genesis = producer.head().hash(CryptoSuite::Ed25519Keccak);
    let b1 = build_on(
        &producer,
        &genesis,
        vec![transfer(&alice, 0, Address::repeat_byte(1), 5)],
    );
    let b2 = build_on(
        &producer,
        &b1.hash(),
        vec![transfer(&alice, 1, Address::repeat_byte(1), 6)],
    );
    let b3 = build_on(&producer, &b2.hash(), vec![]);
    let sealed = |executed: &cairn_ledger::ExecutedBlock, label| Block {
        seal: certificate(label),
        ..executed.block.clone()
    };

    // Notarized blocks wait; a bad certificate is refused outright.
    assert!(
        follower
            .import(sealed(&b1, "notarized"))
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        follower.import(sealed(&b2, "forged")),
        Err(ChainError::InvalidBlock(BlockError::BadSeal(_)))
    ));
    assert!(
        follower
            .import(sealed(&b2, "notarized"))
            .unwrap()
            .is_empty()
    );
    assert_eq!(follower.head().height, 0);
    // The final descendant commits the whole path, in order, with each block's own seal.
    let committed = follower.import(sealed(&b3, "final")).unwrap();
    let heights: Vec<u64> = committed.iter().map(|c| c.block.header.height).collect();
    assert_eq!(heights, vec![1, 2, 3]);
    assert_eq!(
        follower.block(1).unwrap().unwrap().seal,
        certificate("notarized")
    );
    assert_eq!(
        follower.block(3).unwrap().unwrap().seal,
        certificate("final")
    );
    assert_eq!(balance(&follower, &Address::repeat_byte(1)), 11);
    assert!(verify_chain(follower.store(), Some(&LabelledCertificates), |_, _| {}).is_ok());
    // Importing a committed block again commits nothing.
    assert!(follower.import(sealed(&b3, "final")).unwrap().is_empty());
    assert!(
        follower
            .import(sealed(&b1, "notarized"))
            .unwrap()
            .is_empty()
    );
}

/// A pending ancestor that never got its own notarization (a node that caught up heard only of
/// its descendant's finalization) commits with the seal the engine builds from the final
/// block's certificate and the headers that link them. Without an engine that can build one,
/// nothing commits.
#[test]
fn a_final_block_commits_unsealed_ancestors_through_it() {
    let (_dir, chain) = certified_chain(&bft_genesis(1));
    let genesis = chain.head().hash(CryptoSuite::Ed25519Keccak);
    let b1 = build_on(&chain, &genesis, vec![]);
    let b2 = build_on(&chain, &b1.hash(), vec![]);
    let b3 = build_on(&chain, &b2.hash(), vec![]);
    // b2 was notarized here; b1's notarization never arrived.
    chain.attach_seal(&b2.hash(), certificate("notarized"));
    let committed = chain.commit_path(&b3.hash(), certificate("final")).unwrap();
    assert_eq!(committed.len(), 3);
    // b1's seal carries the two headers above it (b2, b3).
    assert_eq!(
        chain.block(1).unwrap().unwrap().seal,
        certificate("through:2")
    );
    assert_eq!(
        chain.block(2).unwrap().unwrap().seal,
        certificate("notarized")
    );
    assert_eq!(chain.block(3).unwrap().unwrap().seal, certificate("final"));
    assert!(verify_chain(chain.store(), Some(&LabelledCertificates), |_, _| {}).is_ok());
    assert!(
        chain
            .commit_path(&b3.hash(), certificate("final"))
            .unwrap()
            .is_empty(),
        "already committed"
    );

    // No engine, no seal through a descendant: nothing commits.
    let (_dir, solo) = new_chain();
    let genesis = solo.head().hash(CryptoSuite::Ed25519Keccak);
    let c1 = build_on(&solo, &genesis, vec![]);
    let c2 = build_on(&solo, &c1.hash(), vec![]);
    assert!(matches!(
        solo.commit_path(&c2.hash(), seal_of(&c2)),
        Err(ChainError::MissingSeal(hash)) if hash == c1.hash()
    ));
    assert_eq!(solo.head().height, 0);
}

#[test]
fn verify_chain_refuses_a_head_that_is_only_notarized() {
    let (_dir, chain) = certified_chain(&bft_genesis(1));
    let genesis = chain.head().hash(CryptoSuite::Ed25519Keccak);
    let b1 = build_on(&chain, &genesis, vec![]);
    chain.commit(&b1.hash(), certificate("final")).unwrap();
    assert!(verify_chain(chain.store(), Some(&LabelledCertificates), |_, _| {}).is_ok());
    let b2 = build_on(&chain, &b1.hash(), vec![]);
    chain.commit(&b2.hash(), certificate("notarized")).unwrap();
    let error = verify_chain(chain.store(), Some(&LabelledCertificates), |_, _| {}).unwrap_err();
    assert!(error.problem.contains("only notarized"), "{error}");
}

/// The pool's contents, as far as block validation is concerned.
struct Known(std::collections::HashSet<cairn_primitives::B256>);

impl cairn_ledger::KnownSignatures for Known {
    fn verified(&self, hash: &cairn_primitives::B256) -> bool {
        self.0.contains(hash)
    }
}

#[test]
fn known_signatures_are_skipped_but_unknown_ones_still_checked() {
    let (_a, producer) = new_chain();
    let alice = dev_account_key(0);
    let bob = Address::repeat_byte(0xb0);
    let good = produce(
        &producer,
        vec![transfer(&alice, 0, bob, 1), transfer(&alice, 1, bob, 1)],
    );
    // A follower that already checked the first transfer (it is in its pool).
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("chain.redb")).unwrap();
    Chain::initialize(&store, &dev_genesis(1, 1_000)).unwrap();
    let known = Known([good.transactions[0].hash()].into_iter().collect());
    let follower = Chain::open(store)
        .unwrap()
        .with_known_signatures(Arc::new(known));
    // The second transfer's signature is forged: not known, so checked, so refused.
    let mut forged = good.clone();
    let tx = &good.transactions[1];
    let mut signature = *tx.signature();
    signature.0[5] ^= 1;
    forged.transactions[1] = SignedTransaction::new(tx.tx().clone(), *tx.public_key(), signature);
    forged.header.transactions_root =
        transactions_root(CryptoSuite::Ed25519Keccak, &forged.transactions);
    let forged = reseal(forged, &dev_validator_key(0));
    assert!(matches!(
        follower.import(forged),
        Err(ChainError::InvalidBlock(BlockError::BadSignature {
            index: 1,
            ..
        }))
    ));
    assert_eq!(follower.import(good).unwrap().len(), 1);
}

/// A BFT chain's blocks are final only under a quorum certificate: a validator that signs a
/// well-formed, validly executed block with its own key (the solo seal) cannot get it
/// imported, nor can such a block pass `verify-chain`; and a solo chain takes no certificates.
#[test]
fn the_seal_rule_follows_the_engine_in_genesis() {
    let genesis = bft_genesis(4);
    let (_p, producer) = new_chain_with(&genesis);
    let (_f, follower) = certified_chain(&genesis);
    let alice = dev_account_key(0);
    let byzantine = dev_validator_key(2);
    let executed = producer
        .propose(
            vec![transfer(&alice, 0, Address::repeat_byte(1), 5)],
            2_000,
            byzantine.address(),
        )
        .unwrap();
    // The block is valid in every respect but its seal: one validator's own signature.
    let forged = Block {
        seal: Seal::sign(&executed.hash(), &byzantine),
        ..executed.block.clone()
    };
    assert!(matches!(
        expect_invalid(&follower, forged.clone()),
        BlockError::BadSeal(message) if message.contains("quorum certificate")
    ));
    assert_eq!(follower.head().height, 0);
    // The same block under a certificate is accepted.
    let certified = Block {
        seal: certificate("final"),
        ..executed.block.clone()
    };
    assert_eq!(follower.import(certified).unwrap().len(), 1);

    // A store that holds a proposer-sealed block on a BFT chain fails verification.
    producer.commit(&executed.hash(), forged.seal).unwrap();
    let error = verify_chain(producer.store(), Some(&LabelledCertificates), |_, _| {}).unwrap_err();
    assert_eq!(error.height, 1);
    assert!(error.problem.contains("quorum certificate"), "{error}");

    // A solo chain refuses certificates, even with a verifier that would accept them.
    let (_s, solo_producer) = new_chain();
    let (_t, solo) = certified_chain(&dev_genesis(1, 1_000));
    let block = build_on(
        &solo_producer,
        &solo_producer.head().hash(CryptoSuite::Ed25519Keccak),
        vec![],
    );
    let certified = Block {
        seal: certificate("final"),
        ..block.block.clone()
    };
    assert!(matches!(
        expect_invalid(&solo, certified),
        BlockError::BadSeal(message) if message.contains("not a certificate")
    ));
}

/// A chain of the national algorithms: SM2-signed transfers, blocks hashed with SM3, a state
/// trie whose proofs verify with SM3 (and not keccak), a follower importing and verifying it,
/// and a block carrying an ed25519 transaction refused whatever its seal.
#[test]
fn an_sm2_sm3_chain_signs_hashes_and_proves_with_its_own_suite() {
    use cairn_primitives::dev::{dev_account_key_for, dev_genesis_for};
    use cairn_trie::{NodeHash, verify_secure_proof_with};

    let sm = CryptoSuite::Sm2Sm3;
    let genesis = dev_genesis_for(sm, 1, 1_000);
    let (_a, producer) = new_chain_with(&genesis);
    let (_b, follower) = new_chain_with(&genesis);
    assert_eq!(producer.suite(), sm);
    let keccak_chain = new_chain().1;
    assert_ne!(producer.genesis_hash(), keccak_chain.genesis_hash());
    let genesis_header = producer.store().header(0).unwrap().unwrap();
    assert_eq!(
        producer.genesis_hash().0,
        cairn_primitives::sm::sm3(&alloy_rlp::encode(&genesis_header))
    );

    let alice = dev_account_key_for(sm, 0);
    let bob = Address::repeat_byte(0xb0);
    let txs = (0..4).map(|n| transfer(&alice, n, bob, 25)).collect();
    let block = produce(&producer, txs);
    assert!(block.transactions.iter().all(|tx| tx.suite() == sm));
    assert_eq!(
        producer.head().hash(sm).0,
        cairn_primitives::sm::sm3(&alloy_rlp::encode(&block.header))
    );
    assert_eq!(
        block.header.transactions_root,
        transactions_root(sm, &block.transactions)
    );
    assert_ne!(
        block.header.transactions_root,
        transactions_root(CryptoSuite::Ed25519Keccak, &block.transactions)
    );
    follower.import(block.clone()).unwrap();
    assert_eq!(follower.head(), producer.head());
    assert_eq!(balance(&follower, &bob), 100);

    let proven = follower.account_proof(&bob, None).unwrap();
    let value = verify_secure_proof_with(
        NodeHash::Sm3,
        proven.state_root,
        bob.as_slice(),
        &proven.proof,
    )
    .unwrap()
    .unwrap();
    let account: Account = decode_exact(&value).unwrap();
    assert_eq!(account, Account::with_balance(sm, 0, 100));
    assert_eq!(account.storage_root, sm.empty_root());
    assert!(verify_secure_proof(proven.state_root, bob.as_slice(), &proven.proof).is_err());

    // A validator proposing an ed25519 transfer on this chain: the block is invalid.
    let validator = dev_validator_key(0);
    let mut bad = produce(
        &keccak_chain,
        vec![transfer(&dev_account_key(0), 0, bob, 1)],
    );
    bad.header.parent_hash = follower.head().hash(sm);
    bad.header.height = follower.head().height + 1;
    bad.header.transactions_root = transactions_root(sm, &bad.transactions);
    bad.seal = Seal::sign(&bad.hash(sm), &validator);
    assert!(matches!(
        expect_invalid(&follower, bad),
        BlockError::WrongSuite {
            suite: CryptoSuite::Ed25519Keccak,
            chain: CryptoSuite::Sm2Sm3,
            ..
        }
    ));

    // SM2 has no batch check, so an sm2-sm3 block carries at most a tenth as many
    // transactions: one more is refused before any signature is looked at.
    let mut crowded = block.clone();
    crowded.header.parent_hash = follower.head().hash(sm);
    crowded.header.height = follower.head().height + 1;
    crowded.transactions = (0..cairn_ledger::MAX_SM2_BLOCK_TRANSACTIONS as u64 + 1)
        .map(|nonce| {
            let unsigned = transfer(&alice, nonce, bob, 1);
            SignedTransaction::new(
                unsigned.tx().clone(),
                *unsigned.public_key(),
                cairn_primitives::Signature([1; 64]),
            )
        })
        .collect();
    crowded.seal = Seal::sign(&crowded.hash(sm), &validator);
    assert!(matches!(
        expect_invalid(&follower, crowded),
        BlockError::TooManyTransactions(4_001, 4_000)
    ));
    assert_eq!(
        cairn_ledger::max_block_transactions(CryptoSuite::Ed25519Keccak),
        cairn_ledger::MAX_BLOCK_TRANSACTIONS
    );

    // The stored chain re-verifies from genesis under SM3.
    let report = verify_chain(follower.store(), None, |_, _| {}).unwrap();
    assert_eq!(report.head_height, 1);
}
