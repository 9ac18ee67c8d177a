//! `cairn verify-chain`.

use std::collections::BTreeMap;
use std::path::Path;

use alloy_rlp::Decodable;
use anyhow::bail;
use cairn_consensus::bft::seal::CertificateSeals;
use cairn_ledger::verify::verify_chain_with;
use cairn_ledger::{ValidatorSet, receipts_root, transactions_root};
use cairn_primitives::{Block, Receipt, SignedTransaction};
use cairn_storage::Store;
use indicatif::{ProgressBar, ProgressStyle};

use crate::exit::Failure;
use crate::runtime::open_existing_store;

/// Dropped bodies read ahead at once.
const READ_AHEAD: u64 = 16;

type Body = (Vec<SignedTransaction>, Vec<Receipt>);

/// Reads the bodies a store dropped from cluster members' APIs (which read them through the
/// cluster): the first answer that matches the stored header wins.
struct ClusterReader<'a> {
    store: &'a Store,
    members: Vec<cairn_client::Client>,
    runtime: tokio::runtime::Runtime,
    ahead: BTreeMap<u64, Result<Body, String>>,
}

impl ClusterReader<'_> {
    fn read(&mut self, height: u64) -> Result<Body, String> {
        if !self.ahead.contains_key(&height) {
            let mut heights = Vec::new();
            for next in height..height + READ_AHEAD {
                if self.store.is_pruned(next).map_err(|e| e.to_string())? {
                    heights.push(next);
                }
            }
            let reads = heights.iter().map(|height| self.fetch(*height));
            let bodies = self.runtime.block_on(futures::future::join_all(reads));
            self.ahead = heights.into_iter().zip(bodies).collect();
        }
        self.ahead
            .remove(&height)
            .unwrap_or_else(|| Err("not read".into()))
    }

    async fn fetch(&self, height: u64) -> Result<Body, String> {
        let header = self
            .store
            .header(height)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "no header stored".to_string())?;
        let suite = self.store.suite().map_err(|e| e.to_string())?;
        let mut problems = Vec::new();
        for member in &self.members {
            let raw = match member.raw_block(height).await {
                Ok(raw) => raw,
                Err(error) => {
                    problems.push(format!("{}: {error}", member.base_url()));
                    continue;
                }
            };
            let block = Block::decode(&mut raw.block.as_ref());
            let receipts = Vec::<Receipt>::decode(&mut raw.receipts.as_ref());
            match (block, receipts) {
                (Ok(block), Ok(receipts))
                    if transactions_root(suite, &block.transactions)
                        == header.transactions_root
                        && receipts_root(suite, &receipts) == header.receipts_root =>
                {
                    return Ok((block.transactions, receipts));
                }
                _ => problems.push(format!(
                    "{}: its answer does not match the stored header",
                    member.base_url()
                )),
            }
        }
        Err(problems.join("; "))
    }
}

/// Re-validates the chain in `data_dir`, exiting non-zero on the first inconsistency; the
/// bodies the node dropped are read through the cluster members at `cluster_api`.
pub fn run(data_dir: &Path, cluster_api: &[String], json: bool) -> anyhow::Result<()> {
    let store = open_existing_store(data_dir)?;
    let mut members = Vec::with_capacity(cluster_api.len());
    for url in cluster_api {
        members.push(
            cairn_client::Client::new(url)
                .map_err(|e| Failure::usage("invalid_argument", format!("--cluster-api: {e}")))?,
        );
    }
    let mut reader = ClusterReader {
        store: &store,
        members,
        runtime: crate::client::small_runtime()?,
        ahead: BTreeMap::new(),
    };
    let mut read = |height: u64| reader.read(height);
    let archive: Option<cairn_ledger::verify::Archive<'_>> =
        (!cluster_api.is_empty()).then_some(&mut read);
    // Multi-validator chains seal blocks with consensus certificates; check them too.
    let genesis = store
        .genesis()?
        .ok_or_else(|| anyhow::anyhow!("no genesis stored"))?;
    let genesis_hash = store
        .header(0)?
        .ok_or_else(|| anyhow::anyhow!("no genesis block stored"))?
        .hash(genesis.crypto);
    let seals = CertificateSeals::new(
        &genesis_hash,
        &ValidatorSet::from_genesis(&genesis),
        genesis.crypto,
    )
    .map_err(|e| anyhow::anyhow!("genesis validators: {e}"))?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} verifying [{bar:40}] {pos}/{len} blocks {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let result = verify_chain_with(&store, Some(&seals), archive, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "ok": true, "height": report.head_height, "head": report.head_hash,
                        "transactions": report.transactions, "accounts": report.accounts,
                    })
                );
            } else {
                println!(
                    "ok: {} blocks, {} transactions, {} accounts; head {} at height {}",
                    report.head_height + 1,
                    report.transactions,
                    report.accounts,
                    report.head_hash,
                    report.head_height
                );
            }
            Ok(())
        }
        Err(error) => bail!("chain verification failed at {error}"),
    }
}
