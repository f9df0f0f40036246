//! Replaces each marker call written by `#[autodiff_*]` (contract: `oxidase-macros`' `lower`
//! module) with a call to the derivative of its shim.

use oxidase_engine::requests::{calls_of, clean_loops, erase_call, order_inner_first};
use oxidase_engine::{ArgActivity, Engine, ForwardKey, Options, RequestLabel, RevArg, RevRet, ReverseKey};
use oxidase_llvm::llvm_sys::prelude::LLVMModuleRef;
use oxidase_llvm::module::{self, context_of};
use oxidase_llvm::passes::{self, PipelineOptions};
use oxidase_llvm::{Builder, Opcode, Value};
use std::collections::HashSet;

use crate::scan::MARKER_PREFIX;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Forward,
    Reverse,
}

/// What a marker's name says.
fn parse_marker(name: &str) -> Option<(Mode, u32)> {
    let rest = name.strip_prefix(MARKER_PREFIX)?;
    let (mode, rest) = if let Some(r) = rest.strip_prefix("fwd_w") {
        (Mode::Forward, r)
    } else {
        (Mode::Reverse, rest.strip_prefix("rev_w")?)
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let width = digits.parse().ok().filter(|&w| w >= 1)?;
    Some((mode, width))
}

/// The function a pointer operand designates: a function constant, possibly behind casts, or
/// (unoptimized code) the one function ever stored to the stack slot it is loaded from.
fn function_of(v: Value) -> Option<Value> {
    if v.is_function() {
        return Some(v);
    }
    if v.opcode() == Opcode::LLVMLoad {
        let slot = v.operand(0);
        let stored: Vec<Value> = slot
            .users()
            .into_iter()
            .filter(|u| u.opcode() == Opcode::LLVMStore && u.operand(1) == slot)
            .map(|s| s.operand(0))
            .collect();
        if let [f] = stored[..] {
            return f.is_function().then_some(f);
        }
    }
    None
}

/// `path::of::f`, `file.rs:line` and the `Const` arguments' names from the marker's first
/// argument (crates built by an older macro have no names).
fn describe(desc: Value) -> (String, String, String) {
    let bytes = desc.initializer().and_then(|i| i.const_bytes()).unwrap_or_default();
    let mut parts = bytes.split(|&b| b == 0).map(|p| String::from_utf8_lossy(p).into_owned());
    let name = parts.next().filter(|s| !s.is_empty()).unwrap_or_else(|| "<unknown function>".into());
    let place = parts.next().unwrap_or_default();
    let consts = parts.next().unwrap_or_default();
    (name, place, consts)
}

pub struct Outcome {
    pub lowered: usize,
    pub report: Vec<String>,
}

/// Lowers every marker call of `module`; on error, lists every failed request. `optimized`:
/// the build optimizes (the linker's LTO runs at `-O1` or more).
pub fn run(module: LLVMModuleRef, options: Options, optimized: bool) -> Result<Outcome, Vec<String>> {
    let markers: Vec<Value> = module::functions(module).into_iter().filter(|f| f.name().starts_with(MARKER_PREFIX)).collect();
    let mut engine = Engine::new(module, options);
    let mut errors = Vec::new();
    let mut lowered = 0;
    for &marker in &markers {
        if parse_marker(&marker.name()).is_none() {
            errors.push(format!("unknown autodiff marker `{}`: rebuild the crate with this version of oxidase", marker.name()));
        }
    }
    let calls: Vec<Value> = markers.iter().filter(|m| parse_marker(&m.name()).is_some()).flat_map(|&m| calls_of(m)).collect();
    let mut cleaned = optimized.then(HashSet::new);
    for call in order_inner_first(&calls, |call| call.call_args().get(1).copied().and_then(function_of)) {
        let (mode, width) = parse_marker(&call.called_function().expect("a marker call").name()).expect("filtered above");
        lowered += 1;
        if let Err(e) = lower_call(&mut engine, mode, width, call, cleaned.as_mut()) {
            errors.push(e);
        }
    }
    let report = std::mem::take(&mut engine.report);
    if !errors.is_empty() {
        // The reports asked for help understand the errors: print them first.
        for line in report {
            eprintln!("{line}");
        }
        return Err(errors);
    }
    for m in markers {
        if m.users().is_empty() {
            m.delete_function();
        }
    }
    Ok(Outcome { lowered, report })
}

fn lower_call(engine: &mut Engine, mode: Mode, width: u32, call: Value, cleaned: Option<&mut HashSet<Value>>) -> Result<(), String> {
    let args = call.call_args();
    let (name, place, const_args) = describe(args.first().copied().ok_or("marker call without arguments")?);
    let at = if place.is_empty() { String::new() } else { format!(" (at {place})") };
    let w = width as usize;
    if args.len() != 5 + 2 * w {
        return Err(format!("`{name}`{at}: malformed autodiff marker call: rebuild the crate with this version of oxidase"));
    }
    let shim = function_of(args[1])
        .filter(|f| !f.is_declaration())
        .ok_or_else(|| format!("`{name}`{at}: the function to differentiate is not defined in this program"))?;
    // Unoptimized code reaches the shim through `FnOnce::call_once`, which packs its three pointer
    // arguments into one stack tuple; the engine would then see the constant pointer stored next
    // to differentiated ones and ask for its shadow. Scalar replacement unpacks them.
    passes::run_on_function(shim, "sroa", PipelineOptions::default())
        .map_err(|e| format!("`{name}`{at}: internal error preparing the shim: {e}"))?;
    if let Some(cleaned) = cleaned {
        clean_loops(shim, cleaned, |f| f.name().starts_with(MARKER_PREFIX)).map_err(|e| format!("`{name}`{at}: internal error cleaning up loops: {e}"))?;
    }
    let (consts, act, ret) = (args[2], args[3], args[4]);
    engine.request_label = Some(RequestLabel { function: name.clone(), const_args });
    let (dact, dret) = (&args[5..5 + w], &args[5 + w..]);
    let derivative = match mode {
        Mode::Forward => engine.forward(&ForwardKey { function: shim, args: vec![ArgActivity::Const, ArgActivity::Dual, ArgActivity::Dual], width, runtime_activity: false }),
        Mode::Reverse => engine.reverse(&ReverseKey {
            function: shim,
            args: vec![RevArg::Const, RevArg::Duplicated, RevArg::Duplicated],
            ret: RevRet::Const,
            width,
            runtime_activity: false,
            preserved: Vec::new(),
            repeated: false,
        }),
    }
    .map_err(|errs| {
        let mode = if mode == Mode::Forward { "autodiff_forward" } else { "autodiff_reverse" };
        // The shim is the macro's, not the user's: name the user's function instead.
        let shim_name = oxidase_engine::error::demangle(&shim.name());
        let lines: Vec<String> = errs
            .into_iter()
            .map(|mut e| {
                if e.function == shim_name {
                    e.function = name.clone();
                }
                e.to_string()
            })
            .collect();
        format!("{}\n  = note: while generating the `#[{mode}]` derivative of `{name}`{at}", lines.join("\n"))
    })?;
    let b = Builder::new(context_of(engine.module));
    b.position_before(call);
    let mut call_args = vec![consts, act];
    call_args.extend_from_slice(dact);
    call_args.push(ret);
    call_args.extend_from_slice(dret);
    b.call(derivative.function_type(), derivative, &call_args);
    erase_call(call);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_names() {
        assert_eq!(parse_marker("oxidase_autodiff_v1_fwd_w4__use_cargo_autodiff_to_build"), Some((Mode::Forward, 4)));
        assert_eq!(parse_marker("oxidase_autodiff_v1_rev_w1__use_cargo_autodiff_to_build"), Some((Mode::Reverse, 1)));
        assert_eq!(parse_marker("oxidase_autodiff_v1_rev_w0"), None);
        assert_eq!(parse_marker("oxidase_autodiff_v2_fwd_w1"), None);
    }
}
