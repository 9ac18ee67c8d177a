//! Transaction execution: the state transition function.
//!
//! A transaction is *applicable* when it carries the chain's id and the sender's next nonce
//! (and, for a contract action, a gas limit between its intrinsic gas and the per-transaction
//! maximum); only applicable transactions may appear in a block. An applicable transaction
//! always yields a receipt and always consumes the nonce. A transfer moves funds only if the
//! sender can afford it and the recipient's balance does not overflow; a contract action
//! (see [`crate::acs`]) changes state only if it succeeds. Signatures are checked before
//! execution (at admission or block import), not here.

use cairn_primitives::{Account, Body, FailureReason, Outcome, Receipt, SignedTransaction};
use cairn_trie::NodeStore;

use crate::acs::{self, BlockContext};
use crate::state::{StateDb, StateError};

/// Why a transfer cannot be included in a block at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotApplicable {
    /// The transfer was signed for another chain.
    #[error("chain id {got}, expected {expected}")]
    WrongChain {
        /// This chain's id.
        expected: u64,
        /// The transfer's chain id.
        got: u64,
    },
    /// The nonce is not the sender's next one.
    #[error("nonce {got}, expected {expected}")]
    BadNonce {
        /// The sender's next nonce.
        expected: u64,
        /// The transfer's nonce.
        got: u64,
    },
    /// A contract action's gas limit does not cover the gas it costs before it runs.
    #[error("gas limit {limit} is below the {needed} gas the action costs before it runs")]
    GasBelowIntrinsic {
        /// The intrinsic gas.
        needed: u64,
        /// The transaction's gas limit.
        limit: u64,
    },
    /// A contract action asks for more gas than one transaction may.
    #[error("gas limit {limit} is above the per-transaction maximum of {max}")]
    GasAboveMaximum {
        /// The maximum.
        max: u64,
        /// The transaction's gas limit.
        limit: u64,
    },
    /// A contract action handed to the transfer-only executor.
    #[error("not a transfer")]
    NotATransfer,
}

/// Errors while executing: either the transfer is not applicable, or state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    /// The transfer may not be included.
    #[error(transparent)]
    NotApplicable(#[from] NotApplicable),
    /// The state is unreadable (a storage fault, not the transfer's fault).
    #[error(transparent)]
    State(#[from] StateError),
}

/// Checks the chain id and nonce (and a contract action's gas limit) and consumes the nonce,
/// returning the sender's account as it is after that.
fn consume_nonce<S: NodeStore>(
    state: &mut StateDb<S>,
    chain_id: u64,
    tx: &SignedTransaction,
) -> Result<Account, ExecutionError> {
    if tx.chain_id() != chain_id {
        return Err(NotApplicable::WrongChain {
            expected: chain_id,
            got: tx.chain_id(),
        }
        .into());
    }
    if let Some(acs) = tx.acs() {
        acs::check_gas_limit(acs)?;
    }
    let mut sender = state.account(&tx.sender())?;
    if tx.nonce() != sender.nonce {
        return Err(NotApplicable::BadNonce {
            expected: sender.nonce,
            got: tx.nonce(),
        }
        .into());
    }
    // The nonce is consumed whatever happens next, so the sender cannot replay it.
    sender.nonce += 1;
    Ok(sender)
}

/// Applies one transaction of either kind to `state` in the block `ctx`, returning its
/// receipt: the single execution path of proposing, importing and `verify-chain`.
pub fn apply_transaction<S: NodeStore + Clone>(
    state: &mut StateDb<S>,
    ctx: &BlockContext<'_>,
    tx: &SignedTransaction,
) -> Result<Receipt, ExecutionError> {
    match tx.tx() {
        Body::Transfer(_) => apply_transfer(state, ctx.chain_id, tx),
        Body::Acs(action) => {
            let sender = consume_nonce(state, ctx.chain_id, tx)?;
            state.set_account(tx.sender(), sender);
            acs::apply_acs(state, ctx, tx, action)
        }
    }
}

/// Applies one transfer to `state`, returning its receipt.
pub fn apply_transfer<S: NodeStore>(
    state: &mut StateDb<S>,
    chain_id: u64,
    tx: &SignedTransaction,
) -> Result<Receipt, ExecutionError> {
    let Some(transfer) = tx.transfer() else {
        return Err(NotApplicable::NotATransfer.into());
    };
    let mut sender = consume_nonce(state, chain_id, tx)?;
    let sender_address = tx.sender();
    let (to, amount) = (transfer.to, transfer.amount);
    let outcome = if sender.balance < amount {
        Outcome::Failed(FailureReason::InsufficientFunds)
    } else if to == sender_address {
        Outcome::Success
    } else {
        let mut recipient = state.account(&to)?;
        match recipient.balance.checked_add(amount) {
            None => Outcome::Failed(FailureReason::BalanceOverflow),
            Some(balance) => {
                recipient.balance = balance;
                sender.balance -= amount;
                state.set_account(to, recipient);
                Outcome::Success
            }
        }
    };
    state.set_account(sender_address, sender);
    Ok(Receipt::transfer(tx.hash(), outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_primitives::CryptoSuite;
    use cairn_primitives::{Account, Address, SecretKey, Transaction};
    use cairn_trie::MemoryNodeStore;

    const CHAIN: u64 = 9;

    fn funded(balances: &[(Address, u128)]) -> StateDb<MemoryNodeStore> {
        let mut state = StateDb::empty(MemoryNodeStore::default(), CryptoSuite::Ed25519Keccak);
        for (address, balance) in balances {
            state.set_account(
                *address,
                Account::with_balance(CryptoSuite::Ed25519Keccak, 0, *balance),
            );
        }
        state
    }

    fn transfer(key: &SecretKey, nonce: u64, to: Address, amount: u128) -> SignedTransaction {
        Transaction {
            chain_id: CHAIN,
            nonce,
            to,
            amount,
        }
        .sign(key)
    }

    #[test]
    fn transfer_moves_funds_and_bumps_nonce() {
        let alice = SecretKey::from_bytes([1; 32]);
        let bob = Address::repeat_byte(0xb0);
        let mut state = funded(&[(alice.address(), 100)]);
        let receipt = apply_transfer(&mut state, CHAIN, &transfer(&alice, 0, bob, 60)).unwrap();
        assert_eq!(receipt.outcome, Outcome::Success);
        assert_eq!(
            state.account(&alice.address()).unwrap(),
            Account::with_balance(CryptoSuite::Ed25519Keccak, 1, 40)
        );
        assert_eq!(
            state.account(&bob).unwrap(),
            Account::with_balance(CryptoSuite::Ed25519Keccak, 0, 60)
        );
    }

    #[test]
    fn overspend_fails_without_moving_funds_but_uses_the_nonce() {
        let alice = SecretKey::from_bytes([1; 32]);
        let bob = Address::repeat_byte(0xb0);
        let mut state = funded(&[(alice.address(), 100)]);
        let receipt = apply_transfer(&mut state, CHAIN, &transfer(&alice, 0, bob, 101)).unwrap();
        assert_eq!(
            receipt.outcome,
            Outcome::Failed(FailureReason::InsufficientFunds)
        );
        assert_eq!(
            state.account(&alice.address()).unwrap(),
            Account::with_balance(CryptoSuite::Ed25519Keccak, 1, 100)
        );
        assert_eq!(state.account(&bob).unwrap().balance, 0);
    }

    #[test]
    fn recipient_overflow_fails() {
        let alice = SecretKey::from_bytes([1; 32]);
        let whale = Address::repeat_byte(0xee);
        let mut state = funded(&[(alice.address(), 10), (whale, u128::MAX)]);
        let receipt = apply_transfer(&mut state, CHAIN, &transfer(&alice, 0, whale, 1)).unwrap();
        assert_eq!(
            receipt.outcome,
            Outcome::Failed(FailureReason::BalanceOverflow)
        );
        assert_eq!(
            state.account(&alice.address()).unwrap(),
            Account::with_balance(CryptoSuite::Ed25519Keccak, 1, 10)
        );
        assert_eq!(state.account(&whale).unwrap().balance, u128::MAX);
    }

    #[test]
    fn self_transfer_keeps_balance() {
        let alice = SecretKey::from_bytes([1; 32]);
        let mut state = funded(&[(alice.address(), 10)]);
        let tx = transfer(&alice, 0, alice.address(), 10);
        assert_eq!(
            apply_transfer(&mut state, CHAIN, &tx).unwrap().outcome,
            Outcome::Success
        );
        assert_eq!(
            state.account(&alice.address()).unwrap(),
            Account::with_balance(CryptoSuite::Ed25519Keccak, 1, 10)
        );
    }

    #[test]
    fn wrong_chain_and_wrong_nonce_are_not_applicable() {
        let alice = SecretKey::from_bytes([1; 32]);
        let bob = Address::repeat_byte(0xb0);
        let mut state = funded(&[(alice.address(), 10)]);
        let other_chain = Transaction {
            chain_id: CHAIN + 1,
            nonce: 0,
            to: bob,
            amount: 1,
        }
        .sign(&alice);
        assert!(matches!(
            apply_transfer(&mut state, CHAIN, &other_chain),
            Err(ExecutionError::NotApplicable(
                NotApplicable::WrongChain { .. }
            ))
        ));
        assert!(matches!(
            apply_transfer(&mut state, CHAIN, &transfer(&alice, 1, bob, 1)),
            Err(ExecutionError::NotApplicable(NotApplicable::BadNonce {
                expected: 0,
                got: 1
            }))
        ));
        // Neither attempt changed anything.
        assert_eq!(
            state.account(&alice.address()).unwrap(),
            Account::with_balance(CryptoSuite::Ed25519Keccak, 0, 10)
        );
        apply_transfer(&mut state, CHAIN, &transfer(&alice, 0, bob, 1)).unwrap();
        assert!(matches!(
            apply_transfer(&mut state, CHAIN, &transfer(&alice, 0, bob, 1)),
            Err(ExecutionError::NotApplicable(NotApplicable::BadNonce {
                expected: 1,
                got: 0
            }))
        ));
    }
}
