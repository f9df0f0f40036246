//! oxidase's link-time pass, in two programs.
//!
//! `cargo autodiff` builds with `-Clinker-plugin-lto -Clinker=oxidase-cc`, so rustc hands
//! `oxidase-cc` a `cc` command line whose Rust inputs are LLVM bitcode. `oxidase-cc` does not
//! link LLVM (loading libLLVM alone costs a link several milliseconds): it searches the inputs
//! for autodiff markers and, finding none, runs `cc` unchanged. Otherwise it hands the command
//! line to `oxidase-pass`, installed next to it, which links the units holding markers, plus
//! every unit defining a function their derivatives need, into one module, generates the
//! derivatives, writes that module next to the output and runs `cc` with it in place of the
//! units it absorbed (archive members it absorbed are not pulled again: their symbols are
//! defined).

pub mod cmdline;
pub mod lower;
pub mod merge;
pub mod scan;
pub mod units;

/// The file name of the pass proper, next to `oxidase-cc`.
pub const PASS_BINARY: &str = "oxidase-pass";

/// Runs the real linker (`cc`, or `OXIDASE_LINKER`) on `args`, or reports why it could not.
pub fn exec_linker(args: &[std::ffi::OsString]) -> ! {
    use std::os::unix::process::CommandExt;
    let linker = std::env::var_os("OXIDASE_LINKER").unwrap_or_else(|| "cc".into());
    let err = std::process::Command::new(&linker).args(args).exec();
    fail(&[format!("cannot run the linker `{}`: {err}", linker.to_string_lossy())]);
}

/// Prints the errors as the linker's and exits with status 1.
pub fn fail(errors: &[String]) -> ! {
    for e in errors {
        eprintln!("error: {e}");
    }
    std::process::exit(1);
}
