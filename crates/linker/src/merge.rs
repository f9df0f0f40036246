//! Gathers the bitcode the derivatives need into one module, lowers the markers, writes it.

use crate::cmdline::CommandLine;
use crate::lower::{self, MARKER_PREFIX};
use crate::units::{self, Unit};
use oxidase_engine::Options;
use oxidase_llvm::bitcode::{link_into, write_bitcode};
use oxidase_llvm::llvm_sys::prelude::LLVMModuleRef;
use oxidase_llvm::module::{self, Context};
use oxidase_llvm::{Opcode, Value};
use std::collections::HashSet;
use std::ffi::OsString;
use std::time::Instant;

/// Returns the command line for the real linker, or `None` when there is nothing to
/// differentiate.
pub fn differentiate(cl: &CommandLine) -> Result<Option<Vec<OsString>>, Vec<String>> {
    let started = Instant::now();
    let flags = Flags::parse(&cl.autodiff_flags);
    let Some(units) = units::collect(&cl.inputs(), MARKER_PREFIX.as_bytes()).map_err(|e| vec![e])? else {
        return Ok(None);
    };
    let ctx = Context::new();
    let mut g = Gather { ctx: &ctx, units: &units, absorbed: HashSet::new(), merged: None };
    for i in 0..units.len() {
        if units[i].contains(MARKER_PREFIX.as_bytes()) {
            g.absorb(i).map_err(|e| vec![e])?;
        }
    }
    let Some(m) = g.merged.as_ref().map(|m| m.raw()) else { return Ok(None) };
    // Bring in the definitions of functions the differentiated code calls, until none is missing.
    loop {
        let mut progress = false;
        for name in missing_definitions(m) {
            let found = (0..units.len()).find(|&i| !g.absorbed.contains(&i) && units[i].contains(name.as_bytes()) && defines(&ctx, &units[i], &name));
            if let Some(i) = found {
                g.absorb(i).map_err(|e| vec![e])?;
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    let absorbed = g.absorbed.clone();
    // Debugging aid: the module as the engine receives it.
    if let Some(dump) = std::env::var_os("OXIDASE_DUMP_INPUT") {
        write_bitcode(m, std::path::Path::new(&dump)).map_err(|e| vec![e])?;
    }
    let loaded = started.elapsed();
    let t = Instant::now();
    let outcome = lower::run(m, flags.options.clone())?;
    for line in &outcome.report {
        eprintln!("{line}");
    }
    if let Err(e) = module::verify_module(m) {
        return Err(vec![format!("internal error: the differentiated module is invalid: {e}")]);
    }
    let output = cl.output().ok_or_else(|| vec!["the linker command line has no `-o <output>`".to_string()])?;
    let mut path = output.clone().into_os_string();
    path.push(".oxidase-ad.o");
    let path = std::path::PathBuf::from(path);
    write_bitcode(m, &path).map_err(|e| vec![e])?;
    if flags.print_perf {
        eprintln!(
            "oxidase: {} autodiff call(s) differentiated in {:.1} ms ({} bitcode unit(s) read and linked in {:.1} ms)",
            outcome.lowered,
            t.elapsed().as_secs_f64() * 1e3,
            absorbed.len(),
            loaded.as_secs_f64() * 1e3
        );
    }
    // Absorbed object files are replaced by the merged module (absorbed archive members are
    // left in their archives: the linker does not pull a member whose symbols are defined).
    let replaced: HashSet<usize> = absorbed.iter().filter(|&&i| units[i].member.is_none()).map(|&i| units[i].arg).collect();
    let mut args = Vec::new();
    let mut placed = false;
    for (i, a) in cl.args.iter().enumerate() {
        if replaced.contains(&i) {
            if !placed {
                args.push(path.clone().into_os_string());
                placed = true;
            }
        } else {
            args.push(a.clone());
        }
    }
    if !placed {
        args.push(path.into_os_string());
    }
    Ok(Some(args))
}

/// The merged module and which units are in it.
struct Gather<'a> {
    ctx: &'a Context,
    units: &'a [Unit],
    absorbed: HashSet<usize>,
    merged: Option<oxidase_llvm::OwnedModule>,
}

impl Gather<'_> {
    fn absorb(&mut self, i: usize) -> Result<(), String> {
        let u = &self.units[i];
        let m = self.ctx.parse_bitcode(u.bytes(), &u.name())?;
        self.absorbed.insert(i);
        match &self.merged {
            None => self.merged = Some(m),
            Some(dst) => link_into(dst.raw(), m).map_err(|e| format!("{}: {e}", u.name()))?,
        }
        Ok(())
    }
}

/// Whether the unit defines (not just declares) function `name`.
fn defines(ctx: &Context, unit: &Unit, name: &str) -> bool {
    ctx.parse_bitcode(unit.bytes(), &unit.name())
        .ok()
        .and_then(|m| module::get_function(m.raw(), name).map(|f| !f.is_declaration()))
        .unwrap_or(false)
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

/// `-Z autodiff=` flags as the engine understands them.
struct Flags {
    options: Options,
    print_perf: bool,
}

impl Flags {
    fn parse(flags: &[String]) -> Flags {
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
        let print_perf = options.print_perf;
        Flags { options, print_perf }
    }
}
