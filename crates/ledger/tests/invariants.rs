//! Property tests backing crates/ledger/INVARIANTS.md.
#![allow(clippy::unwrap_used)]

use cairn_ledger::StateDb;
use cairn_ledger::execute::apply_transfer;
use cairn_primitives::CryptoSuite;
use cairn_primitives::{Account, Address, Outcome, SecretKey, Transaction};
use cairn_trie::MemoryNodeStore;
use proptest::prelude::*;

const CHAIN: u64 = 5;

fn keys() -> Vec<SecretKey> {
    (1u8..=4).map(|i| SecretKey::from_bytes([i; 32])).collect()
}

/// A transfer attempt: sender index, recipient index (4 means an outside address), amount,
/// and whether to use a wrong nonce.
fn attempts() -> impl Strategy<Value = Vec<(usize, usize, u128, bool)>> {
    proptest::collection::vec(
        (
            0usize..4,
            0usize..5,
            0u128..150,
            proptest::bool::weighted(0.1),
        ),
        0..60,
    )
}

fn run(
    balances: &[u128],
    attempts: &[(usize, usize, u128, bool)],
) -> (StateDb<MemoryNodeStore>, Vec<Outcome>) {
    let keys = keys();
    let outsider = Address::repeat_byte(0xee);
    let mut state = StateDb::empty(MemoryNodeStore::default(), CryptoSuite::Ed25519Keccak);
    for (key, balance) in keys.iter().zip(balances) {
        state.set_account(
            key.address(),
            Account::with_balance(CryptoSuite::Ed25519Keccak, 0, *balance),
        );
    }
    let mut outcomes = Vec::new();
    for &(from, to, amount, wrong_nonce) in attempts {
        let sender = &keys[from];
        let nonce = state.account(&sender.address()).unwrap().nonce + u64::from(wrong_nonce);
        let to = if to == 4 {
            outsider
        } else {
            keys[to].address()
        };
        let tx = Transaction {
            chain_id: CHAIN,
            nonce,
            to,
            amount,
        }
        .sign(sender);
        if let Ok(receipt) = apply_transfer(&mut state, CHAIN, &tx) {
            outcomes.push(receipt.outcome);
        }
    }
    (state, outcomes)
}

/// How many transfers each sender has included, by the rules alone: every attempt with the
/// right nonce is included (funded or not), none with a wrong one.
fn model_nonces(attempts: &[(usize, usize, u128, bool)]) -> Vec<u64> {
    let mut nonces = vec![0u64; keys().len()];
    for &(from, _, _, wrong_nonce) in attempts {
        if !wrong_nonce {
            nonces[from] += 1;
        }
    }
    nonces
}

fn total(state: &mut StateDb<MemoryNodeStore>) -> u128 {
    let mut sum = 0;
    for key in keys() {
        sum += state.account(&key.address()).unwrap().balance;
    }
    sum + state.account(&Address::repeat_byte(0xee)).unwrap().balance
}

proptest! {
    /// Transfers move value, never create or destroy it.
    #[test]
    fn supply_is_conserved(balances in proptest::collection::vec(0u128..200, 4), attempts in attempts()) {
        let (mut state, _) = run(&balances, &attempts);
        prop_assert_eq!(total(&mut state), balances.iter().sum::<u128>());
    }

    /// Each included transfer advances its sender's nonce by exactly one; excluded ones
    /// (wrong nonce) change nothing.
    #[test]
    fn nonces_count_included_transfers(balances in proptest::collection::vec(0u128..200, 4), attempts in attempts()) {
        let (mut state, _) = run(&balances, &attempts);
        for (key, count) in keys().iter().zip(model_nonces(&attempts)) {
            prop_assert_eq!(state.account(&key.address()).unwrap().nonce, count);
        }
    }

    /// Execution is deterministic: the same transfers from the same state give the same
    /// root and receipts, on any node.
    #[test]
    fn execution_is_deterministic(balances in proptest::collection::vec(0u128..200, 4), attempts in attempts()) {
        let (mut a, outcomes_a) = run(&balances, &attempts);
        let (mut b, outcomes_b) = run(&balances, &attempts);
        prop_assert_eq!(a.root().unwrap(), b.root().unwrap());
        prop_assert_eq!(outcomes_a, outcomes_b);
    }

    /// A failed transfer leaves every balance as it was.
    #[test]
    fn failed_transfers_move_nothing(balance in 0u128..100, amount in 0u128..200) {
        let key = &keys()[0];
        let mut state = StateDb::empty(MemoryNodeStore::default(), CryptoSuite::Ed25519Keccak);
        state.set_account(key.address(), Account::with_balance(CryptoSuite::Ed25519Keccak, 0, balance));
        let tx = Transaction { chain_id: CHAIN, nonce: 0, to: Address::repeat_byte(1), amount }.sign(key);
        let receipt = apply_transfer(&mut state, CHAIN, &tx).unwrap();
        let after = state.account(&key.address()).unwrap();
        if receipt.outcome.is_success() {
            prop_assert!(amount <= balance);
            prop_assert_eq!(after.balance, balance - amount);
        } else {
            prop_assert!(amount > balance);
            prop_assert_eq!(after.balance, balance);
            prop_assert_eq!(state.account(&Address::repeat_byte(1)).unwrap().balance, 0);
        }
        prop_assert_eq!(after.nonce, 1);
    }
}
