//! Gathers the bitcode the derivatives need into one module, lowers the markers, writes it.

use crate::cmdline::CommandLine;
use crate::lower;
use crate::scan::MARKER_PREFIX;
use crate::units::{self, Unit};
use oxidase_engine::Options;
use oxidase_llvm::bitcode::{link_into, write_bitcode};
use oxidase_llvm::llvm_sys::prelude::LLVMModuleRef;
use oxidase_llvm::module::{self, Context};
use oxidase_llvm::OwnedModule;
use oxidase_llvm::{Opcode, Value};
use std::collections::HashSet;
use std::ffi::OsString;
use std::time::Instant;

/// Returns the command line for the real linker, or `None` when there is nothing to
/// differentiate.
pub fn differentiate(cl: &CommandLine) -> Result<Option<Vec<OsString>>, Vec<String>> {
    let started = Instant::now();
    let options = engine_options(&cl.autodiff_flags);
    let Some(units) = units::collect(&cl.inputs(), MARKER_PREFIX.as_bytes()).map_err(|e| vec![e])? else {
        return Ok(None);
    };
    let ctx = Context::new();
    let mut g = Gather { ctx: &ctx, units: &units, absorbed: HashSet::new(), merged: None };
    for i in 0..units.len() {
        if units[i].contains(MARKER_PREFIX.as_bytes()) {
            let m = g.parse(i).map_err(|e| vec![e])?;
            g.absorb(i, m).map_err(|e| vec![e])?;
        }
    }
    let Some(m) = g.merged.as_ref().map(|m| m.raw()) else { return Ok(None) };
    // Bring in the definitions of functions the differentiated code calls, until none is missing.
    loop {
        let mut progress = false;
        for name in missing_definitions(m) {
            if let Some((i, unit)) = g.find_definition(&name) {
                g.absorb(i, unit).map_err(|e| vec![e])?;
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    // Debugging aid: the module as the engine receives it.
    if let Some(dump) = std::env::var_os("OXIDASE_DUMP_INPUT") {
        write_bitcode(m, std::path::Path::new(&dump)).map_err(|e| vec![e])?;
    }
    let loaded = started.elapsed();
    let t = Instant::now();
    let print_perf = options.print_perf;
    let outcome = lower::run(m, options, optimizes(&cl.args))?;
    let differentiated = t.elapsed();
    let t = Instant::now();
    for line in &outcome.report {
        eprintln!("{line}");
    }
    if let Err(e) = module::verify_module(m) {
        return Err(vec![format!("internal error: the differentiated module is invalid: {e}")]);
    }
    // Debugging aid: the module as the engine (and the pipeline after it) leaves it.
    if let Some(dump) = std::env::var_os("OXIDASE_DUMP_OUTPUT") {
        write_bitcode(m, std::path::Path::new(&dump)).map_err(|e| vec![e])?;
    }
    let output = cl.output().ok_or_else(|| vec!["the linker command line has no `-o <output>`".to_string()])?;
    let mut path = output.clone().into_os_string();
    path.push(".oxidase-ad.o");
    let path = std::path::PathBuf::from(path);
    write_bitcode(m, &path).map_err(|e| vec![e])?;
    if print_perf {
        eprintln!(
            "oxidase: {} bitcode unit(s) read and linked in {:.1} ms; {} autodiff call(s) differentiated in {:.1} ms; module verified and written in {:.1} ms",
            g.absorbed.len(),
            loaded.as_secs_f64() * 1e3,
            outcome.lowered,
            differentiated.as_secs_f64() * 1e3,
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(Some(relink_arguments(cl, &units, &g.absorbed, path.into_os_string())))
}

/// The linker's arguments with the merged module `merged` in place of the units it absorbed.
///
/// Absorbed object files are dropped. Absorbed archive members stay in their archives: the
/// linker pulls no member whose symbols are already defined, provided it has seen the merged
/// module *before* the archive. So the merged module goes where the first absorbed unit's
/// argument was, object file or archive (a binary whose own objects hold no marker, calling
/// derivatives generated in a dependency, has only archive members absorbed).
fn relink_arguments(cl: &CommandLine, units: &[Unit], absorbed: &HashSet<usize>, merged: OsString) -> Vec<OsString> {
    let dropped: HashSet<usize> = absorbed.iter().filter(|&&i| units[i].member.is_none()).map(|&i| units[i].arg).collect();
    let first = absorbed.iter().map(|&i| units[i].arg).min();
    let mut args = Vec::with_capacity(cl.args.len() + 1);
    for (i, a) in cl.args.iter().enumerate() {
        if Some(i) == first {
            args.push(merged.clone());
        }
        if !dropped.contains(&i) {
            args.push(a.clone());
        }
    }
    if first.is_none() {
        args.push(merged);
    }
    // As on the nightly route (whose backend optimizes the whole program without it): lld's
    // LTO pipeline would merge a reverse sweep's neighbouring shadow updates (`dx[i] += ..;
    // dx[i+1] += ..`) into vector read-modify-writes that overlap from one iteration to the
    // next and defeat store-to-load forwarding (Rosenbrock's gradient 3.5x slower, measured).
    // `OXIDASE_SLP=1` keeps it.
    if std::env::var("OXIDASE_SLP").map_or(true, |v| v != "1") {
        args.push(OsString::from("-Wl,-mllvm,-vectorize-slp=false"));
    }
    args
}

/// The merged module and which units are in it.
struct Gather<'a> {
    ctx: &'a Context,
    units: &'a [Unit],
    absorbed: HashSet<usize>,
    merged: Option<OwnedModule>,
}

impl Gather<'_> {
    fn parse(&self, i: usize) -> Result<OwnedModule, String> {
        let u = &self.units[i];
        self.ctx.parse_bitcode(u.bytes(), &u.name())
    }

    /// Links unit `i` (parsed as `m`) into the merged module.
    fn absorb(&mut self, i: usize, m: OwnedModule) -> Result<(), String> {
        self.absorbed.insert(i);
        match &self.merged {
            None => self.merged = Some(m),
            Some(dst) => link_into(dst.raw(), m).map_err(|e| format!("{}: {e}", self.units[i].name()))?,
        }
        Ok(())
    }

    /// A unit not yet absorbed that defines (not just declares) function `name`, parsed. The
    /// byte search keeps units that cannot hold the name from being parsed.
    fn find_definition(&self, name: &str) -> Option<(usize, OwnedModule)> {
        (0..self.units.len())
            .filter(|i| !self.absorbed.contains(i) && self.units[*i].contains(name.as_bytes()))
            .filter_map(|i| self.parse(i).ok().map(|m| (i, m)))
            .find(|(_, m)| module::get_function(m.raw(), name).is_some_and(|f| !f.is_declaration()))
    }
}

/// Functions reachable from the shims of marker calls that are only declared here.
fn missing_definitions(m: LLVMModuleRef) -> Vec<String> {
    let mut stack: Vec<Value> = module::functions(m)
        .into_iter()
        .filter(|f| f.name().starts_with(MARKER_PREFIX))
        .flat_map(|marker| marker.users())
        .filter_map(|call| call.call_args().get(1).copied())
        .filter(|f| f.is_function())
        .collect();
    let mut seen = HashSet::new();
    let mut missing = Vec::new();
    while let Some(f) = stack.pop() {
        if !seen.insert(f) {
            continue;
        }
        let name = f.name();
        if f.is_declaration() {
            if !name.starts_with("llvm.") && !name.starts_with(MARKER_PREFIX) {
                missing.push(name);
            }
            continue;
        }
        for b in f.blocks() {
            for i in b.instructions() {
                if matches!(i.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke) {
                    if let Some(c) = i.called_function() {
                        stack.push(c);
                    }
                }
                for op in i.operands() {
                    if op.is_function() {
                        stack.push(op);
                    }
                }
            }
        }
    }
    missing
}

/// `-Z autodiff=` flags as the engine understands them (others are accepted and change nothing).
/// Whether the link optimizes: rustc passes the profile's `opt-level` to the linker plugin
/// (`-plugin-opt=O0` … `O3`; `s` and `z` are `O2`).
fn optimizes(args: &[OsString]) -> bool {
    args.iter().any(|a| {
        let a = a.to_string_lossy();
        a.split(',').any(|part| part.strip_prefix("-plugin-opt=O").is_some_and(|l| l != "0"))
    })
}

fn engine_options(flags: &[String]) -> Options {
    let mut options = Options::default();
    for f in flags {
        match f.as_str() {
            "PrintAA" => options.print_activity = true,
            "PrintSteps" => options.print_steps = true,
            "PrintPerf" => options.print_perf = true,
            _ => {
                if let Some(name) = f.strip_prefix("PrintTAFn=") {
                    options.function_filter = Some(name.to_string());
                }
            }
        }
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimization_level_from_the_plugin_options() {
        let args = |s: &[&str]| s.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(optimizes(&args(&["-m64", "-Wl,-plugin-opt=O3,-plugin-opt=mcpu=x86-64"])));
        assert!(optimizes(&args(&["-Wl,-plugin-opt=O2"])));
        assert!(!optimizes(&args(&["-Wl,-plugin-opt=O0,-plugin-opt=mcpu=x86-64"])));
        assert!(!optimizes(&args(&["-m64", "-o", "out"])));
    }
}
