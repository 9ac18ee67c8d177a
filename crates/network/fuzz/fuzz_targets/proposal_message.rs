//! A proposal-channel message from a peer: decodes or is refused, never panics; what decodes
//! is the one canonical encoding of its value, and reading the header alone (what a node does
//! before deciding whether a block is worth decoding) agrees with the full decoding.
#![no_main]

use cairn_network::wire::ProposalMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let peeked = ProposalMessage::peek_header(data);
    match ProposalMessage::decode(data) {
        Ok(message) => {
            assert_eq!(message.encode(), data, "a second encoding of {message:?}");
            match &message {
                ProposalMessage::Block(block) => {
                    assert_eq!(peeked.ok().flatten().as_ref(), Some(&block.header))
                }
                ProposalMessage::Request(_) => assert!(matches!(peeked, Ok(None))),
            }
        }
        // A message that does not decode may still have a readable header (its body is what
        // is wrong); the node then drops it after decoding in full, as it must.
        Err(_) => {}
    }
});
