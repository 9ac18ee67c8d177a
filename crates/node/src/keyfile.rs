//! Key files: JSON `{"suite", "address", "public_key", "secret_key"}`, created owner-readable
//! only. `suite` is `ed25519` or `sm2`; a file without it takes the suite its public key's
//! length names (files written before chains had suites are ed25519). Validator and network
//! keys are always ed25519.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use cairn_primitives::serde_helpers::parse_hex_array;
use cairn_primitives::{AccountKey, AccountPublicKey, Address, KeyKind, SecretKey};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    suite: Option<KeyKind>,
    address: Address,
    public_key: AccountPublicKey,
    secret_key: String,
}

/// Writes a new key file; refuses to overwrite an existing file.
pub fn write_key(path: &Path, key: &AccountKey) -> anyhow::Result<()> {
    let file = KeyFile {
        suite: Some(key.kind()),
        address: key.address(),
        public_key: key.public_key(),
        secret_key: format!("0x{}", hex::encode(key.to_bytes())),
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut out = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists; refusing to overwrite a key",
                path.display()
            )
        } else {
            anyhow::anyhow!("cannot create {}: {e}", path.display())
        }
    })?;
    let text = serde_json::to_string_pretty(&file)?;
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Reads a key file and checks that its address and public key match its secret.
pub fn read_key(path: &Path) -> anyhow::Result<AccountKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    let file: KeyFile = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a Cairn key file: {e}", path.display()))?;
    let secret = parse_hex_array::<32>(&file.secret_key)
        .map_err(|e| anyhow::anyhow!("{}: secret_key: {e}", path.display()))?;
    let suite = file
        .suite
        .unwrap_or_else(|| file.public_key.suite().key_kind());
    let key = AccountKey::from_bytes(suite, secret).ok_or_else(|| {
        anyhow::anyhow!("{}: secret_key is not a usable {suite} key", path.display())
    })?;
    if key.public_key() != file.public_key || key.address() != file.address {
        bail!(
            "{}: the public key or address does not match the secret key",
            path.display()
        );
    }
    Ok(key)
}

/// Reads a validator's or a node's key file: an ed25519 key, as consensus and the peer
/// network use on every chain, whatever its accounts' suite.
pub fn read_node_key(path: &Path) -> anyhow::Result<SecretKey> {
    match read_key(path)? {
        AccountKey::Ed25519(key) => Ok(key),
        AccountKey::Sm2(_) => bail!(
            "{}: an sm2 key cannot be a validator or network key; those are ed25519 on every chain",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        for (name, key) in [
            (
                "ed.json",
                AccountKey::from_bytes(KeyKind::Ed25519, [9; 32]).unwrap(),
            ),
            (
                "sm.json",
                AccountKey::from_bytes(KeyKind::Sm2, [9; 32]).unwrap(),
            ),
        ] {
            let path = dir.path().join(name);
            write_key(&path, &key).unwrap();
            let read = read_key(&path).unwrap();
            assert_eq!(read.to_bytes(), key.to_bytes());
            assert_eq!(read.kind(), key.kind());
            assert!(write_key(&path, &key).is_err(), "no overwrite");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600);
            }
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.contains(&format!(r#""suite": "{}""#, key.kind())),
                "{text}"
            );
            let tampered = text.replace(&hex::encode(key.to_bytes()), &hex::encode([8u8; 32]));
            std::fs::write(&path, tampered).unwrap();
            assert!(read_key(&path).is_err());
            // The same secret read as the other suite's key does not match its public key.
            let other = if key.kind() == KeyKind::Sm2 {
                "ed25519"
            } else {
                "sm2"
            };
            let relabelled = text.replace(
                &format!(r#""suite": "{}""#, key.kind()),
                &format!(r#""suite": "{other}""#),
            );
            std::fs::write(&path, relabelled).unwrap();
            assert!(read_key(&path).is_err());
        }
    }

    /// Writes `key` as a key file without its suite, as files were before chains had suites.
    fn write_unlabelled(path: &Path, key: &AccountKey) {
        std::fs::write(
            path,
            format!(
                r#"{{"address": "{:#x}", "public_key": "{}", "secret_key": "0x{}"}}"#,
                key.address(),
                key.public_key(),
                hex::encode(key.to_bytes())
            ),
        )
        .unwrap();
    }

    #[test]
    fn files_without_a_suite_are_ed25519_and_node_keys_must_be() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::from_bytes([4; 32]);
        let old = dir.path().join("old.json");
        write_unlabelled(&old, &AccountKey::Ed25519(key.clone()));
        assert_eq!(read_node_key(&old).unwrap().to_bytes(), key.to_bytes());
        // An SM2 key file without its suite reads by its key's length.
        let sm2 = AccountKey::from_bytes(KeyKind::Sm2, [6; 32]).unwrap();
        let unlabelled = dir.path().join("unlabelled.json");
        write_unlabelled(&unlabelled, &sm2);
        assert_eq!(read_key(&unlabelled).unwrap().kind(), KeyKind::Sm2);
        let sm = dir.path().join("sm.json");
        write_key(&sm, &AccountKey::generate(KeyKind::Sm2)).unwrap();
        let error = read_node_key(&sm).unwrap_err().to_string();
        assert!(error.contains("ed25519"), "{error}");
    }
}
