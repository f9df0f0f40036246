//! The acceptance corpus (`../shared/acceptance/run_corpus.sh`) and its known failures
//! (`tests/corpus-expectations.toml`).
//!
//! A suite is one run of the script (`cases` or `errors`, one profile, one selection). Its
//! `PASS <dir>/<name>` / `FAIL <dir>/<name>` lines are compared with the expectations: a failure
//! not listed fails the run; a listed case that passes is only reported, so the list can be
//! trimmed.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use serde::Deserialize;

use crate::{cmd, Paths, Profile};

/// Which directory of the corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum What {
    /// `cases/`: programs that must build and run.
    Cases,
    /// `errors/`: programs that must fail to compile with a given diagnostic.
    Errors,
    /// Both.
    All,
}

impl What {
    fn name(self) -> &'static str {
        match self {
            What::Cases => "cases",
            What::Errors => "errors",
            What::All => "all",
        }
    }
}

/// Which `cases/` programs, by the autodiff macro they use (`AD_SELECT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Select {
    /// Programs using only `autodiff_forward`.
    Forward,
    /// Programs using `autodiff_reverse`.
    Reverse,
    /// Every program.
    All,
}

impl Select {
    fn name(self) -> &'static str {
        match self {
            Select::Forward => "forward",
            Select::Reverse => "reverse",
            Select::All => "all",
        }
    }
}

/// Which route builds the programs (`AD_ROUTE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Route {
    /// `cargo +enzyme` with our `libEnzyme-22.so` (`std::autodiff`).
    Nightly,
    /// `cargo autodiff` on stable Rust (`oxidase::autodiff`).
    Stable,
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::Nightly => "nightly",
            Route::Stable => "stable",
        }
    }
}

/// One invocation of `run_corpus.sh`.
pub struct Suite {
    pub what: What,
    pub select: Select,
    pub profile: Profile,
    pub route: Route,
}

impl Suite {
    /// E.g. `cases forward release`, `errors release`.
    pub fn name(&self) -> String {
        match self.what {
            What::Errors => format!("{} errors {}", self.route.name(), self.profile.name()),
            w => format!(
                "{} {} {} {}",
                self.route.name(),
                w.name(),
                self.select.name(),
                self.profile.name()
            ),
        }
    }

    /// `target/ad-logs/<profile>-<what>`, with `-<select>` appended unless it is `forward`
    /// (or the suite is `errors/`, which ignores the selection).
    fn log_dir(&self, paths: &Paths) -> PathBuf {
        let mut name = format!("{}-{}-{}", self.route.name(), self.profile.name(), self.what.name());
        if self.what != What::Errors && self.select != Select::Forward {
            name = format!("{name}-{}", self.select.name());
        }
        paths.target.join("ad-logs").join(name)
    }
}

/// The outcome of a step that is not a corpus suite (or of a suite that could not run).
pub enum Outcome {
    Ok,
    Error(String),
}

/// What one suite reported.
pub struct SuiteResult {
    pub name: String,
    pub route: Route,
    pub passed: Vec<String>,
    pub failed: Vec<String>,
}

/// A `PASS`/`FAIL` line of `run_corpus.sh`: (passed?, `cases/NAME`).
fn parse_line(line: &str) -> Option<(bool, &str)> {
    let (pass, rest) = if let Some(rest) = line.strip_prefix("PASS ") {
        (true, rest)
    } else {
        (false, line.strip_prefix("FAIL ")?)
    };
    let case = rest.split_whitespace().next()?;
    (case.starts_with("cases/") || case.starts_with("errors/")).then_some((pass, case))
}

/// Does the line look like the script's final `N passed, N failed`?
fn is_summary_line(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let num = |w: Option<&str>| w.is_some_and(|w| w.parse::<u64>().is_ok());
    num(words.next())
        && words.next() == Some("passed,")
        && num(words.next())
        && words.next() == Some("failed")
        && words.next().is_none()
}

/// Run one suite, streaming the script's output.
pub fn run_suite(paths: &Paths, suite: &Suite) -> Result<SuiteResult> {
    let name = suite.name();
    let logs = suite.log_dir(paths);
    let mut c = Command::new("bash");
    c.arg(&paths.corpus_script)
        .arg(suite.what.name())
        .current_dir(&paths.root)
        .env("AD_PROFILE", suite.profile.name())
        .env("AD_SELECT", suite.select.name())
        .env("AD_LOGS", &logs)
        .env("AD_ROUTE", suite.route.name())
        .env("AD_OXIDASE", paths.root.join("crates").join("oxidase"))
        .env_remove("RUSTUP_TOOLCHAIN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    println!("[corpus] {name}: {}", cmd::describe(&c));
    let mut child = c
        .spawn()
        .with_context(|| format!("cannot start {}", paths.corpus_script.display()))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut result = SuiteResult {
        name: name.clone(),
        route: suite.route,
        passed: Vec::new(),
        failed: Vec::new(),
    };
    let mut saw_summary = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading run_corpus.sh output")?;
        println!("{line}");
        match parse_line(&line) {
            Some((true, case)) => result.passed.push(case.to_string()),
            Some((false, case)) => result.failed.push(case.to_string()),
            None => saw_summary |= is_summary_line(&line),
        }
    }
    let status = child.wait()?;
    if !saw_summary {
        bail!("run_corpus.sh ({name}) ended without its `N passed, N failed` line ({status})");
    }
    if !status.success() && result.failed.is_empty() {
        bail!("run_corpus.sh ({name}) failed ({status}) without reporting a failing case");
    }
    Ok(result)
}

/// Run several suites; a suite that cannot run becomes a failed step.
pub fn run_suites(paths: &Paths, suites: &[Suite]) -> (Vec<SuiteResult>, Vec<(String, Outcome)>) {
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for suite in suites {
        match run_suite(paths, suite) {
            Ok(r) => results.push(r),
            Err(e) => {
                eprintln!("[corpus] {e:#}");
                errors.push((suite.name(), Outcome::Error(format!("{e:#}"))));
            }
        }
    }
    (results, errors)
}

// ---------------------------------------------------------------------------------------------
// Expectations

/// `tests/corpus-expectations.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    #[serde(default, rename = "expected_failure")]
    pub expected_failures: Vec<ExpectedFailure>,
}

/// A case known to fail, with the reason (an upstream limitation, not a bug of ours to hide).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailure {
    /// `cases/NAME` or `errors/NAME`, without `.rs`.
    pub case: String,
    /// `nightly` or `stable`; absent: both routes.
    #[serde(default)]
    pub route: Option<String>,
    pub reason: String,
}

impl Expectations {
    pub fn load(path: &Path) -> Result<Expectations> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    fn parse(text: &str) -> Result<Expectations> {
        let e: Expectations = toml::from_str(text)?;
        let mut seen = HashSet::new();
        for f in &e.expected_failures {
            if !(f.case.starts_with("cases/") || f.case.starts_with("errors/"))
                || f.case.ends_with(".rs")
            {
                bail!(
                    "`{}`: a case is written `cases/NAME` or `errors/NAME`",
                    f.case
                );
            }
            if f.reason.trim().is_empty() {
                bail!("`{}` needs a reason", f.case);
            }
            if f.route.as_deref().is_some_and(|r| r != "nightly" && r != "stable") {
                bail!("`{}`: route is `nightly` or `stable`", f.case);
            }
            if !seen.insert((f.case.as_str(), f.route.as_deref())) {
                bail!("`{}` is listed twice", f.case);
            }
        }
        Ok(e)
    }

    fn reason(&self, case: &str, route: Route) -> Option<&str> {
        self.expected_failures
            .iter()
            .find(|f| f.case == case && f.route.as_deref().is_none_or(|r| r == route.name()))
            .map(|f| f.reason.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// Report

/// Counts of one suite judged against the expectations.
#[derive(Debug, Default, PartialEq, Eq)]
struct Judged {
    passed: usize,
    failed: usize,
    expected: usize,
    unexpected: usize,
}

fn judge(r: &SuiteResult, exp: &Expectations) -> Judged {
    let expected = r.failed.iter().filter(|c| exp.reason(c, r.route).is_some()).count();
    Judged {
        passed: r.passed.len(),
        failed: r.failed.len(),
        expected,
        unexpected: r.failed.len() - expected,
    }
}

/// Print the summary (steps, suite table, notes) and the final `N passed, N failed` line.
/// Returns whether everything is as expected.
pub fn report(results: &[SuiteResult], exp: &Expectations, steps: &[(String, Outcome)]) -> bool {
    let mut ok = true;
    println!();
    println!("[summary]");
    for (name, outcome) in steps {
        match outcome {
            Outcome::Ok => println!("  {name:<34} ok"),
            Outcome::Error(msg) => {
                ok = false;
                println!("  {name:<34} FAILED: {}", msg.lines().next().unwrap_or(""));
            }
        }
    }

    let mut total = Judged::default();
    if !results.is_empty() {
        println!(
            "  {:<26} {:>7} {:>7} {:>9} {:>11}",
            "corpus suite", "passed", "failed", "expected", "unexpected"
        );
        for r in results {
            let j = judge(r, exp);
            println!(
                "  {:<26} {:>7} {:>7} {:>9} {:>11}",
                r.name, j.passed, j.failed, j.expected, j.unexpected
            );
            total.passed += j.passed;
            total.failed += j.failed;
            total.expected += j.expected;
            total.unexpected += j.unexpected;
        }
        println!(
            "  {:<26} {:>7} {:>7} {:>9} {:>11}",
            "total", total.passed, total.failed, total.expected, total.unexpected
        );
    }

    for r in results {
        for case in &r.failed {
            match exp.reason(case, r.route) {
                Some(reason) => println!("  known failure   {case} [{}]: {reason}", r.name),
                None => println!("  UNEXPECTED FAIL {case} [{}]", r.name),
            }
        }
    }
    for r in results {
        for case in r.passed.iter().filter(|c| exp.reason(c, r.route).is_some()) {
            println!(
                "  note: {case} [{}] passed although tests/corpus-expectations.toml lists it as an expected failure",
                r.name
            );
        }
    }
    if total.unexpected > 0 {
        ok = false;
    }
    println!("{} passed, {} failed", total.passed, total.failed);
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_script_lines() {
        assert_eq!(
            parse_line("PASS cases/01_fwd_scalar_dual"),
            Some((true, "cases/01_fwd_scalar_dual"))
        );
        assert_eq!(
            parse_line("FAIL errors/10_ret_activeonly_in_forward (log: /x/error_10.log)"),
            Some((false, "errors/10_ret_activeonly_in_forward"))
        );
        assert_eq!(parse_line("failed: cases/06_fwd_const_return"), None);
        assert_eq!(parse_line("PASS something else"), None);
        assert!(is_summary_line("40 passed, 2 failed"));
        assert!(!is_summary_line(
            "skipped 3 (not selected or not for route nightly)"
        ));
    }

    #[test]
    fn repository_expectations_parse() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus-expectations.toml");
        let e = Expectations::load(&path).unwrap();
        assert!(e.reason("cases/06_fwd_const_return", Route::Nightly).is_some());
        assert!(e.reason("cases/06_fwd_const_return", Route::Stable).is_none());
        assert!(e.reason("cases/01_fwd_scalar_dual", Route::Nightly).is_none());
    }

    #[test]
    fn rejects_bad_expectations() {
        assert!(Expectations::parse("[[expected_failure]]\ncase = \"cases/x\"\n").is_err()); // no reason
        assert!(
            Expectations::parse("[[expected_failure]]\ncase = \"x\"\nreason = \"r\"\n").is_err()
        );
        assert!(Expectations::parse(
            "[[expected_failure]]\ncase = \"cases/x\"\nreason = \"r\"\nwhy = 1\n"
        )
        .is_err());
        let twice = "[[expected_failure]]\ncase = \"cases/x\"\nreason = \"r\"\n".repeat(2);
        assert!(Expectations::parse(&twice).is_err());
    }

    #[test]
    fn judges_against_expectations() {
        let exp =
            Expectations::parse("[[expected_failure]]\ncase = \"cases/06\"\nreason = \"r\"\n")
                .unwrap();
        let r = SuiteResult {
            name: "cases forward release".into(),
            route: Route::Nightly,
            passed: vec!["cases/01".into()],
            failed: vec!["cases/06".into(), "cases/07".into()],
        };
        assert_eq!(
            judge(&r, &exp),
            Judged {
                passed: 1,
                failed: 2,
                expected: 1,
                unexpected: 1
            }
        );
    }
}
