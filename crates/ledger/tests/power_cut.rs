//! Power cuts: every block the chain reported committed survives, and nothing half-written is
//! ever visible.
//!
//! `kill -9` cannot test this: the operating system still writes the page cache out after a
//! process dies, so a missing fsync goes unnoticed. Here the chain runs on a simulated disk
//! (a redb `StorageBackend`) that keeps what was synced apart from what was only written.
//! At a random write the power goes: that write and every later one fail, and the disk comes
//! back holding what was synced plus an arbitrary subset of the later writes, each either
//! whole or torn at sector boundaries (a sector is written whole or not at all, as disks
//! guarantee). The chain reopened from that image must have every block it reported
//! committed, and must re-verify from genesis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_primitives::CryptoSuite;
use std::io;
use std::sync::Arc;

use cairn_ledger::Chain;
use cairn_ledger::verify::verify_chain;
use cairn_primitives::dev::{DEV_CHAIN_ID, dev_account_key, dev_genesis, dev_validator_key};
use cairn_primitives::{Address, B256, Seal, Transaction};
use cairn_storage::Store;
use parking_lot::Mutex;

/// Disks write whole sectors or nothing of them.
const SECTOR: usize = 512;

/// A write since the last sync, which a power cut may or may not have let reach the medium.
#[derive(Debug, Clone)]
enum Unsynced {
    Write { offset: usize, data: Vec<u8> },
    SetLen(usize),
}

#[derive(Debug, Default)]
struct Medium {
    /// What a power cut leaves for certain: everything up to the last sync.
    durable: Vec<u8>,
    /// What reads see: the durable image with every later write applied.
    visible: Vec<u8>,
    unsynced: Vec<Unsynced>,
    /// Writes left before the power goes; `None` while it stays on.
    writes_until_cut: Option<u64>,
    cut: bool,
}

/// The simulated disk, shared between redb and the test.
#[derive(Debug, Clone, Default)]
struct PowerCutDisk(Arc<Mutex<Medium>>);

fn power_failure() -> io::Error {
    io::Error::other("the power is off")
}

impl PowerCutDisk {
    /// A disk holding `image`, all of it synced.
    fn with_image(image: Vec<u8>) -> Self {
        Self(Arc::new(Mutex::new(Medium {
            durable: image.clone(),
            visible: image,
            ..Medium::default()
        })))
    }

    /// Cuts the power after `writes` more writes (0: at once).
    fn cut_after(&self, writes: u64) {
        let mut medium = self.0.lock();
        medium.writes_until_cut = Some(writes);
        if writes == 0 {
            medium.cut = true;
        }
    }

    /// What the medium holds when it comes back: the durable image, then each unsynced
    /// operation in order, each kept, lost, or (a write) torn into a subset of its sectors.
    fn image_after_cut(&self, rng: &mut Rng) -> Vec<u8> {
        let medium = self.0.lock();
        let mut image = medium.durable.clone();
        for op in &medium.unsynced {
            match op {
                Unsynced::SetLen(len) => {
                    if rng.chance(2) {
                        image.resize(*len, 0);
                    }
                }
                Unsynced::Write { offset, data } => {
                    let whole = rng.chance(3);
                    let lost = !whole && rng.chance(2);
                    if lost {
                        continue;
                    }
                    let end = offset + data.len();
                    if image.len() < end {
                        image.resize(end, 0);
                    }
                    // Sectors are aligned to the disk, not to the write.
                    let mut at = *offset;
                    while at < end {
                        let sector_end = ((at / SECTOR) + 1) * SECTOR;
                        let piece_end = sector_end.min(end);
                        if whole || rng.chance(2) {
                            image[at..piece_end]
                                .copy_from_slice(&data[at - offset..piece_end - offset]);
                        }
                        at = piece_end;
                    }
                }
            }
        }
        image
    }
}

impl redb::StorageBackend for PowerCutDisk {
    fn len(&self) -> Result<u64, io::Error> {
        Ok(self.0.lock().visible.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let medium = self.0.lock();
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        let end = start + out.len();
        if end > medium.visible.len() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past the end",
            ));
        }
        out.copy_from_slice(&medium.visible[start..end]);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut medium = self.0.lock();
        if medium.cut {
            return Err(power_failure());
        }
        let len = usize::try_from(len).map_err(io::Error::other)?;
        medium.visible.resize(len, 0);
        medium.unsynced.push(Unsynced::SetLen(len));
        Ok(())
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        let mut medium = self.0.lock();
        if medium.cut {
            return Err(power_failure());
        }
        medium.durable = medium.visible.clone();
        medium.unsynced.clear();
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut medium = self.0.lock();
        if let Some(left) = medium.writes_until_cut {
            if left == 0 {
                medium.cut = true;
            }
            medium.writes_until_cut = Some(left.saturating_sub(1));
        }
        if medium.cut {
            return Err(power_failure());
        }
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        let end = start + data.len();
        if medium.visible.len() < end {
            medium.visible.resize(end, 0);
        }
        medium.visible[start..end].copy_from_slice(data);
        medium.unsynced.push(Unsynced::Write {
            offset: start,
            data: data.to_vec(),
        });
        Ok(())
    }
}

/// A small deterministic generator (xorshift64*), so every case replays from its seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True one time in `n`.
    fn chance(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// Commits blocks of transfers until the power goes (or `max_blocks` are in); returns the
/// head it started from and every block whose commit returned, as (height, hash).
fn run_until_cut(chain: &Chain, rng: &mut Rng, max_blocks: u64) -> Vec<(u64, B256)> {
    let validator = dev_validator_key(0);
    let head = chain.head();
    let mut reported = vec![(head.height, head.hash(CryptoSuite::Ed25519Keccak))];
    for block in 0..max_blocks {
        let txs = (0..rng.below(40))
            .map(|i| {
                let sender = dev_account_key(rng.below(10) as u32);
                let nonce = chain
                    .account(&sender.address(), None)
                    .ok()
                    .flatten()
                    .map_or(0, |a| a.nonce);
                Transaction {
                    chain_id: DEV_CHAIN_ID,
                    nonce,
                    to: Address::left_padding_from(&(block * 100 + i).to_be_bytes()),
                    amount: 1 + rng.below(1_000) as u128,
                }
                .sign(&sender)
            })
            .collect();
        let timestamp = chain.head().timestamp_ms + 1;
        let Ok(executed) = chain.propose(txs, timestamp, validator.address()) else {
            break;
        };
        let seal = Seal::sign(&executed.hash(), &validator);
        match chain.commit(&executed.hash(), seal) {
            Ok(committed) => {
                let header = &committed.block.header;
                reported.push((header.height, header.hash(CryptoSuite::Ed25519Keccak)));
            }
            Err(_) => break,
        }
    }
    reported
}

#[test]
fn every_reported_block_survives_a_power_cut_and_the_chain_verifies() {
    let cases: u64 = std::env::var("CAIRN_POWER_CUTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(60);
    let mut cut_mid_commit = 0;
    let mut survivors_beyond_reported = 0;
    for seed in 0..cases {
        let mut rng = Rng::new(seed + 1);
        let disk = PowerCutDisk::default();
        let store = Store::open_backend(disk.clone(), "simulated-disk").unwrap();
        Chain::initialize(&store, &dev_genesis(1, 1_000)).unwrap();
        let chain = Chain::open(store).unwrap();
        // Some blocks in with the power on, then a cut at a random write.
        let warm_up = rng.below(5);
        run_until_cut(&chain, &mut rng, warm_up);
        disk.cut_after(rng.below(400));
        let reported = run_until_cut(&chain, &mut rng, 20);
        // Only commits write, so a cut that happened fell inside one (which then failed).
        if disk.0.lock().cut {
            cut_mid_commit += 1;
        }
        drop(chain);

        let image = disk.image_after_cut(&mut rng);
        let store = Store::open_backend(PowerCutDisk::with_image(image), "simulated-disk")
            .unwrap_or_else(|e| panic!("seed {seed}: the database does not reopen: {e}"));
        let chain = Chain::open(store)
            .unwrap_or_else(|e| panic!("seed {seed}: the chain does not reopen: {e}"));
        let head = chain.head().height;
        let last_reported = reported.last().map_or(0, |(height, _)| *height);
        assert!(
            head >= last_reported,
            "seed {seed}: block {last_reported} was reported committed but the head is {head}"
        );
        survivors_beyond_reported += head - last_reported;
        for (height, hash) in &reported {
            assert_eq!(
                chain
                    .store()
                    .header(*height)
                    .unwrap()
                    .map(|h| h.hash(CryptoSuite::Ed25519Keccak)),
                Some(*hash),
                "seed {seed}: reported block {height} is not what the disk holds"
            );
        }
        verify_chain(chain.store(), None, |_, _| {})
            .unwrap_or_else(|e| panic!("seed {seed}: the reopened chain does not verify: {e}"));
        // It goes on from where it is.
        let more = run_until_cut(&chain, &mut rng, 2);
        assert_eq!(
            more.len(),
            3,
            "seed {seed}: the reopened chain cannot commit"
        );
    }
    println!(
        "{cases} power cuts: {cut_mid_commit} during a commit; {survivors_beyond_reported} blocks survived beyond what was reported"
    );
    assert!(
        cut_mid_commit > cases / 4,
        "the cuts must land inside commits: {cut_mid_commit} of {cases}"
    );
}
