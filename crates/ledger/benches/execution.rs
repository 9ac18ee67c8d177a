//! Block execution, the ledger's hot path: apply a block's transfers to the state and compute
//! the roots a header carries.
#![allow(missing_docs, clippy::unwrap_used)]

use cairn_ledger::StateDb;
use cairn_ledger::execute::apply_transfer;
use cairn_ledger::{receipts_root, transactions_root};
use cairn_primitives::{Account, SecretKey, SignedTransaction, Transaction};
use cairn_trie::MemoryNodeStore;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const CHAIN: u64 = 1;
const ACCOUNTS: usize = 1_000;
const TRANSFERS: usize = 10_000;

fn setup() -> (Vec<SecretKey>, Vec<SignedTransaction>) {
    let keys: Vec<SecretKey> = (0..ACCOUNTS)
        .map(|i| {
            let mut seed = [9u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
            SecretKey::from_bytes(seed)
        })
        .collect();
    let txs = (0..TRANSFERS)
        .map(|i| {
            let to = keys[(i * 7 + 1) % ACCOUNTS].address();
            Transaction {
                chain_id: CHAIN,
                nonce: (i / ACCOUNTS) as u64,
                to,
                amount: 1,
            }
            .sign(&keys[i % ACCOUNTS])
        })
        .collect();
    (keys, txs)
}

const KECCAK: cairn_primitives::CryptoSuite = cairn_primitives::CryptoSuite::Ed25519Keccak;

fn funded(keys: &[SecretKey]) -> StateDb<MemoryNodeStore> {
    let mut state = StateDb::empty(MemoryNodeStore::default(), KECCAK);
    for key in keys {
        state.set_account(
            key.address(),
            Account::with_balance(KECCAK, 0, u128::MAX / 2),
        );
    }
    state.root().unwrap();
    state
}

fn execution(c: &mut Criterion) {
    let (keys, txs) = setup();
    c.bench_function(
        "execute 10k transfers among 1k accounts + state root",
        |b| {
            b.iter_batched(
                || funded(&keys),
                |mut state| {
                    let receipts: Vec<_> = txs
                        .iter()
                        .map(|tx| apply_transfer(&mut state, CHAIN, tx).unwrap())
                        .collect();
                    (state.root().unwrap(), receipts)
                },
                BatchSize::LargeInput,
            )
        },
    );
    c.bench_function("transactions root of 10k transfers", |b| {
        b.iter(|| transactions_root(KECCAK, &txs))
    });
    let mut state = funded(&keys);
    let receipts: Vec<_> = txs
        .iter()
        .map(|tx| apply_transfer(&mut state, CHAIN, tx).unwrap())
        .collect();
    c.bench_function("receipts root of 10k receipts", |b| {
        b.iter(|| receipts_root(KECCAK, &receipts))
    });
}

criterion_group!(benches, execution);
criterion_main!(benches);
