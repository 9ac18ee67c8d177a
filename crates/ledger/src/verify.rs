//! Re-validation of a stored chain from genesis (`cairn verify-chain`).
//!
//! Replays every block on a fresh in-memory state, re-deriving every root and checking every
//! seal and signature, then cross-checks what the store holds beside the blocks: headers,
//! the hash index, receipts, the scheduled runs re-executed, the transaction index, the head
//! pointer and the stored state trie.
//!
//! A node in a storage cluster keeps only the headers and seals of old blocks; their bodies
//! and receipts are read back through an [`Archive`] and accepted only if they match the
//! stored header's transactions and receipts roots.

use cairn_primitives::{B256, Block, CryptoSuite, Header, Receipt, SignedTransaction};
use cairn_storage::Store;
use cairn_trie::{MemoryNodeStore, SecureTrie};

use crate::chain::{
    BlockError, SealStrength, SealVerifier, ValidatorSet, check_header_against_parent, check_seal,
    check_transactions, replay,
};
use crate::genesis::build_genesis;
use crate::roots::{receipts_root, transactions_root};
use crate::state::StateDb;

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Height of the head block.
    pub head_height: u64,
    /// Hash of the head block.
    pub head_hash: B256,
    /// Transactions re-executed.
    pub transactions: u64,
    /// Accounts in the head state.
    pub accounts: u64,
}

/// The first inconsistency found.
#[derive(Debug, thiserror::Error)]
#[error("block {height}: {problem}")]
pub struct VerifyError {
    /// Height where the problem is.
    pub height: u64,
    /// What is wrong.
    pub problem: String,
}

fn fail(height: u64, problem: impl std::fmt::Display) -> VerifyError {
    VerifyError {
        height,
        problem: problem.to_string(),
    }
}

/// Reads the transactions and receipts of a block whose body the store dropped.
pub type Archive<'a> =
    &'a mut dyn FnMut(u64) -> Result<(Vec<SignedTransaction>, Vec<Receipt>), String>;

/// Verifies the whole chain in `store`. `progress(done, total)` is called after each block.
pub fn verify_chain(
    store: &Store,
    seal_verifier: Option<&dyn SealVerifier>,
    progress: impl FnMut(u64, u64),
) -> Result<VerifyReport, VerifyError> {
    verify_chain_with(store, seal_verifier, None, progress)
}

/// [`verify_chain`], reading the bodies the store dropped from `archive`.
pub fn verify_chain_with(
    store: &Store,
    seal_verifier: Option<&dyn SealVerifier>,
    mut archive: Option<Archive<'_>>,
    mut progress: impl FnMut(u64, u64),
) -> Result<VerifyReport, VerifyError> {
    let genesis = store
        .genesis()
        .map_err(|e| fail(0, e))?
        .ok_or_else(|| fail(0, "no genesis document stored"))?;
    let head = store
        .head()
        .map_err(|e| fail(0, e))?
        .ok_or_else(|| fail(0, "no head pointer stored"))?;
    let validators = ValidatorSet::from_genesis(&genesis);
    let chain_id = genesis.chain_id;
    let suite = genesis.crypto;

    let (genesis_block, _) = build_genesis(&genesis).map_err(|e| fail(0, e))?;
    let stored_genesis = store
        .block(0)
        .map_err(|e| fail(0, e))?
        .ok_or_else(|| fail(0, "genesis block missing"))?;
    if stored_genesis != genesis_block {
        return Err(fail(
            0,
            "stored genesis block differs from the one the genesis document builds",
        ));
    }
    let mut state = StateDb::empty(std::sync::Arc::new(MemoryNodeStore::default()), suite);
    let packages = crate::acs::PackageCache::default();
    for account in &genesis.accounts {
        state.set_account(
            account.address,
            cairn_primitives::Account::with_balance(suite, 0, account.balance),
        );
    }
    check_indexes(store, suite, 0, &genesis_block.header)?;
    let mut parent: Header = genesis_block.header;
    // Notarized blocks are final through a final descendant, so the head must be final itself.
    let mut head_strength = None;
    let mut transactions = 0u64;
    progress(0, head.height);

    for height in 1..=head.height {
        let (block, stored_receipts) = match store.block(height).map_err(|e| fail(height, e))? {
            Some(block) => {
                let receipts = store
                    .receipts(height)
                    .map_err(|e| fail(height, e))?
                    .ok_or_else(|| fail(height, "receipts missing"))?;
                (block, receipts)
            }
            None => read_dropped(store, suite, height, &mut archive)?,
        };
        if block.header.height != height {
            return Err(fail(
                height,
                format!(
                    "stored under height {height} but says {}",
                    block.header.height
                ),
            ));
        }
        check_header_against_parent(suite, &parent, &block.header, None)
            .map_err(|e| fail(height, e))?;
        if validators.index_of(&block.header.proposer).is_none() {
            return Err(fail(
                height,
                BlockError::UnknownProposer(block.header.proposer),
            ));
        }
        head_strength = Some(
            check_seal(suite, &validators, seal_verifier, &block).map_err(|e| fail(height, e))?,
        );
        check_transactions(suite, &block, None).map_err(|e| fail(height, e))?;

        let (receipts, job_runs) =
            replay(&mut state, chain_id, &packages, &block).map_err(|e| fail(height, e))?;
        let mut by_package: std::collections::BTreeMap<_, Vec<_>> = Default::default();
        for run in job_runs {
            by_package.entry(run.package).or_default().push(run);
        }
        for (package, runs) in by_package {
            let stored = store
                .job_runs_at(&package, height)
                .map_err(|e| fail(height, e))?;
            if stored != runs {
                return Err(fail(
                    height,
                    format!(
                        "stored scheduled runs of package {package:#x} differ from re-executed ones"
                    ),
                ));
            }
        }
        if stored_receipts != receipts {
            return Err(fail(
                height,
                "stored receipts differ from re-executed receipts",
            ));
        }
        for (index, tx) in block.transactions.iter().enumerate() {
            let location = store.tx_location(&tx.hash()).map_err(|e| fail(height, e))?;
            match location {
                Some(at) if at.height == height && at.index as usize == index => {}
                other => {
                    return Err(fail(
                        height,
                        format!(
                            "transaction index for {} points to {other:?}, expected ({height}, {index})",
                            tx.hash()
                        ),
                    ));
                }
            }
        }
        if block.header.state_root != suite.empty_root()
            && store
                .trie_node(&block.header.state_root)
                .map_err(|e| fail(height, e))?
                .is_none()
        {
            return Err(fail(height, "state root node is not stored"));
        }
        check_indexes(store, suite, height, &block.header)?;
        transactions += block.transactions.len() as u64;
        parent = block.header;
        progress(height, head.height);
    }

    if head_strength == Some(SealStrength::Notarized) {
        return Err(fail(
            head.height,
            "the head is only notarized; no final block covers it",
        ));
    }
    if parent.hash(suite) != head.hash {
        return Err(fail(
            head.height,
            format!(
                "head pointer names {}, the block there is {}",
                head.hash,
                parent.hash(suite)
            ),
        ));
    }
    if store
        .block(head.height + 1)
        .map_err(|e| fail(head.height + 1, e))?
        .is_some()
    {
        return Err(fail(
            head.height + 1,
            "a block is stored above the head pointer",
        ));
    }
    let accounts = compare_stored_state(store, &parent, &mut state)?;
    Ok(VerifyReport {
        head_height: head.height,
        head_hash: head.hash,
        transactions,
        accounts,
    })
}

/// A block whose body the store dropped: its stored header and seal with the body read from
/// the archive, which must match the header's roots.
fn read_dropped(
    store: &Store,
    suite: CryptoSuite,
    height: u64,
    archive: &mut Option<Archive<'_>>,
) -> Result<(Block, Vec<Receipt>), VerifyError> {
    let seal = store
        .pruned_seal(height)
        .map_err(|e| fail(height, e))?
        .ok_or_else(|| fail(height, "block missing below the head"))?;
    let header = store
        .header(height)
        .map_err(|e| fail(height, e))?
        .ok_or_else(|| fail(height, "the header of a dropped body is missing"))?;
    let archive = archive.as_mut().ok_or_else(|| {
        fail(
            height,
            "its body was dropped (the storage cluster holds it); give --cluster-api URL of a running member to read it",
        )
    })?;
    let (transactions, receipts) =
        archive(height).map_err(|e| fail(height, format!("cannot read its dropped body: {e}")))?;
    if transactions_root(suite, &transactions) != header.transactions_root {
        return Err(fail(
            height,
            "the body read back does not match the header's transactions root",
        ));
    }
    if receipts_root(suite, &receipts) != header.receipts_root {
        return Err(fail(
            height,
            "the receipts read back do not match the header's receipts root",
        ));
    }
    Ok((
        Block {
            header,
            transactions,
            seal,
        },
        receipts,
    ))
}

fn check_indexes(
    store: &Store,
    suite: CryptoSuite,
    height: u64,
    header: &Header,
) -> Result<(), VerifyError> {
    let stored_header = store.header(height).map_err(|e| fail(height, e))?;
    if stored_header.as_ref() != Some(header) {
        return Err(fail(height, "header table disagrees with the block"));
    }
    let indexed = store
        .height_of(&header.hash(suite))
        .map_err(|e| fail(height, e))?;
    if indexed != Some(height) {
        return Err(fail(
            height,
            format!("hash index maps the block to {indexed:?}"),
        ));
    }
    Ok(())
}

/// Walks the head state as stored on disk and compares it, entry by entry, with the state
/// re-derived in memory; a missing or damaged trie node shows up here.
fn compare_stored_state(
    store: &Store,
    head: &Header,
    state: &mut StateDb<std::sync::Arc<MemoryNodeStore>>,
) -> Result<u64, VerifyError> {
    let height = head.height;
    let hash = crate::node_hash(state.suite());
    let stored = SecureTrie::open_with(store.node_source(), head.state_root, hash)
        .map_err(|e| fail(height, e))?;
    let (_, nodes) = state.commit().map_err(|e| fail(height, e))?;
    let memory = MemoryNodeStore::default();
    memory.apply(&nodes);
    let derived =
        SecureTrie::open_with(memory, head.state_root, hash).map_err(|e| fail(height, e))?;
    let mut stored_entries = stored.iter();
    let mut count = 0u64;
    for expected in derived.iter() {
        let expected = expected.map_err(|e| fail(height, e))?;
        match stored_entries.next() {
            Some(Ok(actual)) if actual == expected => count += 1,
            Some(Ok(_)) => return Err(fail(height, "stored state differs from re-executed state")),
            Some(Err(e)) => {
                return Err(fail(
                    height,
                    format!("stored state trie is unreadable: {e}"),
                ));
            }
            None => {
                return Err(fail(
                    height,
                    "stored state has fewer accounts than re-executed state",
                ));
            }
        }
    }
    if stored_entries.next().is_some() {
        return Err(fail(
            height,
            "stored state has more accounts than re-executed state",
        ));
    }
    Ok(count)
}
