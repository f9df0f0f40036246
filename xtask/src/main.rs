//! `cargo xtask`: developer tasks for oxidase.
//!
//! * `setup`: install LLVM 22 headers/tools if missing, build the backend, create and link the
//!   `enzyme` toolchain (a hard-linked copy of nightly with our `libEnzyme-22.so`).
//! * `demo`: setup, then run `examples/` through `cargo +enzyme` at release.
//! * `test`: setup, workspace tests, `examples/` end to end (dev and release), acceptance corpus.
//! * `corpus`: setup, then only the acceptance corpus.
//! * `bench`: setup, then `benches/` (criterion) and the report; `bench-report`: only the report.
//! * `fuzz`: setup, then random differentiable Rust programs on either route and profile, every
//!   derivative checked against finite differences and the other mode.
//!
//! Every path is derived from this crate's `CARGO_MANIFEST_DIR`: the repository root is its parent.

mod bench;
mod cmd;
mod corpus;
mod fuzz;
mod setup;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use corpus::{Outcome, Route, Select, Suite, What};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Developer tasks for oxidase",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Idempotent set-up: LLVM 22 packages, backend build, `enzyme` toolchain.
    Setup,
    /// Set up, then build and run `examples/` with `cargo +enzyme` (release).
    Demo,
    /// Set up, then run the workspace tests, the examples end to end and the acceptance corpus.
    ///
    /// Reverse-mode corpus cases run only with OXIDASE_REVERSE=1.
    Test {
        /// Skip the acceptance corpus (workspace tests and examples only).
        #[arg(long)]
        quick: bool,
    },
    /// Set up, then run (part of) the acceptance corpus with the expectations of
    /// tests/corpus-expectations.toml.
    Corpus {
        /// Cargo profile the corpus programs are built with.
        #[arg(long, value_enum, default_value_t = Profile::Release)]
        profile: Profile,
        /// Which `cases/` programs to run (by the autodiff macro they use); `errors/` ignores it.
        #[arg(long, value_enum, default_value_t = Select::All)]
        select: Select,
        /// Which route builds them: nightly `cargo +enzyme`, or stable `cargo autodiff`.
        #[arg(long, value_enum, default_value_t = Route::Nightly)]
        route: Route,
        /// Which directory of the corpus to run.
        #[arg(value_enum, default_value_t = What::All)]
        what: What,
    },
    /// Set up, then generate random differentiable Rust programs, build them on the chosen
    /// routes and profiles, and check every derivative against finite differences and the
    /// other mode (a campaign; fails on any wrong number, crash or panic).
    Fuzz {
        /// First seed: the campaign is reproduced exactly by the same seed and counts.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Functions to generate and check (per route and profile).
        #[arg(long, default_value_t = 200)]
        programs: usize,
        /// Functions per generated crate (one build each).
        #[arg(long, default_value_t = 25)]
        per_crate: usize,
        /// Only this route (default: both).
        #[arg(long, value_enum)]
        route: Option<Route>,
        /// Only this profile (default: both).
        #[arg(long, value_enum)]
        profile: Option<Profile>,
    },
    /// Set up, run `benches/` (criterion, one process for oxidase and its peers), then print the
    /// report of `bench-report`.
    Bench {
        /// Which route builds the benchmarks.
        #[arg(long, value_enum, default_value_t = bench::BenchRoute::Nightly)]
        route: bench::BenchRoute,
        /// Run every benchmark once at n = 2 and 10 instead of timing (a smoke test).
        #[arg(long)]
        smoke: bool,
        /// Criterion's filter on benchmark names (a regex), e.g. `rosenbrock_hvp`.
        filter: Option<String>,
    },
    /// Turn criterion's output of the last `cargo xtask bench` into markdown: medians, ratios to
    /// the primal, to the hand-written floor and to each peer, and the machine.
    BenchReport {
        /// Which route's results to read.
        #[arg(long, value_enum, default_value_t = bench::BenchRoute::Nightly)]
        route: bench::BenchRoute,
        /// Also write the report to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Cargo profile of an `+enzyme` build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    Dev,
    Release,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Dev => "dev",
            Profile::Release => "release",
        }
    }
}

/// Well-known locations inside (and next to) the repository.
pub struct Paths {
    /// Repository root (parent of `xtask/`).
    pub root: PathBuf,
    /// Workspace target directory (`<root>/target`).
    pub target: PathBuf,
    /// The standalone `examples/` package.
    pub examples: PathBuf,
    /// Target directory of every `+enzyme` build of `examples/`.
    pub examples_target: PathBuf,
    /// Target directory reserved for other `+enzyme` end-to-end builds.
    pub e2e_target: PathBuf,
    /// Known corpus failures.
    pub expectations: PathBuf,
    /// `<root>/../shared/acceptance/run_corpus.sh`.
    pub corpus_script: PathBuf,
}

impl Paths {
    fn from_manifest_dir() -> Result<Paths> {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest
            .parent()
            .with_context(|| format!("{} has no parent directory", manifest.display()))?
            .to_path_buf();
        let target = root.join("target");
        Ok(Paths {
            examples: root.join("examples"),
            examples_target: root.join("examples").join("target"),
            e2e_target: target.join("e2e"),
            expectations: root.join("tests").join("corpus-expectations.toml"),
            corpus_script: root
                .join("..")
                .join("shared")
                .join("acceptance")
                .join("run_corpus.sh"),
            target,
            root,
        })
    }
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<ExitCode> {
    let cli = Cli::parse();
    let paths = Paths::from_manifest_dir()?;
    match cli.command {
        Command::Setup => {
            setup::setup(&paths)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => {
            let tc = setup::setup(&paths)?;
            run_examples(&paths, &tc.host, Profile::Release, "demo")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Test { quick } => test(&paths, quick),
        Command::Fuzz { seed, programs, per_crate, route, profile } => {
            let tc = setup::setup(&paths)?;
            let campaign = fuzz::Campaign {
                seed,
                programs,
                per_crate: per_crate.max(1),
                routes: route.map(|r| vec![r]).unwrap_or(vec![Route::Nightly, Route::Stable]),
                profiles: profile.map(|p| vec![p]).unwrap_or(vec![Profile::Dev, Profile::Release]),
            };
            let ok = fuzz::run(&paths, &tc.host, &campaign)?;
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Bench { route, smoke, filter } => {
            let tc = setup::setup(&paths)?;
            bench::run(&paths, &tc.host, route, smoke, filter.as_deref())?;
            if !smoke {
                println!("{}", bench::report(&bench::criterion_dir(&paths, route))?);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchReport { route, out } => {
            let report = bench::report(&bench::criterion_dir(&paths, route))?;
            if let Some(out) = out {
                std::fs::write(&out, &report).with_context(|| format!("cannot write {}", out.display()))?;
            }
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Corpus {
            profile,
            select,
            route,
            what,
        } => {
            let expectations = corpus::Expectations::load(&paths.expectations)?;
            if !paths.corpus_script.is_file() {
                anyhow::bail!("corpus script not found: {}", paths.corpus_script.display());
            }
            setup::setup(&paths)?;
            let whats = match what {
                What::All => vec![What::Cases, What::Errors],
                one => vec![one],
            };
            let suites: Vec<Suite> = whats
                .into_iter()
                .map(|what| Suite {
                    what,
                    select,
                    profile,
                    route,
                })
                .collect();
            let (results, errors) = corpus::run_suites(&paths, &suites);
            let ok = corpus::report(&results, &expectations, &errors);
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// Build and run `examples/` with the `enzyme` toolchain, streaming its output.
fn run_examples(paths: &Paths, host: &str, profile: Profile, tag: &str) -> Result<()> {
    nightly_run(&paths.examples, &paths.examples_target, host, profile, tag, "examples")
}

/// `cargo +enzyme run` of a standalone crate on the nightly route, streaming its output.
fn nightly_run(dir: &Path, target: &Path, host: &str, profile: Profile, tag: &str, what: &str) -> Result<()> {
    let mut c = cmd::cargo(setup::TOOLCHAIN_NAME);
    c.arg("run");
    if profile == Profile::Release {
        c.arg("--release");
    }
    c.args(["--target", host])
        .current_dir(dir)
        .env("RUSTFLAGS", "-Zautodiff=Enable")
        .env("CARGO_TARGET_DIR", target);
    println!("[{tag}] {what} ({}): {}", profile.name(), cmd::describe(&c));
    cmd::run(&mut c).with_context(|| format!("{what} failed at {}", profile.name()))
}

/// `cargo xtask test`: every step runs even if an earlier one fails; the summary says which failed.
fn test(paths: &Paths, quick: bool) -> Result<ExitCode> {
    let expectations = corpus::Expectations::load(&paths.expectations)?;
    let tc = setup::setup(paths)?;
    let mut steps: Vec<(String, Outcome)> = Vec::new();

    // oxidase-gradbench links only through `cargo autodiff` (below).
    println!("[test] workspace tests (stable)");
    let mut c = cmd::cargo("stable");
    c.args(["test", "--workspace", "--exclude", GRADBENCH]).current_dir(&paths.root);
    steps.push((
        "workspace tests (stable)".into(),
        step_outcome(cmd::run(&mut c)),
    ));

    // The differential tester must catch a deliberately wrong derivative rule.
    println!("[test] differential tester with a wrong rule for sin (must report mismatches)");
    let mut c = cmd::cargo("stable");
    c.args(["test", "-p", "oxidase-engine", "--features", "fault-injection", "--test", "differential", "fault_injection"])
        .env("OXIDASE_FAULT_RULE", "sin")
        .current_dir(&paths.root);
    steps.push(("differential tester catches a wrong rule".into(), step_outcome(cmd::run(&mut c))));

    for profile in [Profile::Dev, Profile::Release] {
        let r = run_examples(paths, &tc.host, profile, "test");
        steps.push((
            format!("examples e2e ({})", profile.name()),
            step_outcome(r),
        ));
    }

    // The same examples on the stable route (`oxidase::autodiff` through the `stable` feature),
    // and a workspace whose binary differentiates code of a dependency crate.
    for profile in [Profile::Dev, Profile::Release] {
        let r = cargo_autodiff(&["run", "--features", "stable"], profile, &paths.examples, &paths.target.join("examples-stable"), "examples on the stable route");
        steps.push((format!("examples e2e stable ({})", profile.name()), step_outcome(r)));
    }
    for profile in [Profile::Dev, Profile::Release] {
        let ws = paths.root.join("tests").join("stable-workspace");
        let r = cargo_autodiff(&["test"], profile, &ws, &paths.target.join("stable-workspace"), "stable workspace");
        steps.push((format!("cargo autodiff test ({})", profile.name()), step_outcome(r)));
    }

    // Realistic programs (tests/programs), each checked against its own finite differences,
    // on both routes in both profiles.
    let programs = paths.root.join("tests").join("programs");
    for profile in [Profile::Dev, Profile::Release] {
        let r = nightly_run(&programs, &paths.target.join("programs"), &tc.host, profile, "test", "realistic programs");
        steps.push((format!("realistic programs, nightly route ({})", profile.name()), step_outcome(r)));
        let r = cargo_autodiff(&["run", "--features", "stable"], profile, &programs, &paths.target.join("programs-stable"), "realistic programs on the stable route");
        steps.push((format!("realistic programs, stable route ({})", profile.name()), step_outcome(r)));
    }

    // Random differentiable Rust programs (`cargo xtask fuzz`), a fixed seed so that a failure
    // is reproduced by `cargo xtask fuzz --seed 12`; campaigns with other seeds explore further.
    let campaign = fuzz::Campaign {
        seed: 12,
        programs: 200,
        per_crate: 100,
        routes: vec![Route::Nightly, Route::Stable],
        profiles: vec![Profile::Dev, Profile::Release],
    };
    let r = fuzz::run(paths, &tc.host, &campaign)
        .and_then(|ok| if ok { Ok(()) } else { anyhow::bail!("wrong numbers or crashes: see the [fuzz] summary above") });
    steps.push(("random programs (200 per route and profile)".into(), step_outcome(r)));

    // The GradBench tool: protocol sessions and finite-difference checks of every module, on
    // both routes.
    let r = cargo_autodiff(&["test", "-p", GRADBENCH], Profile::Release, &paths.root, &paths.target.join("gradbench-stable"), "GradBench tool on the stable route");
    steps.push(("GradBench tool tests, stable route (release)".into(), step_outcome(r)));
    let r = gradbench_nightly_tests(paths, &tc.host);
    steps.push(("GradBench tool tests, nightly route (release)".into(), step_outcome(r)));

    // Benchmarks are never timed here: each runs once at tiny sizes (which also checks every
    // implementation's derivative against the hand-written one).
    for route in [bench::BenchRoute::Nightly, bench::BenchRoute::Stable] {
        let r = bench::run(paths, &tc.host, route, true, None);
        steps.push((format!("benches compile and run once ({route:?} route)"), step_outcome(r)));
    }

    let mut results = Vec::new();
    if quick {
        println!("[test] --quick: acceptance corpus skipped");
    } else if !paths.corpus_script.is_file() {
        println!(
            "[test] warning: {} not found; acceptance corpus skipped",
            paths.corpus_script.display()
        );
    } else {
        // The acceptance criterion: `run_corpus.sh all` in release and in dev, on both routes.
        let mut suites = Vec::new();
        for route in [Route::Nightly, Route::Stable] {
            for profile in [Profile::Release, Profile::Dev] {
                suites.push(Suite { what: What::Cases, select: Select::All, profile, route });
                suites.push(Suite { what: What::Errors, select: Select::All, profile, route });
            }
        }
        let (r, errors) = corpus::run_suites(paths, &suites);
        results = r;
        steps.extend(errors);
    }

    let ok = corpus::report(&results, &expectations, &steps);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The workspace member that links only through a route's AD pass.
const GRADBENCH: &str = "oxidase-gradbench";

/// The GradBench tool's tests built by `cargo +enzyme` with `std::autodiff`.
fn gradbench_nightly_tests(paths: &Paths, host: &str) -> Result<()> {
    let mut c = cmd::cargo(setup::TOOLCHAIN_NAME);
    c.args(["test", "-p", GRADBENCH, "--features", "nightly", "--release", "--target", host])
        .current_dir(&paths.root)
        .env("RUSTFLAGS", "-Zautodiff=Enable")
        // std::autodiff needs fat LTO; the workspace profiles do not set it.
        .env("CARGO_PROFILE_RELEASE_LTO", "fat")
        .env("CARGO_TARGET_DIR", paths.target.join("gradbench-nightly"));
    println!("[test] GradBench tool on the nightly route: {}", cmd::describe(&c));
    cmd::run(&mut c).context("GradBench tool tests failed on the nightly route")
}

/// `cargo +stable autodiff <args> [--release]` in `dir`, streaming its output.
fn cargo_autodiff(args: &[&str], profile: Profile, dir: &Path, target: &Path, what: &str) -> Result<()> {
    let mut c = cmd::cargo("stable");
    c.arg("autodiff").args(args);
    if profile == Profile::Release {
        c.arg("--release");
    }
    c.current_dir(dir).env("CARGO_TARGET_DIR", target);
    println!("[test] {what} ({}): {}", profile.name(), cmd::describe(&c));
    cmd::run(&mut c).with_context(|| format!("{what} failed at {}", profile.name()))
}

fn step_outcome(r: Result<()>) -> Outcome {
    match r {
        Ok(()) => Outcome::Ok,
        Err(e) => {
            eprintln!("[test] {e:#}");
            Outcome::Error(format!("{e:#}"))
        }
    }
}
