//! Link against the nightly toolchain's own libLLVM (the one rustc loads), never a second LLVM.
//!
//! Search order: `OXIDASE_LLVM_LIB_DIR`, then `<sysroot of rustup's nightly>/lib`.
use std::path::PathBuf;
use std::process::Command;

fn nightly_lib_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("OXIDASE_LLVM_LIB_DIR") {
        return PathBuf::from(dir);
    }
    let out = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--print", "sysroot"])
        .output()
        .expect("oxidase-llvm: cannot run `rustup run nightly rustc --print sysroot`; set OXIDASE_LLVM_LIB_DIR");
    assert!(out.status.success(), "oxidase-llvm: the nightly toolchain is required (set OXIDASE_LLVM_LIB_DIR)");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()).join("lib")
}

fn main() {
    println!("cargo:rerun-if-env-changed=OXIDASE_LLVM_LIB_DIR");
    let dir = nightly_lib_dir();
    let lib = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("oxidase-llvm: cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("libLLVM-") && n.ends_with(".so"))
        .unwrap_or_else(|| panic!("oxidase-llvm: no libLLVM-*.so in {}", dir.display()));
    let name = lib.trim_start_matches("lib").trim_end_matches(".so");
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=dylib={name}");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    // Dependents read this as DEP_OXIDASE_LLVM_LIBDIR to add the same rpath to their binaries.
    println!("cargo:libdir={}", dir.display());
}
