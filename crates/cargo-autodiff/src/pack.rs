//! The sources of the link-time pass, packed into `cargo-autodiff` when it is built.
//!
//! `cargo autodiff` builds the pass on first use for each toolchain (it links the toolchain's own
//! libLLVM). So that it never depends on the checkout it was installed from, `build.rs` packs the
//! pass's sources into the binary; at run time they are unpacked once into
//! `$CARGO_HOME/oxidase/src/<engine>/`, where `<engine>` is a hash of their contents. Two
//! installations of different engines therefore never share sources or passes. This file is
//! compiled twice: by `build.rs` (packing) and into the binary (unpacking, `OXIDASE_SRC`).

use std::io;
use std::path::Path;

/// The crates the pass is built from, relative to the repository root.
pub const CRATES: [&str; 3] = ["crates/llvm", "crates/engine", "crates/linker"];

/// A file of the pass's source tree: path relative to the root (with `/`), contents.
pub type File = (String, Vec<u8>);

/// The pass's source tree from the repository at `root`: the crates of [`CRATES`] without their
/// tests, the lock file, and a workspace manifest naming only those crates.
pub fn collect(root: &Path) -> io::Result<Vec<File>> {
    let mut files = Vec::new();
    for dir in CRATES {
        walk(root, Path::new(dir), &mut files)?;
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    files.push(("Cargo.toml".to_string(), workspace_manifest(&manifest).into_bytes()));
    files.push(("Cargo.lock".to_string(), std::fs::read(root.join("Cargo.lock"))?));
    files.sort();
    Ok(files)
}

fn walk(root: &Path, rel: &Path, out: &mut Vec<File>) -> io::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let name = entry.file_name();
        let rel = rel.join(&name);
        if entry.file_type()?.is_dir() {
            if name != "tests" && name != "target" {
                walk(root, &rel, out)?;
            }
        } else if rel.extension().is_some_and(|x| x == "rs" || x == "toml" || x == "cpp" || x == "h") {
            let path = rel.to_str().ok_or_else(|| io::Error::other(format!("non-UTF-8 path {}", rel.display())))?;
            out.push((path.replace('\\', "/"), std::fs::read(root.join(&rel))?));
        }
    }
    Ok(())
}

/// The repository's workspace manifest with `members` reduced to [`CRATES`] (shared package
/// fields, dependency versions and profiles are kept; `default-members` and `exclude` go).
pub fn workspace_manifest(manifest: &str) -> String {
    let members = CRATES.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    let mut out = String::new();
    let mut skipping_array = false;
    for line in manifest.lines() {
        if skipping_array {
            skipping_array = !line.contains(']');
            continue;
        }
        let key = line.split('=').next().unwrap_or("").trim();
        if matches!(key, "members" | "default-members" | "exclude") && line.contains('=') {
            if key == "members" {
                out.push_str(&format!("members = [{members}]\n"));
            }
            skipping_array = !line.contains(']');
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The engine's identity: FNV-1a (64 bits) over every path and its contents, in hex.
pub fn id(files: &[File]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (path, data) in files {
        eat(&(path.len() as u64).to_le_bytes());
        eat(path.as_bytes());
        eat(&(data.len() as u64).to_le_bytes());
        eat(data);
    }
    format!("{h:016x}")
}

/// `[u64 path length][path][u64 length][contents]` per file.
#[allow(dead_code)] // the binary only unpacks (and packs in its tests)
pub fn pack(files: &[File]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, data) in files {
        out.extend_from_slice(&(path.len() as u64).to_le_bytes());
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

/// The files [`pack`] wrote.
#[allow(dead_code)] // build.rs only packs
pub fn unpack(mut bytes: &[u8]) -> io::Result<Vec<File>> {
    let corrupt = || io::Error::new(io::ErrorKind::InvalidData, "the packed pass sources are corrupt");
    let take = |bytes: &mut &[u8], n: usize| -> io::Result<Vec<u8>> {
        if bytes.len() < n {
            return Err(corrupt());
        }
        let (head, tail) = bytes.split_at(n);
        *bytes = tail;
        Ok(head.to_vec())
    };
    let mut files = Vec::new();
    while !bytes.is_empty() {
        let n = u64::from_le_bytes(take(&mut bytes, 8)?.try_into().unwrap()) as usize;
        let path = String::from_utf8(take(&mut bytes, n)?).map_err(|_| corrupt())?;
        let n = u64::from_le_bytes(take(&mut bytes, 8)?.try_into().unwrap()) as usize;
        files.push((path, take(&mut bytes, n)?));
    }
    Ok(files)
}
