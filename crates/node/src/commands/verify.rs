//! `cairn verify-chain`.

use std::path::Path;

use anyhow::bail;
use cairn_consensus::bft::seal::CertificateSeals;
use cairn_ledger::ValidatorSet;
use cairn_ledger::verify::verify_chain;
use indicatif::{ProgressBar, ProgressStyle};

use crate::runtime::open_existing_store;

/// Re-validates the chain in `data_dir`, exiting non-zero on the first inconsistency.
pub fn run(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let store = open_existing_store(data_dir)?;
    // Multi-validator chains seal blocks with consensus certificates; check them too.
    let genesis = store
        .genesis()?
        .ok_or_else(|| anyhow::anyhow!("no genesis stored"))?;
    let genesis_hash = store
        .header(0)?
        .ok_or_else(|| anyhow::anyhow!("no genesis block stored"))?
        .hash();
    let seals = CertificateSeals::new(&genesis_hash, &ValidatorSet::from_genesis(&genesis))
        .map_err(|e| anyhow::anyhow!("genesis validators: {e}"))?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} verifying [{bar:40}] {pos}/{len} blocks {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let result = verify_chain(&store, Some(&seals), |done, total| {
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
