//! Embeds the web console (`console/`: plain HTML, CSS and JavaScript, no build step) in the
//! binary: writes a table of every file with its media type and a content hash (the ETag).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        // Hidden files (editor leftovers, .DS_Store) are not part of the console.
        let hidden = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_none_or(|name| name.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            files(&path, out);
        } else if SERVED.contains(&path.extension().and_then(|e| e.to_str()).unwrap_or(""))
            || path.file_name().and_then(|n| n.to_str()) == Some("LICENSE")
        {
            out.push(path);
        }
    }
}

/// The kinds of file the console is made of; anything else under `console/` is not served.
const SERVED: &[&str] = &[
    "html", "js", "mjs", "css", "svg", "png", "json", "txt", "md",
];

fn media_type(path: &Path) -> &'static str {
    if path.file_name().and_then(|n| n.to_str()) == Some("LICENSE") {
        return "text/plain; charset=utf-8";
    }
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        "txt" | "md" | "LICENSE" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// FNV-1a, 64 bits: enough to tell one version of a file from another.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir")).join("console");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut found = Vec::new();
    files(&root, &mut found);
    let mut table = String::from("&[\n");
    for path in &found {
        println!("cargo:rerun-if-changed={}", path.display());
        let relative = path
            .strip_prefix(&root)
            .expect("under console/")
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(path).expect("read a console file");
        let _ = writeln!(
            table,
            "    ({relative:?}, {:?}, \"\\\"{:016x}\\\"\", include_bytes!({:?})),",
            media_type(path),
            fnv(&bytes),
            path.display().to_string()
        );
    }
    table.push(']');
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("out dir")).join("console_assets.rs");
    std::fs::write(out, table).expect("write the asset table");
}
