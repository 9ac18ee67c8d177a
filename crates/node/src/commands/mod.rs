//! The CLI's commands.

pub mod acs;
pub mod admin;
pub mod client_cmds;
pub mod gateway;
pub mod shell;
pub mod testnet;
pub mod trie_cmd;
pub mod verify;
