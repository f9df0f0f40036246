//! `oxidase-pass`: the link-time pass proper, run by `oxidase-cc` when the link holds autodiff
//! markers (see the crate documentation).

use oxidase_linker::cmdline::CommandLine;
use oxidase_linker::{exec_linker, fail, merge};

fn main() {
    let cl = CommandLine::parse(std::env::args_os().skip(1).collect()).unwrap_or_else(|e| fail(&[e]));
    match merge::differentiate(&cl) {
        Ok(Some(args)) => exec_linker(&args),
        Ok(None) => exec_linker(&cl.args),
        Err(errors) => fail(&errors),
    }
}
