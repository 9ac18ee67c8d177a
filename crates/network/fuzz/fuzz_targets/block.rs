//! A block as peers serve it: decodes or is refused, never panics; what decodes is the one
//! canonical encoding of the block, so a block has one byte form and one hash.
#![no_main]

use cairn_primitives::{Block, CryptoSuite, decode_exact};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = decode_exact::<Block>(data) {
        assert_eq!(block.encoded(), data);
        for suite in CryptoSuite::ALL {
            let _ = block.hash(suite);
        }
    }
});
