//! The bitcode the link sees: object files and members of rlibs, read once, searched by bytes.
//!
//! Module names and symbol names are stored verbatim in bitcode string tables, so a byte search
//! tells cheaply which units may hold a marker or define a symbol; only those are parsed.

use memchr::memmem;
use std::path::PathBuf;
use std::sync::Arc;

/// One bitcode module: an object file, or a member of an archive.
pub struct Unit {
    /// The command-line argument it came from.
    pub arg: usize,
    pub path: PathBuf,
    /// `Some(member)` for an archive member.
    pub member: Option<String>,
    file: Arc<Vec<u8>>,
    range: std::ops::Range<usize>,
}

impl Unit {
    pub fn bytes(&self) -> &[u8] {
        &self.file[self.range.clone()]
    }

    pub fn contains(&self, needle: &[u8]) -> bool {
        memmem::find(self.bytes(), needle).is_some()
    }

    pub fn name(&self) -> String {
        match &self.member {
            Some(m) => format!("{}({m})", self.path.display()),
            None => self.path.display().to_string(),
        }
    }
}

/// Reads the inputs. `marker` short-circuits: when no input contains it, `None` is returned
/// after reading the files once (the fast path of a link without autodiff).
pub fn collect(inputs: &[(usize, PathBuf)], marker: &[u8]) -> Result<Option<Vec<Unit>>, String> {
    let mut files = Vec::new();
    let mut any_marker = false;
    let finder = memmem::Finder::new(marker);
    for (arg, path) in inputs {
        if !crate::scan::may_hold_bitcode(path) {
            continue;
        }
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        any_marker |= finder.find(&bytes).is_some();
        files.push((*arg, path.clone(), Arc::new(bytes)));
    }
    if !any_marker {
        return Ok(None);
    }
    let mut units = Vec::new();
    for (arg, path, file) in files {
        if oxidase_llvm::bitcode::is_bitcode(&file) {
            let range = 0..file.len();
            units.push(Unit { arg, path, member: None, file, range });
            continue;
        }
        let Ok(archive) = object::read::archive::ArchiveFile::parse(&file[..]) else {
            continue; // a native object
        };
        for member in archive.members() {
            let member = member.map_err(|e| format!("cannot read archive {}: {e}", path.display()))?;
            let Ok(data) = member.data(&file[..]) else { continue };
            if !oxidase_llvm::bitcode::is_bitcode(data) {
                continue;
            }
            let start = data.as_ptr() as usize - file.as_ptr() as usize;
            let name = String::from_utf8_lossy(member.name()).into_owned();
            units.push(Unit { arg, path: path.clone(), member: Some(name), file: file.clone(), range: start..start + data.len() });
        }
    }
    Ok(Some(units))
}
