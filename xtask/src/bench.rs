//! `cargo xtask bench` and `cargo xtask bench-report`: run `benches/` and turn criterion's
//! output into markdown tables of medians and ratios.
//!
//! Criterion writes, per benchmark `<group>/<function>/<n>`, `new/estimates.json` (the median
//! of the per-iteration time, with its confidence interval) and `new/sample.json` (each
//! sample's iteration count and total time). The report shows the median and the spread of
//! the per-sample means (min–max), then each implementation ÷ the primal, then how many times
//! slower each peer is than oxidase's main entry of the group. Ratios are what is comparable
//! across runs on these shared machines; absolute times drift.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::{cmd, setup, Paths};

/// Which implementation of a group the peers are compared with.
const MAIN_ENTRY: &[(&str, &str)] = &[
    ("rosenbrock_gradient", "oxidase_reverse"),
    ("rosenbrock_hvp", "oxidase_hvp"),
];

/// The practical floor a group's oxidase entries are compared with.
const FLOOR: &[(&str, &str)] = &[
    ("rosenbrock_gradient", "hand_adjoint"),
    ("rosenbrock_hvp", "hand_hvp"),
];

#[derive(Deserialize)]
struct Estimates {
    median: Estimate,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
}

#[derive(Deserialize)]
struct Sample {
    iters: Vec<f64>,
    times: Vec<f64>,
}

/// One benchmark's figures, in nanoseconds per iteration.
#[derive(Clone, Copy)]
struct Figure {
    median: f64,
    min: f64,
    max: f64,
}

/// group → function → n → figure.
type Results = BTreeMap<String, BTreeMap<String, BTreeMap<u64, Figure>>>;

/// Route of a benchmark run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchRoute {
    Nightly,
    Stable,
}

/// Where criterion writes for a route (the routes use separate target directories).
pub fn criterion_dir(paths: &Paths, route: BenchRoute) -> PathBuf {
    bench_target(paths, route).join("criterion")
}

fn bench_target(paths: &Paths, route: BenchRoute) -> PathBuf {
    let benches = paths.root.join("benches").join("target");
    match route {
        BenchRoute::Nightly => benches,
        BenchRoute::Stable => benches.join("stable"),
    }
}

/// Run the benchmarks. `smoke`: every benchmark once at n = 2 and 10 (criterion's `--test`),
/// which checks that they compile, that every implementation's derivative is right, and that
/// nothing is timed. `filter` is criterion's name filter.
pub fn run(paths: &Paths, host: &str, route: BenchRoute, smoke: bool, filter: Option<&str>) -> Result<()> {
    let dir = paths.root.join("benches");
    let mut c = match route {
        BenchRoute::Nightly => {
            let mut c = cmd::cargo(setup::TOOLCHAIN_NAME);
            c.args(["bench", "--target", host]).env("RUSTFLAGS", "-Zautodiff=Enable");
            c
        }
        BenchRoute::Stable => {
            let mut c = cmd::cargo("stable");
            c.args(["autodiff", "bench", "--features", "stable"]);
            c
        }
    };
    c.current_dir(&dir).env("CARGO_TARGET_DIR", bench_target(paths, route));
    let mut extra: Vec<&str> = Vec::new();
    if smoke {
        c.env("OXIDASE_BENCH_SIZES", "2,10");
        extra.push("--test");
    }
    if let Some(f) = filter {
        extra.push(f);
    }
    if !extra.is_empty() {
        c.arg("--").args(extra);
    }
    println!("[bench] {}", cmd::describe(&c));
    cmd::run(&mut c).context("benchmarks failed")
}

/// Read every `<group>/<function>/<n>/new/` under `dir`.
fn load(dir: &Path) -> Result<Results> {
    let mut results = Results::new();
    if !dir.is_dir() {
        bail!("{} does not exist: run `cargo xtask bench` first", dir.display());
    }
    for group in subdirs(dir)? {
        for function in subdirs(&group)? {
            for param in subdirs(&function)? {
                let Ok(n) = name(&param).parse::<u64>() else { continue };
                let new = param.join("new");
                if !new.join("estimates.json").is_file() {
                    continue;
                }
                let est: Estimates = read_json(&new.join("estimates.json"))?;
                let sample: Sample = read_json(&new.join("sample.json"))?;
                let per_iter = sample.times.iter().zip(&sample.iters).map(|(t, i)| t / i);
                let (min, max) = per_iter.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
                results
                    .entry(name(&group))
                    .or_default()
                    .entry(name(&function))
                    .or_default()
                    .insert(n, Figure { median: est.median.point_estimate, min, max });
            }
        }
    }
    if results.is_empty() {
        bail!("no criterion results under {}", dir.display());
    }
    Ok(results)
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && name(p) != "report")
        .collect();
    v.sort();
    Ok(v)
}

fn name(p: &Path) -> String {
    p.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

fn read_json<T: for<'de> Deserialize<'de>>(p: &Path) -> Result<T> {
    let text = fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
    serde_json::from_str(&text).with_context(|| format!("cannot parse {}", p.display()))
}

fn lookup(table: &[(&str, &'static str)], group: &str) -> Option<&'static str> {
    table.iter().find(|(g, _)| *g == group).map(|(_, f)| *f)
}

/// Rows in reading order: primal, oxidase's entries, hand-written ones, then the peers.
fn row_order(functions: &BTreeMap<String, BTreeMap<u64, Figure>>) -> Vec<&String> {
    let rank = |f: &str| match f {
        "primal" => 0,
        f if f.starts_with("oxidase_") => 1,
        f if f.starts_with("hand_") => 2,
        _ => 3,
    };
    let mut rows: Vec<&String> = functions.keys().collect();
    rows.sort_by_key(|f| (rank(f), (*f).clone()));
    rows
}

fn time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

fn ratio(r: f64) -> String {
    if r < 10.0 {
        format!("{r:.2}×")
    } else {
        format!("{r:.0}×")
    }
}

/// The machine the report is produced on (criterion does not record it; run the report where
/// the benchmarks ran).
fn machine() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|r| r.trim_start_matches([' ', '\t', ':']).to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem_gib = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:").map(|r| r.trim().trim_end_matches(" kB").trim().to_string()))
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| format!("{:.0} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "? GiB".into());
    let rustc = |tc: &str| {
        cmd::capture(cmd::rustc(tc).arg("-V")).map(|s| s.trim().to_string()).unwrap_or_else(|_| format!("{tc}: unavailable"))
    };
    format!(
        "{cpu}, {cores} cores, {mem_gib}; {} (`enzyme` toolchain) / {} (stable)",
        rustc(setup::TOOLCHAIN_NAME),
        rustc("stable")
    )
}

/// The markdown report of every group under `dir`.
pub fn report(dir: &Path) -> Result<String> {
    let results = load(dir)?;
    let mut out = String::new();
    writeln!(out, "Machine: {}.", machine())?;
    writeln!(out, "Criterion results: `{}`. Times are medians per call; ranges are the min–max of criterion's per-sample means.", dir.display())?;
    for (group, functions) in &results {
        let sizes: Vec<u64> = {
            let mut s: Vec<u64> = functions.values().flat_map(|m| m.keys().copied()).collect();
            s.sort();
            s.dedup();
            s
        };
        let header = |first: &str| {
            let mut h = format!("| {first} |");
            let mut sep = String::from("|---|");
            for n in &sizes {
                h += &format!(" n = {n} |");
                sep += "---:|";
            }
            format!("{h}\n{sep}")
        };
        let rows = row_order(functions);
        let cell = |f: &str, n: u64| functions.get(f).and_then(|m| m.get(&n)).copied();

        writeln!(out, "\n### {group}: median time per call (min–max)\n")?;
        writeln!(out, "{}", header("implementation"))?;
        for f in &rows {
            let mut line = format!("| {f} |");
            for &n in &sizes {
                line += &match cell(f, n) {
                    Some(x) => format!(" {} ({}–{}) |", time(x.median), time(x.min), time(x.max)),
                    None => " — |".into(),
                };
            }
            writeln!(out, "{line}")?;
        }

        let table = |out: &mut String, title: String, first: &str, rows: &[&String], reference: &str| -> Result<()> {
            writeln!(out, "\n### {group}: {title}\n")?;
            writeln!(out, "{}", header(first))?;
            for f in rows {
                let mut line = format!("| {f} |");
                for &n in &sizes {
                    line += &match (cell(f, n), cell(reference, n)) {
                        (Some(x), Some(r)) => format!(" {} |", ratio(x.median / r.median)),
                        _ => " — |".into(),
                    };
                }
                writeln!(out, "{line}")?;
            }
            Ok(())
        };
        if functions.contains_key("primal") {
            let others: Vec<&String> = rows.iter().copied().filter(|f| f.as_str() != "primal").collect();
            table(&mut out, "time ÷ primal".into(), "implementation", &others, "primal")?;
        }
        if let Some(floor) = lookup(FLOOR, group).filter(|f| functions.contains_key(*f)) {
            let ours: Vec<&String> = rows.iter().copied().filter(|f| f.starts_with("oxidase_")).collect();
            table(&mut out, format!("oxidase ÷ {floor} (the hand-written floor)"), "implementation", &ours, floor)?;
        }
        if let Some(main) = lookup(MAIN_ENTRY, group).filter(|f| functions.contains_key(*f)) {
            let peers: Vec<&String> = rows
                .iter()
                .copied()
                .filter(|f| !f.starts_with("oxidase_") && f.as_str() != "primal" && !f.starts_with("hand_"))
                .collect();
            if !peers.is_empty() {
                table(&mut out, format!("peer ÷ {main} (how many times faster oxidase is)"), "peer", &peers, main)?;
            }
        }
    }
    Ok(out)
}
