//! `oxidase-cc`: the link-time pass of oxidase's stable route.
//!
//! `cargo autodiff` builds with `-Clinker-plugin-lto -Clinker=oxidase-cc`, so rustc hands this
//! program a `cc` command line whose Rust inputs are LLVM bitcode. Without autodiff markers in
//! them it runs `cc` unchanged. Otherwise it links the units holding markers, plus every unit
//! defining a function their derivatives need, into one module, generates the derivatives,
//! writes that module next to the output and runs `cc` with it in place of the units it
//! absorbed (archive members it absorbed are not pulled again: their symbols are defined).

mod cmdline;
mod lower;
mod merge;
mod units;

use cmdline::CommandLine;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;

fn main() {
    let raw: Vec<OsString> = std::env::args_os().skip(1).collect();
    let cl = match CommandLine::parse(raw) {
        Ok(cl) => cl,
        Err(e) => fail(&[e]),
    };
    let args = match merge::differentiate(&cl) {
        Ok(Some(args)) => args,
        Ok(None) => cl.args,
        Err(errors) => fail(&errors),
    };
    let linker = std::env::var_os("OXIDASE_LINKER").unwrap_or_else(|| "cc".into());
    let err = Command::new(&linker).args(&args).exec();
    fail(&[format!("cannot run the linker `{}`: {err}", linker.to_string_lossy())]);
}

fn fail(errors: &[String]) -> ! {
    for e in errors {
        eprintln!("error: {e}");
    }
    std::process::exit(1);
}
