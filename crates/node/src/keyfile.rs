//! Key files: JSON `{"address", "public_key", "secret_key"}`, created owner-readable only.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use cairn_primitives::serde_helpers::parse_hex_array;
use cairn_primitives::{Address, PublicKey, SecretKey};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    address: Address,
    public_key: PublicKey,
    secret_key: String,
}

/// Writes a new key file; refuses to overwrite an existing file.
pub fn write_key(path: &Path, key: &SecretKey) -> anyhow::Result<()> {
    let file = KeyFile {
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
pub fn read_key(path: &Path) -> anyhow::Result<SecretKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    let file: KeyFile = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a Cairn key file: {e}", path.display()))?;
    let seed = parse_hex_array::<32>(&file.secret_key)
        .map_err(|e| anyhow::anyhow!("{}: secret_key: {e}", path.display()))?;
    let key = SecretKey::from_bytes(seed);
    if key.public_key() != file.public_key || key.address() != file.address {
        bail!(
            "{}: the public key or address does not match the secret key",
            path.display()
        );
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let key = SecretKey::from_bytes([9; 32]);
        write_key(&path, &key).unwrap();
        assert_eq!(read_key(&path).unwrap().to_bytes(), key.to_bytes());
        assert!(write_key(&path, &key).is_err(), "no overwrite");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let other = SecretKey::from_bytes([8; 32]);
        let tampered = text.replace(&hex::encode(key.to_bytes()), &hex::encode(other.to_bytes()));
        std::fs::write(&path, tampered).unwrap();
        assert!(read_key(&path).is_err());
    }
}
