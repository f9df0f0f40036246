//! Which inputs of a link may hold autodiff markers, found without parsing anything.
//!
//! This is all a link without autodiff runs (through `oxidase-cc`), so it must not load LLVM:
//! module and symbol names are stored verbatim in bitcode string tables, a byte search suffices.

use memchr::memmem;
use std::path::{Path, PathBuf};

/// The prefix of every marker symbol (the rest: `{fwd|rev}_w{width}__use_cargo_autodiff_to_build`;
/// the contract of `oxidase-macros`' `lower` module).
pub const MARKER_PREFIX: &str = "oxidase_autodiff_v1_";

/// Whether a path belongs to the toolchain (its rlibs hold native code, never markers).
fn in_sysroot(path: &Path) -> bool {
    path.components().collect::<Vec<_>>().windows(2).any(|w| w[0].as_os_str() == "lib" && w[1].as_os_str() == "rustlib")
}

/// Whether an input can hold bitcode of the program: an object file or an archive outside the
/// toolchain.
pub fn may_hold_bitcode(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    matches!(ext, "o" | "rlib" | "a") && !in_sysroot(path)
}

/// Whether any input contains a marker; reads each candidate once.
pub fn any_marker(inputs: &[(usize, PathBuf)]) -> Result<bool, String> {
    let finder = memmem::Finder::new(MARKER_PREFIX.as_bytes());
    for (_, path) in inputs.iter().filter(|(_, p)| may_hold_bitcode(p)) {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if finder.find(&bytes).is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}
