//! The pool journal: transfers a node accepted but had not yet committed when it stopped
//! cleanly (Ctrl-C, SIGTERM), written on the way out and admitted again on the next start, as
//! geth journals its local transactions. A `kill -9` or a power cut skips the write: what was
//! accepted and not committed is then lost, and a client sees it as `unknown` and resubmits
//! the same signed transaction.
//!
//! Format: the magic `CAIRNPJ1`, then for each transfer its length (u32, big-endian) and its
//! canonical encoding. Written to a temporary file, synced, then renamed over the journal, so a
//! crash while writing leaves the previous journal or none, never half of one. Read as hostile
//! input: every length is bounded, and a damaged tail is reported and ignored.

use std::io::Write;
use std::path::{Path, PathBuf};

use cairn_primitives::{MAX_ACS_TRANSACTION_BYTES, SignedTransaction};

/// The journal's file inside a data directory.
pub const JOURNAL_FILE: &str = "pool.journal";

const MAGIC: &[u8; 8] = b"CAIRNPJ1";

/// The journal's path in `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(JOURNAL_FILE)
}

/// Writes `transactions` as the journal of `data_dir`, durably.
pub fn save(data_dir: &Path, transactions: &[SignedTransaction]) -> std::io::Result<()> {
    let target = path(data_dir);
    let temporary = data_dir.join(format!("{JOURNAL_FILE}.tmp"));
    let mut bytes = Vec::with_capacity(8 + transactions.len() * 160);
    bytes.extend_from_slice(MAGIC);
    for tx in transactions {
        let encoded = tx.encoded();
        let length = u32::try_from(encoded.len()).map_err(std::io::Error::other)?;
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.extend_from_slice(&encoded);
    }
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, &target)?;
    // The rename itself is durable once the directory is synced.
    std::fs::File::open(data_dir)?.sync_all()
}

/// What a journal held.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    /// The transfers, in the order they were written.
    pub transactions: Vec<SignedTransaction>,
    /// Why reading stopped early, if it did (the entries before it are kept).
    pub damage: Option<String>,
}

/// Reads the journal of `data_dir`; nothing if there is none.
pub fn load(data_dir: &Path) -> std::io::Result<Loaded> {
    let bytes = match std::fs::read(path(data_dir)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) => return Err(e),
    };
    Ok(parse(&bytes))
}

/// Removes the journal (once its transfers are back in the pool).
pub fn remove(data_dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path(data_dir)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn parse(bytes: &[u8]) -> Loaded {
    let mut loaded = Loaded::default();
    let Some(mut rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
        loaded.damage = Some("not a pool journal (wrong magic)".into());
        return loaded;
    };
    while !rest.is_empty() {
        let index = loaded.transactions.len();
        let Some((length, tail)) = rest.split_first_chunk::<4>() else {
            loaded.damage = Some(format!("entry {index}: truncated length"));
            break;
        };
        let length = u32::from_be_bytes(*length) as usize;
        if length > MAX_ACS_TRANSACTION_BYTES || length > tail.len() {
            loaded.damage = Some(format!("entry {index}: bad length {length}"));
            break;
        }
        let (encoded, tail) = tail.split_at(length);
        match SignedTransaction::decode_exact(encoded) {
            Ok(tx) => loaded.transactions.push(tx),
            Err(e) => {
                loaded.damage = Some(format!("entry {index}: {e}"));
                break;
            }
        }
        rest = tail;
    }
    loaded
}

#[cfg(test)]
mod tests {
    use cairn_primitives::{Address, SecretKey, Transaction};

    use super::*;

    fn transfers(n: u64) -> Vec<SignedTransaction> {
        let key = SecretKey::from_bytes([7; 32]);
        (0..n)
            .map(|nonce| {
                Transaction {
                    chain_id: 1,
                    nonce,
                    to: Address::repeat_byte(1),
                    amount: u128::from(nonce) + 1,
                }
                .sign(&key)
            })
            .collect()
    }

    #[test]
    fn a_saved_journal_loads_back_and_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), Loaded::default());
        let sent = transfers(5);
        save(dir.path(), &sent).unwrap();
        assert_eq!(load(dir.path()).unwrap().transactions, sent);
        // Saving again replaces, never appends.
        save(dir.path(), &sent[..2]).unwrap();
        assert_eq!(load(dir.path()).unwrap().transactions, sent[..2].to_vec());
        remove(dir.path()).unwrap();
        remove(dir.path()).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Loaded::default());
    }

    #[test]
    fn a_damaged_journal_keeps_what_precedes_the_damage() {
        let dir = tempfile::tempdir().unwrap();
        let sent = transfers(3);
        save(dir.path(), &sent).unwrap();
        let whole = std::fs::read(path(dir.path())).unwrap();
        // Every truncation and every flipped byte loads without a panic, and keeps only whole,
        // valid entries from the front.
        let mut boundaries = vec![MAGIC.len()];
        for tx in &sent {
            boundaries.push(boundaries[boundaries.len() - 1] + 4 + tx.encoded().len());
        }
        assert_eq!(boundaries.last(), Some(&whole.len()));
        for cut in 0..whole.len() {
            let loaded = parse(&whole[..cut]);
            assert!(sent.starts_with(&loaded.transactions), "cut at {cut}");
            // Only a cut between entries reads as a whole (shorter) journal.
            assert_eq!(
                loaded.damage.is_none(),
                boundaries.contains(&cut),
                "cut at {cut}"
            );
        }
        // A flipped byte either ends the journal there, or yields an entry that is one of
        // those written or one that admission refuses (its signature no longer matches).
        for at in 0..whole.len() {
            let mut bad = whole.clone();
            bad[at] ^= 0x55;
            for tx in parse(&bad).transactions {
                assert!(
                    sent.contains(&tx) || tx.verify().is_err(),
                    "flip at {at} made a different, validly signed transfer"
                );
            }
        }
        let huge = [MAGIC.as_slice(), &u32::MAX.to_be_bytes()].concat();
        assert!(parse(&huge).damage.unwrap().contains("bad length"));
    }
}
