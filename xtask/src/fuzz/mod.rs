//! `cargo xtask fuzz`: random differentiable Rust programs ([`gen`]) built on either route in
//! either profile, every derivative checked against finite differences and the other mode.
//!
//! A crate holds many functions (`--per-crate`), so a campaign costs few builds. A function the
//! engine refuses is taken out with `--cfg skip_K` and counted by the class of its refusal (the
//! message without the IR it quotes); the crate is built again without it. Any wrong number, a
//! crash or a panic fails the run. Every crate is written under `target/fuzz/` with its seed, so
//! a finding is reproduced by building that directory again.

pub mod gen;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::cmd;
use crate::corpus::Route;
use crate::{setup, Paths, Profile};

/// What a campaign covers.
pub struct Campaign {
    pub seed: u64,
    pub programs: usize,
    pub per_crate: usize,
    pub routes: Vec<Route>,
    pub profiles: Vec<Profile>,
}

/// Counts of one route and profile.
#[derive(Default)]
pub struct Tally {
    pub ok: usize,
    pub nonsmooth: usize,
    pub nonfinite: usize,
    /// Functions the engine refused, by class of message.
    pub refused: BTreeMap<String, usize>,
    /// Wrong numbers, crashes, panics: each with the crate directory and the line.
    pub wrong: Vec<String>,
    /// Derivatives compared (reverse against finite differences, forward against reverse).
    pub derivatives: usize,
}

/// Runs the campaign; prints a summary per route and profile. `Ok(true)` when no wrong number.
pub fn run(paths: &Paths, host: &str, c: &Campaign) -> Result<bool> {
    let crates = c.programs.div_ceil(c.per_crate);
    let mut all_ok = true;
    let root = paths.target.join("fuzz");
    let mut tallies: Vec<(String, Tally)> = Vec::new();
    for &route in &c.routes {
        for &profile in &c.profiles {
            let label = format!("{} {}", route_name(route), profile.name());
            let mut t = Tally::default();
            for j in 0..crates {
                let first = j * c.per_crate;
                let count = c.per_crate.min(c.programs - first);
                let seed = c.seed.wrapping_mul(1_000_003).wrapping_add(j as u64);
                let dir = root.join(format!("seed{}-crate{j}", c.seed));
                write_crate(paths, &dir, seed, first, count)?;
                let target = root.join(format!("target-{}", route_name(route)));
                check_crate(&dir, &target, host, route, profile, first, count, &mut t)?;
                println!(
                    "[fuzz] {label}: crate {}/{crates}: {} ok, {} nonsmooth, {} refused, {} wrong",
                    j + 1,
                    t.ok,
                    t.nonsmooth,
                    t.refused.values().sum::<usize>(),
                    t.wrong.len()
                );
            }
            all_ok &= t.wrong.is_empty();
            tallies.push((label, t));
        }
    }
    println!("\n[fuzz] campaign seed {}: {} programs per route and profile", c.seed, c.programs);
    for (label, t) in &tallies {
        let refused: usize = t.refused.values().sum();
        println!(
            "[fuzz] {label}: {} checked ({} derivatives compared): {} ok, {} nonsmooth at the point, {} nonfinite, {refused} refused, {} WRONG",
            t.ok + t.nonsmooth,
            t.derivatives,
            t.ok,
            t.nonsmooth,
            t.nonfinite,
            t.wrong.len()
        );
        for (class, n) in &t.refused {
            println!("[fuzz]     refused {n}×: {class}");
        }
        for w in &t.wrong {
            println!("[fuzz]     WRONG: {w}");
        }
    }
    Ok(all_ok)
}

fn route_name(r: Route) -> &'static str {
    r.name()
}

fn write_crate(paths: &Paths, dir: &Path, seed: u64, first: usize, count: usize) -> Result<()> {
    std::fs::create_dir_all(dir.join("src"))?;
    let oxidase = paths.root.join("crates").join("oxidase");
    let manifest = format!(
        "[package]\nname = \"oxidase-fuzz\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [features]\nstable = [\"dep:oxidase\"]\n\n[dependencies]\noxidase = {{ path = \"{}\", optional = true }}\n\n\
         [profile.dev]\nlto = \"fat\"\n\n[profile.release]\nlto = \"fat\"\n\n[workspace]\n",
        oxidase.display()
    );
    write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
    write_if_changed(&dir.join("src").join("main.rs"), &gen::program(seed, first, count))
}

fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Builds and runs one crate until every function is checked or refused.
#[allow(clippy::too_many_arguments)]
fn check_crate(dir: &Path, target: &Path, host: &str, route: Route, profile: Profile, first: usize, count: usize, t: &mut Tally) -> Result<()> {
    let mut skip: BTreeSet<usize> = BTreeSet::new();
    let ids: Vec<usize> = (first..first + count).collect();
    for _round in 0..=count {
        let live: Vec<usize> = ids.iter().copied().filter(|k| !skip.contains(k)).collect();
        if live.is_empty() {
            return Ok(());
        }
        match build(dir, target, host, route, profile, &skip)? {
            Err(log) => {
                // Every refusal the log names is taken out at once; bisection only when it
                // names none.
                let named = named_culprits(&log, &live);
                let culprits = if named.is_empty() { vec![culprit(dir, target, host, route, profile, &skip, &live, &log)?] } else { named };
                for (k, class) in culprits {
                    *t.refused.entry(class).or_default() += 1;
                    skip.insert(k);
                }
            }
            Ok(exe) => {
                let out = Command::new(&exe).output().with_context(|| format!("running {}", exe.display()))?;
                let stdout = String::from_utf8_lossy(&out.stdout);
                let mut seen = BTreeSet::new();
                for line in stdout.lines() {
                    let mut words = line.split_whitespace();
                    let (Some(tag), Some(k)) = (words.next(), words.next().and_then(|w| w.parse::<usize>().ok())) else { continue };
                    seen.insert(k);
                    match tag {
                        "ok" => {
                            t.ok += 1;
                            t.derivatives += 2 * gen::N;
                        }
                        "nonsmooth" => {
                            t.nonsmooth += 1;
                            t.derivatives += gen::N;
                        }
                        "nonfinite" => t.nonfinite += 1,
                        _ => t.wrong.push(format!("{} ({}, {}): {line}", dir.display(), route_name(route), profile.name())),
                    }
                }
                if out.status.success() {
                    return Ok(());
                }
                // A crash: the first function without a line is the one that crashed.
                let Some(&k) = live.iter().find(|k| !seen.contains(k)) else { return Ok(()) };
                t.wrong.push(format!(
                    "{} ({}, {}): function {k} crashed the program ({}): {}",
                    dir.display(),
                    route_name(route),
                    profile.name(),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
                ));
                // Check the rest without it (and without those already reported).
                skip.extend(seen.iter().copied());
                skip.insert(k);
                // Their counts are kept; only unreported functions run again.
            }
        }
    }
    Ok(())
}

/// Builds the crate with the functions in `skip` left out: `Ok(Ok(executable))`, or
/// `Ok(Err(compiler output))` when the build fails.
fn build(dir: &Path, target: &Path, host: &str, route: Route, profile: Profile, skip: &BTreeSet<usize>) -> Result<std::result::Result<PathBuf, String>> {
    let cfgs: Vec<String> = skip.iter().map(|k| format!("--cfg skip_{k}")).collect();
    let mut c = match route {
        Route::Nightly => {
            let mut c = cmd::cargo(setup::TOOLCHAIN_NAME);
            c.args(["build", "--target", host]);
            c.env("RUSTFLAGS", format!("-Zautodiff=Enable {}", cfgs.join(" ")));
            c
        }
        Route::Stable => {
            let mut c = cmd::cargo("stable");
            c.args(["autodiff", "build", "--features", "stable"]);
            c.env("RUSTFLAGS", cfgs.join(" "));
            c
        }
    };
    if profile == Profile::Release {
        c.arg("--release");
    }
    c.arg("--quiet").current_dir(dir).env("CARGO_TARGET_DIR", target);
    let out = c.output().with_context(|| format!("cannot start `{}`", cmd::describe(&c)))?;
    if !out.status.success() {
        return Ok(Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))));
    }
    let sub = if profile == Profile::Release { "release" } else { "debug" };
    Ok(Ok(target.join(host).join(sub).join("oxidase-fuzz")))
}

/// Which live function a failed build is about, and the class of its refusal: named in the
/// message when the engine names it, otherwise found by halving the live set.
#[allow(clippy::too_many_arguments)]
/// The functions the refusals in `log` name, each with the class of its refusal: the log is
/// cut into one piece per "autodiff cannot differentiate" message (with its notes).
fn named_culprits(log: &str, live: &[usize]) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let starts: Vec<usize> = log.match_indices("autodiff cannot differentiate").map(|(i, _)| i).collect();
    for (j, &i) in starts.iter().enumerate() {
        let piece = &log[i..starts.get(j + 1).copied().unwrap_or(log.len())];
        let found = live.iter().copied().find(|&k| mentions(piece, k));
        if let Some(k) = found {
            if !out.iter().any(|(x, _)| *x == k) {
                out.push((k, refusal_class(piece)));
            }
        }
    }
    out
}

/// Whether `text` names generated function `k` (`f_12` but not `f_123`).
fn mentions(text: &str, k: usize) -> bool {
    ["f_", "g_", "m", "rev_", "fwd_"].iter().any(|prefix| {
        let name = format!("{prefix}{k}");
        text.match_indices(name.as_str()).any(|(i, _)| {
            let before = text[..i].chars().next_back();
            let after = text[i + name.len()..].chars().next();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_') && !after.is_some_and(|c| c.is_ascii_digit())
        })
    })
}

fn culprit(dir: &Path, target: &Path, host: &str, route: Route, profile: Profile, skip: &BTreeSet<usize>, live: &[usize], log: &str) -> Result<(usize, String)> {
    let class = refusal_class(log);
    if let Some(&k) = live.iter().find(|&&k| mentions(log, k)) {
        return Ok((k, class));
    }
    let mut cand: Vec<usize> = live.to_vec();
    let mut extra = skip.clone();
    while cand.len() > 1 {
        let (a, b) = cand.split_at(cand.len() / 2);
        let (a, b) = (a.to_vec(), b.to_vec());
        let mut trial = extra.clone();
        trial.extend(b.iter().copied());
        match build(dir, target, host, route, profile, &trial)? {
            // Still failing without `b`: the culprit is in `a`.
            Err(_) => {
                extra.extend(b.iter().copied());
                cand = a;
            }
            Ok(_) => {
                extra.extend(a.iter().copied());
                cand = b;
            }
        }
    }
    Ok((cand[0], class))
}

/// The first engine message of a failed build without the IR and names it quotes, e.g.
/// "copies memory whose type oxidase cannot deduce"; other compiler errors are "build error:
/// <first error line>".
fn refusal_class(log: &str) -> String {
    if let Some(i) = log.find("autodiff cannot differentiate") {
        let rest = &log[i..];
        let rest = rest.split_once(": ").map(|(_, r)| r).unwrap_or(rest);
        let line = rest.lines().next().unwrap_or("");
        let mut out = String::new();
        let mut quoted = false;
        for ch in line.chars() {
            if ch == '`' {
                quoted = !quoted;
                if quoted {
                    out.push('…');
                }
                continue;
            }
            if !quoted {
                out.push(ch);
            }
        }
        let out = out.split(" (at ").next().unwrap_or(&out).trim().to_string();
        return out.chars().take(140).collect();
    }
    let first = log.lines().find(|l| l.starts_with("error")).unwrap_or("(no error line)");
    format!("build error: {}", first.chars().take(140).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_attributed_to_the_function_they_name() {
        let log = "error: autodiff cannot differentiate `merge`: `call @llvm.memcpy` copies memory (at x.rs:1)\n  = note: while differentiating `oxidase_fuzz::m12::f_12` for `oxidase_fuzz::m12::rev_12`\nautodiff cannot differentiate `g`: inline assembly with differentiated arguments\n  = note: while differentiating `oxidase_fuzz::m3::f_3` for `oxidase_fuzz::m3::rev_3`\n";
        let found = named_culprits(log, &[1, 3, 12, 123]);
        assert_eq!(found.iter().map(|(k, _)| *k).collect::<Vec<_>>(), vec![12, 3]);
        assert!(found[0].1.contains("copies memory"), "{found:?}");
        assert!(found[1].1.contains("inline assembly"), "{found:?}");
        assert!(!mentions("rev_123", 12) && mentions("m12::f_12`", 12) && !mentions("xm12::", 12));
    }
}
