//! `cairn trie root|prove|verify`: the trie as a standalone tool over JSON files.
//!
//! Input: `{"in": [[key, value], ...]}` or `{"in": {key: value, ...}}`. A string starting with
//! 0x is hex bytes, any other string is its UTF-8 bytes; a null value deletes the key; pairs
//! apply in order (object order is kept as written).

use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};
use cairn_primitives::B256;
use cairn_primitives::serde_helpers::parse_hex_array;
use cairn_trie::{
    MemoryNodeStore, NodeHash, SecureTrie, Trie, verify_proof_with, verify_secure_proof_with,
};
use serde_json::Value;

use crate::cli::TrieCommand;

/// Reads a file, or stdin when no path is given.
fn read_input(path: Option<&Path>) -> anyhow::Result<String> {
    match path {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
        }
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read stdin")?;
            Ok(text)
        }
    }
}

/// Bytes of a key or value as written in the input: 0x-hex, or UTF-8 text.
pub fn parse_bytes(text: &str) -> anyhow::Result<Vec<u8>> {
    match text.strip_prefix("0x") {
        Some(digits) => {
            hex::decode(digits).map_err(|_| anyhow::anyhow!("{text:?} is not valid hex"))
        }
        None => Ok(text.as_bytes().to_vec()),
    }
}

type Operation = (Vec<u8>, Option<Vec<u8>>);

fn parse_value(value: &Value, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => parse_bytes(text).map(Some),
        other => bail!("value of {key:?} must be a string or null, not {other}"),
    }
}

/// The operations an input document describes, in order.
pub fn parse_operations(text: &str) -> anyhow::Result<Vec<Operation>> {
    let document: Value = serde_json::from_str(text).context("input is not valid JSON")?;
    let input = document.get("in").context("input has no \"in\" field")?;
    match input {
        Value::Array(pairs) => pairs
            .iter()
            .enumerate()
            .map(|(index, pair)| {
                let items = pair
                    .as_array()
                    .filter(|items| items.len() == 2)
                    .with_context(|| format!("\"in\"[{index}] must be a [key, value] pair"))?;
                let key = items[0]
                    .as_str()
                    .with_context(|| format!("\"in\"[{index}]: the key must be a string"))?;
                Ok((parse_bytes(key)?, parse_value(&items[1], key)?))
            })
            .collect(),
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| Ok((parse_bytes(key)?, parse_value(value, key)?)))
            .collect(),
        _ => bail!("\"in\" must be an array of pairs or an object"),
    }
}

/// A trie (plain or secure) built from operations.
enum Built {
    Plain(Trie<MemoryNodeStore>),
    Secure(SecureTrie<MemoryNodeStore>),
}

impl Built {
    fn build(operations: &[Operation], secure: bool, hash: NodeHash) -> anyhow::Result<Self> {
        let mut built = if secure {
            Self::Secure(SecureTrie::new_with(MemoryNodeStore::default(), hash))
        } else {
            Self::Plain(Trie::new_with(MemoryNodeStore::default(), hash))
        };
        for (key, value) in operations {
            match (&mut built, value) {
                (Self::Plain(trie), Some(value)) => trie.insert(key, value)?,
                (Self::Plain(trie), None) => trie.remove(key)?,
                (Self::Secure(trie), Some(value)) => trie.insert(key, value)?,
                (Self::Secure(trie), None) => trie.remove(key)?,
            }
        }
        Ok(built)
    }

    fn root(&mut self) -> anyhow::Result<B256> {
        Ok(match self {
            Self::Plain(trie) => trie.root_hash()?,
            Self::Secure(trie) => trie.root_hash()?,
        })
    }

    fn proof(&mut self, key: &[u8]) -> anyhow::Result<Vec<cairn_primitives::Bytes>> {
        Ok(match self {
            Self::Plain(trie) => trie.proof(key)?,
            Self::Secure(trie) => trie.proof(key)?,
        })
    }
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// Runs a trie subcommand.
pub fn run(command: TrieCommand, json: bool) -> anyhow::Result<()> {
    match command {
        TrieCommand::Root { secure, hash, file } => {
            let operations = parse_operations(&read_input(file.as_deref())?)?;
            let root = Built::build(&operations, secure, hash)?.root()?;
            if json {
                println!("{}", serde_json::json!({ "root": root }));
            } else {
                println!("{root:#x}");
            }
        }
        TrieCommand::Prove {
            secure,
            hash,
            file,
            key,
        } => {
            let operations = parse_operations(&read_input(Some(&file))?)?;
            let mut built = Built::build(&operations, secure, hash)?;
            let proof = built.proof(&parse_bytes(&key)?)?;
            let nodes: Vec<String> = proof.iter().map(|node| hex0x(node)).collect();
            println!("{}", serde_json::to_string(&nodes)?);
        }
        TrieCommand::Verify {
            secure,
            hash,
            root,
            key,
            proof_file,
        } => {
            let root = B256::from(
                parse_hex_array::<32>(&root).map_err(|e| anyhow::anyhow!("--root: {e}"))?,
            );
            let key = parse_bytes(&key)?;
            let text = read_input(proof_file.as_deref())?;
            let nodes: Vec<String> = serde_json::from_str(&text)
                .context("the proof must be a JSON array of 0x-hex strings")?;
            let nodes = nodes
                .iter()
                .enumerate()
                .map(|(i, node)| {
                    let digits = node.strip_prefix("0x").unwrap_or(node);
                    hex::decode(digits).map_err(|_| anyhow::anyhow!("proof node {i} is not hex"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let proven = if secure {
                verify_secure_proof_with(hash, root, &key, &nodes)
            } else {
                verify_proof_with(hash, root, &key, &nodes)
            }
            .map_err(|e| anyhow::anyhow!("proof does not verify: {e}"))?;
            match (proven, json) {
                (Some(value), false) => println!("{}", hex0x(&value)),
                (None, false) => println!("absent"),
                (value, true) => {
                    println!(
                        "{}",
                        serde_json::json!({ "value": value.map(|v| hex0x(&v)) })
                    )
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_input_forms_parse_in_order() {
        let ops = parse_operations(r#"{"in": [["do", "verb"], ["0x01", null]]}"#).unwrap();
        assert_eq!(
            ops,
            vec![(b"do".to_vec(), Some(b"verb".to_vec())), (vec![1], None)]
        );
        let ops = parse_operations(r#"{"in": {"zz": "0xabcd", "aa": "x"}}"#).unwrap();
        assert_eq!(
            ops[0],
            (b"zz".to_vec(), Some(vec![0xab, 0xcd])),
            "object order is kept"
        );
        for bad in [
            r#"{"in": [["a"]]}"#,
            r#"{"in": 3}"#,
            r#"{"out": []}"#,
            r#"{"in": [["a", 1]]}"#,
            r#"{"in": [["0xzz", "a"]]}"#,
            "nope",
        ] {
            assert!(parse_operations(bad).is_err(), "{bad}");
        }
    }
}
