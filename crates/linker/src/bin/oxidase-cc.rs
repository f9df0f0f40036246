//! `oxidase-cc`: the linker `cargo autodiff` gives rustc. It links no LLVM, so that a link
//! without autodiff markers costs only the search for them (see the crate documentation).

use oxidase_linker::cmdline::CommandLine;
use oxidase_linker::{exec_linker, fail, scan, PASS_BINARY};
use std::os::unix::process::CommandExt;

fn main() {
    let raw: Vec<_> = std::env::args_os().skip(1).collect();
    let cl = CommandLine::parse(raw.clone()).unwrap_or_else(|e| fail(&[e]));
    if !scan::any_marker(&cl.inputs()).unwrap_or_else(|e| fail(&[e])) {
        exec_linker(&cl.args);
    }
    let pass = std::env::current_exe()
        .map(|exe| exe.with_file_name(PASS_BINARY))
        .unwrap_or_else(|e| fail(&[format!("cannot locate {PASS_BINARY}: {e}")]));
    let err = std::process::Command::new(&pass).args(&raw).exec();
    fail(&[format!("cannot run the link-time pass `{}`: {err}", pass.display())]);
}
