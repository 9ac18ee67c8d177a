//! Any byte string fed to `decode_node` returns `Ok` or `Err`, never panics; whatever
//! decodes, decodes the same way twice.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(node) = cairn_trie::decode_node(data) {
        assert_eq!(cairn_trie::decode_node(data).ok(), Some(node));
    }
});
