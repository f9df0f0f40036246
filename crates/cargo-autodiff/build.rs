//! Packs the link-time pass's sources into the binary (see `src/pack.rs`): `cargo autodiff`
//! then needs nothing from the checkout it was built from.

#[path = "src/pack.rs"]
mod pack;

use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    let files = pack::collect(&root).expect("reading the pass's sources");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("pass-sources.bin");
    std::fs::write(&out, pack::pack(&files)).expect("writing the packed sources");
    println!("cargo:rustc-env=OXIDASE_ENGINE={}", pack::id(&files));
    let root = root.canonicalize().unwrap_or(root);
    println!("cargo:rustc-env=OXIDASE_BUILT_FROM={}", root.display());
    for dir in pack::CRATES {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    for file in ["Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
}
