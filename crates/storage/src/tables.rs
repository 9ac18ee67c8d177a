//! Table layout. Keys are fixed-width so redb orders them numerically.

use redb::TableDefinition;

/// height -> canonical block encoding.
pub const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
/// height -> header encoding (duplicated from the block so header reads stay small).
pub const HEADERS: TableDefinition<u64, &[u8]> = TableDefinition::new("headers");
/// block hash -> height.
pub const BLOCK_HEIGHTS: TableDefinition<[u8; 32], u64> = TableDefinition::new("block_heights");
/// height -> rlp list of the block's receipts.
pub const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");
/// transaction hash -> (height, index within the block).
pub const TX_INDEX: TableDefinition<[u8; 32], (u64, u32)> = TableDefinition::new("tx_index");
/// (package address, height) -> rlp list of the package's scheduled runs at the start of that
/// block. Added with contracts; a database written before them gains the empty table on open.
pub const JOB_RUNS: TableDefinition<([u8; 20], u64), &[u8]> = TableDefinition::new("job_runs");
/// height -> the seal of a block whose body and receipts were dropped (the cluster holds
/// them); its header stays in `headers`.
pub const PRUNED: TableDefinition<u64, &[u8]> = TableDefinition::new("pruned");
/// (height, share) -> a share of a block this node stores for the cluster: the 32-byte
/// commitment, then the share's bytes.
pub const SHARES: TableDefinition<(u64, u16), &[u8]> = TableDefinition::new("shares");
/// node hash -> RLP encoding of a trie node.
pub const TRIE_NODES: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("trie_nodes");
/// small named values: the head, the genesis document, the schema version.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// META key: 8-byte big-endian height followed by the 32-byte hash of the head block.
pub const META_HEAD: &str = "head";
/// META key: the genesis JSON the chain was created from.
pub const META_GENESIS: &str = "genesis";
/// META key: layout version of this file.
pub const META_SCHEMA: &str = "schema_version";

/// Version written into new databases; bump on incompatible layout changes.
pub const SCHEMA_VERSION: u32 = 1;
