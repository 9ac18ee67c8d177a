//! A sync-channel message from a peer: decodes or is refused, never panics; what decodes is
//! the one canonical encoding of its value.
#![no_main]

use cairn_network::wire::SyncMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = SyncMessage::decode(data) {
        assert_eq!(message.encode(), data, "a second encoding of {message:?}");
    }
});
