//! `oxidase-gradbench`: a GradBench tool (shared/docs/GRADBENCH.md) whose derivatives all come
//! from oxidase's `#[autodiff_forward]` / `#[autodiff_reverse]`.
//!
//! Protocol: one JSON message per line on stdin, one JSON response per line on stdout (flushed);
//! diagnostics go to stderr only; exits 0 on EOF.
//! `oxidase-gradbench ratios <module> [--max-workloads N] [--min-seconds S]` instead measures
//! derivative ÷ primal time on the default workloads (a markdown table on stdout).
//!
//! Build and test, stable route (a plain `cargo build` fails to link with
//! `undefined symbol: oxidase_autodiff_v1_…`: the link-time pass of `cargo autodiff` is needed):
//! ```sh
//! CARGO_TARGET_DIR=target/gradbench-stable cargo autodiff build -p oxidase-gradbench --release
//! CARGO_TARGET_DIR=target/gradbench-stable cargo autodiff test -p oxidase-gradbench --release
//! ```
//! Nightly route (`std::autodiff` through the `enzyme` toolchain):
//! ```sh
//! RUSTFLAGS=-Zautodiff=Enable CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_DEV_LTO=fat \
//! CARGO_TARGET_DIR=target/gradbench-nightly cargo +enzyme test -p oxidase-gradbench \
//!   --features nightly --release --target x86_64-unknown-linux-gnu
//! ```

use oxidase_gradbench::{protocol, ratios};

use std::io::{BufRead, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("ratios") {
        return match ratios::main(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("oxidase-gradbench ratios: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lines() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("oxidase-gradbench: reading stdin: {e}");
                return ExitCode::FAILURE;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let msg: serde_json::Value = match serde_json::from_str(&line) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("oxidase-gradbench: bad message ({e}): {line}");
                return ExitCode::FAILURE;
            }
        };
        let resp = protocol::response(&msg);
        let mut text = serde_json::to_string(&resp).expect("a Value always serializes");
        text.push('\n');
        if stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).is_err() {
            // The other side went away: nothing left to answer.
            return ExitCode::SUCCESS;
        }
    }
    ExitCode::SUCCESS
}
