//! SM2 and SM3 against a second implementation: the `gmssl` package from PyPI (pure Python),
//! installed by this test into a virtual environment under the target directory. Random keys
//! and messages, both directions: signatures made here are checked there, and signatures
//! made there are checked here; SM3 digests must agree.
//!
//! Without `python3` the test says so and passes, except under `CAIRN_CI`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_primitives::sm::{Sm2PublicKey, Sm2SecretKey, Sm2Signature, sm3};

const GMSSL: &str = "gmssl==3.2.2";

/// The other side: for each case, SM3 of the message, whether our signature verifies, and a
/// signature of its own with the same key.
const SCRIPT: &str = r#"
import json, sys, binascii
from gmssl import sm2, sm3, func
cases = json.load(open(sys.argv[1]))
out = []
for case in cases:
    message = binascii.a2b_hex(case["message"])
    signer = sm2.CryptSM2(private_key=case["secret"], public_key=case["public"])
    ours_ok = signer.verify_with_sm3(case["signature"], message)
    theirs = signer.sign_with_sm3(message)
    out.append({
        "sm3": sm3.sm3_hash(func.bytes_to_list(message)),
        "ours_ok": bool(ours_ok),
        "theirs": theirs,
    })
json.dump(out, open(sys.argv[2], "w"))
"#;

fn in_ci() -> bool {
    std::env::var_os("CAIRN_CI").is_some()
}

/// The virtual environment with gmssl, or `None` (after saying why) without Python.
fn python() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("py-gmssl");
    let marker = venv.join(GMSSL.replace('=', "_"));
    if marker.exists() {
        return Some(venv.join("bin/python"));
    }
    if Command::new("python3").arg("--version").output().is_err() {
        assert!(
            !in_ci(),
            "python3 is needed for the SM2/SM3 cross-check and CI must have it"
        );
        eprintln!("SKIPPED: python3 not found; the SM2/SM3 cross-check installs gmssl from PyPI");
        return None;
    }
    let _ = std::fs::remove_dir_all(&venv);
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    run(Command::new(venv.join("bin/python")).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        GMSSL,
    ]));
    std::fs::write(&marker, "").unwrap();
    Some(venv.join("bin/python"))
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn sm2_and_sm3_agree_with_gmssl_in_both_directions() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Sm2SecretKey, Vec<u8>, Sm2Signature)> = (0..40)
        .map(|i| {
            let key = Sm2SecretKey::generate();
            // Lengths around SM3's 64-byte block, and empty.
            let message: Vec<u8> = (0..(i * 7) % 150).map(|_| rand::random()).collect();
            let signature = key.sign(&message);
            (key, message, signature)
        })
        .collect();
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|(key, message, signature)| {
            serde_json::json!({
                "secret": hex::encode(key.to_bytes()),
                // gmssl takes the point as x ‖ y, without the 04 prefix.
                "public": hex::encode(&key.public_key().to_uncompressed()[1..]),
                "message": hex::encode(message),
                "signature": hex::encode(signature.0),
            })
        })
        .collect();
    let (input_path, output_path) = (dir.path().join("in.json"), dir.path().join("out.json"));
    std::fs::write(&input_path, serde_json::to_vec(&input).unwrap()).unwrap();
    let script = dir.path().join("check.py");
    std::fs::write(&script, SCRIPT).unwrap();
    run(Command::new(&python)
        .arg(&script)
        .arg(&input_path)
        .arg(&output_path));
    let output: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(Path::new(&output_path)).unwrap()).unwrap();
    assert_eq!(output.len(), cases.len());
    for ((key, message, _), theirs) in cases.iter().zip(&output) {
        assert_eq!(
            theirs["sm3"].as_str().unwrap(),
            hex::encode(sm3(message)),
            "SM3 of {}",
            hex::encode(message)
        );
        assert_eq!(theirs["ours_ok"], true, "gmssl refused our signature");
        let signature: [u8; 64] = hex::decode(theirs["theirs"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let public = Sm2PublicKey::from_bytes(&key.public_key().to_bytes()).unwrap();
        assert!(
            public.verify(message, &Sm2Signature(signature)).is_ok(),
            "gmssl's signature refused"
        );
        // And not for another message.
        let mut other = message.clone();
        other.push(1);
        assert!(public.verify(&other, &Sm2Signature(signature)).is_err());
    }
}
