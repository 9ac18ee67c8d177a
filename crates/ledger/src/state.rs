//! Account state over the secure trie, with a write-back cache of touched accounts.

use std::collections::HashMap;

use cairn_primitives::{Account, Address, B256, CryptoSuite, decode_exact};
use cairn_trie::{NodeBatch, NodeStore, SecureTrie, TrieError};

/// Account state rooted in a secure trie.
///
/// Execution reads and writes accounts through a cache; [`StateDb::flush`] writes each touched
/// account into the trie once, so a block that moves funds between the same accounts many
/// times costs one trie update per account, not per transfer.
///
/// Accounts with storage (contract packages) have their storage tries opened on first use and
/// kept, with their changes, until [`StateDb::commit`].
pub struct StateDb<S> {
    trie: SecureTrie<S>,
    touched: HashMap<Address, Account>,
    storage: HashMap<Address, SecureTrie<S>>,
    /// Storage values read or written since the last commit: contracts read the same few
    /// slots (a package's metadata, its operator's fields) call after call.
    slots: HashMap<(Address, B256), Option<Vec<u8>>>,
    suite: CryptoSuite,
}

impl<S: NodeStore> StateDb<S> {
    /// Empty state of a `suite` chain.
    pub fn empty(store: S, suite: CryptoSuite) -> Self {
        Self {
            trie: SecureTrie::new_with(store, crate::node_hash(suite)),
            touched: HashMap::new(),
            storage: HashMap::new(),
            slots: HashMap::new(),
            suite,
        }
    }

    /// State of a `suite` chain at a committed root.
    pub fn open(store: S, root: B256, suite: CryptoSuite) -> Result<Self, TrieError> {
        Ok(Self {
            trie: SecureTrie::open_with(store, root, crate::node_hash(suite))?,
            touched: HashMap::new(),
            storage: HashMap::new(),
            slots: HashMap::new(),
            suite,
        })
    }

    /// The chain's crypto suite: its tries' hash, and its accounts' empty roots.
    pub fn suite(&self) -> CryptoSuite {
        self.suite
    }

    /// The account at `address` (a default, empty account if it does not exist).
    pub fn account(&mut self, address: &Address) -> Result<Account, StateError> {
        if let Some(account) = self.touched.get(address) {
            return Ok(*account);
        }
        let account = read_account(&self.trie, address)?.unwrap_or(Account::empty(self.suite));
        Ok(account)
    }

    /// Replaces the account at `address` (in the cache until [`StateDb::flush`]).
    pub fn set_account(&mut self, address: Address, account: Account) {
        self.touched.insert(address, account);
    }

    /// Writes every touched account into the trie (each changed storage trie's root into its
    /// account first).
    pub fn flush(&mut self) -> Result<(), StateError> {
        let addresses: Vec<Address> = self.storage.keys().copied().collect();
        for address in addresses {
            let root = match self.storage.get_mut(&address) {
                Some(trie) => trie.root_hash()?,
                None => continue,
            };
            let mut account = self.account(&address)?;
            if account.storage_root != root {
                account.storage_root = root;
                self.touched.insert(address, account);
            }
        }
        // One sorted batch: each account's path walk starts where the previous one's ended.
        self.trie.insert_batch(
            self.touched
                .drain()
                .map(|(address, account)| (address, account.encoded())),
        )?;
        Ok(())
    }

    /// Flushes and returns the state root.
    pub fn root(&mut self) -> Result<B256, StateError> {
        self.flush()?;
        Ok(self.trie.root_hash()?)
    }

    /// Flushes and commits, returning the root and the trie nodes created since the last
    /// commit (to be stored with the block).
    pub fn commit(&mut self) -> Result<(B256, NodeBatch), StateError> {
        self.flush()?;
        let (root, mut nodes) = self.trie.commit()?;
        for trie in self.storage.values_mut() {
            nodes.append(trie.commit()?.1);
        }
        self.storage.clear();
        self.slots.clear();
        Ok((root, nodes))
    }
}

impl<S: NodeStore + Clone> StateDb<S> {
    fn storage_trie(&mut self, address: &Address) -> Result<&mut SecureTrie<S>, StateError> {
        if !self.storage.contains_key(address) {
            let root = self.account(address)?.storage_root;
            let trie = SecureTrie::open_with(
                self.trie.store().clone(),
                root,
                crate::node_hash(self.suite),
            )?;
            self.storage.insert(*address, trie);
        }
        match self.storage.get_mut(address) {
            Some(trie) => Ok(trie),
            None => unreachable!("the storage trie was just inserted"),
        }
    }

    /// The value at `slot` of `address`'s storage (keyed, as in Ethereum, by the hash of the
    /// slot).
    pub fn storage(
        &mut self,
        address: &Address,
        slot: &B256,
    ) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(value) = self.slots.get(&(*address, *slot)) {
            return Ok(value.clone());
        }
        let value = self.storage_trie(address)?.get(slot.as_slice())?;
        self.slots.insert((*address, *slot), value.clone());
        Ok(value)
    }

    /// Sets (or, with an empty value, removes) the value at `slot` of `address`'s storage.
    pub fn set_storage(
        &mut self,
        address: &Address,
        slot: &B256,
        value: &[u8],
    ) -> Result<(), StateError> {
        let trie = self.storage_trie(address)?;
        if value.is_empty() {
            trie.remove(slot.as_slice())?;
        } else {
            trie.insert(slot.as_slice(), value)?;
        }
        self.slots.insert(
            (*address, *slot),
            (!value.is_empty()).then(|| value.to_vec()),
        );
        Ok(())
    }
}

/// Reads one account from a state trie.
pub(crate) fn read_account<S: NodeStore>(
    trie: &SecureTrie<S>,
    address: &Address,
) -> Result<Option<Account>, StateError> {
    match trie.get(address.as_slice())? {
        None => Ok(None),
        Some(bytes) => decode_exact::<Account>(&bytes)
            .map(Some)
            .map_err(|e| StateError::CorruptAccount(*address, e.to_string())),
    }
}

/// State access failures.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The trie could not be read (a missing node or a store failure).
    #[error(transparent)]
    Trie(#[from] TrieError),
    /// An account record in the trie does not decode.
    #[error("account {0:#x} has a corrupt encoding: {1}")]
    CorruptAccount(Address, String),
}
