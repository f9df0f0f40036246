//! Adapter between rustc's `__enzyme_*` call sites and the oxidase engine.
//!
//! rustc lowers every generated function to a call of a variadic marker declaration
//! (`__enzyme_fwddiff_<outer>` / `__enzyme_autodiff_<outer>`) whose arguments name the primal and,
//! group by group, the activity of each of its LLVM parameters (shapes catalogued in
//! shared/docs/IR-SHAPES.md). This module parses those calls into engine requests, replaces each
//! call with a call to the generated derivative plus the glue that builds the value rustc
//! expects, removes the markers, and finally optimizes the module (rustc runs no IR optimization
//! after this pass).

use crate::flags::Flags;
use llvm_sys::prelude::LLVMModuleRef;
use oxidase_engine::error::demangle;
use oxidase_engine::{ArgActivity, Engine, ForwardKey, Options};
use oxidase_llvm::module::{self, context_of};
use oxidase_llvm::passes::{self, PipelineOptions};
use oxidase_llvm::{Builder, Opcode, Type, Value};
use std::collections::{HashMap, HashSet};

const FORWARD_PREFIX: &str = "__enzyme_fwddiff";
const REVERSE_PREFIX: &str = "__enzyme_autodiff";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Forward,
    Reverse,
}

/// One activity group of a marker call.
#[derive(Debug)]
enum Group {
    Const(Value),
    /// `enzyme_dup` / `enzyme_dupnoneed`: the value and one shadow per lane.
    Dual(Value, Vec<Value>),
    /// `enzyme_dupv`: one shadow holding all lanes, `stride` bytes apart.
    DualVector { value: Value, stride: Value, shadow: Value },
    /// `enzyme_out`: an Active (reverse-mode) input.
    Active(Value),
}

/// A parsed marker call.
#[derive(Debug)]
struct MarkerCall {
    call: Value,
    mode: Mode,
    /// The Rust function the user called (demangled), for diagnostics.
    outer: String,
    primal: Value,
    primal_return: bool,
    width: u32,
    groups: Vec<Group>,
}

/// Rewrites every autodiff marker call in `module`. Returns `Ok(changed)`, or the messages to
/// report as compile errors.
pub fn run(module: LLVMModuleRef, flags: &Flags) -> Result<bool, Vec<String>> {
    let markers: Vec<Value> = module::functions(module)
        .into_iter()
        .filter(|f| f.name().starts_with(FORWARD_PREFIX) || f.name().starts_with(REVERSE_PREFIX))
        .collect();
    if markers.is_empty() {
        return Ok(false);
    }
    let options = Options {
        print_activity: flags.print_activity,
        print_steps: flags.print_steps,
        function_filter: flags.function_to_analyze.clone(),
    };
    let started = std::time::Instant::now();
    let mut engine = Engine::new(module, options);
    let mut errors = Vec::new();
    let mut lowered = 0usize;
    for marker in order_inner_first(&markers) {
        for call in marker.users() {
            if !matches!(call.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke) {
                continue;
            }
            lowered += 1;
            if let Err(e) = lower_call(&mut engine, marker, call) {
                errors.extend(e);
                // Keep the module well-formed so that rustc can stop cleanly after the errors.
                if !call.ty().is_void() {
                    call.replace_all_uses_with(call.ty().poison());
                }
                erase_marker_call(call);
            }
        }
    }
    for line in engine.report.drain(..) {
        eprintln!("{line}");
    }
    remove_markers(module, &markers);
    let differentiated = started.elapsed();
    if errors.is_empty() {
        let level = opt_level();
        let t = std::time::Instant::now();
        if let Err(e) = optimize(module, level) {
            errors.push(format!("oxidase: optimizing the differentiated module failed: {e}"));
        }
        if flags.print_perf {
            eprintln!(
                "oxidase: {lowered} autodiff call(s) differentiated in {:.1} ms; module re-optimized at opt-level {level} in {:.1} ms",
                differentiated.as_secs_f64() * 1e3,
                t.elapsed().as_secs_f64() * 1e3
            );
        }
    }
    if errors.is_empty() {
        Ok(true)
    } else {
        Err(errors)
    }
}

/// Orders markers so that a marker whose primal (transitively) contains calls of another marker
/// comes after it: inner derivatives are generated first, and the outer derivative then
/// differentiates the generated code like any other code (higher order).
fn order_inner_first(markers: &[Value]) -> Vec<Value> {
    let marker_set: HashSet<Value> = markers.iter().copied().collect();
    // For each marker, the markers whose calls are reachable from its primals.
    let mut deps: HashMap<Value, HashSet<Value>> = HashMap::new();
    for &m in markers {
        let mut reached = HashSet::new();
        let mut stack: Vec<Value> = m
            .users()
            .into_iter()
            .filter(|c| matches!(c.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke))
            .filter_map(|c| c.call_args().first().copied())
            .filter(|f| f.is_function())
            .collect();
        let mut found = HashSet::new();
        while let Some(f) = stack.pop() {
            if !reached.insert(f) || f.is_declaration() {
                continue;
            }
            for b in f.blocks() {
                for i in b.instructions() {
                    if !matches!(i.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke) {
                        continue;
                    }
                    if let Some(callee) = i.called_function() {
                        if marker_set.contains(&callee) && callee != m {
                            found.insert(callee);
                        }
                        stack.push(callee);
                    }
                    // Function pointers passed as arguments may be called too.
                    for a in i.call_args() {
                        if a.is_function() {
                            stack.push(a);
                        }
                    }
                }
            }
        }
        deps.insert(m, found);
    }
    let mut done: Vec<Value> = Vec::new();
    let mut left: Vec<Value> = markers.to_vec();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|m| {
            if deps[m].iter().all(|d| done.contains(d)) {
                done.push(*m);
                false
            } else {
                true
            }
        });
        if left.len() == before {
            // A cycle (mutually higher-order derivatives): keep module order.
            done.append(&mut left);
        }
    }
    done
}

fn marker_name(v: Value) -> Option<String> {
    if v.is_global_variable() {
        let n = v.name();
        if n.starts_with("enzyme_") {
            return Some(n);
        }
    }
    None
}

fn parse_call(marker: Value, call: Value) -> Result<MarkerCall, String> {
    let name = marker.name();
    let (mode, rest) = if let Some(r) = name.strip_prefix(FORWARD_PREFIX) {
        (Mode::Forward, r)
    } else {
        (Mode::Reverse, name.strip_prefix(REVERSE_PREFIX).unwrap_or(&name))
    };
    let outer = demangle(rest.trim_start_matches('_').trim_start_matches('.')).to_string();
    let outer = if outer.starts_with('R') && !rest.is_empty() { demangle(&rest[1..]) } else { outer };
    let args = call.call_args();
    let primal = *args.first().ok_or_else(|| format!("`{outer}`: autodiff call without a function"))?;
    if !primal.is_function() || primal.is_declaration() {
        return Err(format!("`{outer}`: the function to differentiate is not defined in this program"));
    }
    let mut mc = MarkerCall { call, mode, outer, primal, primal_return: false, width: 1, groups: Vec::new() };
    let mut it = args[1..].iter().copied().peekable();
    let next = |it: &mut std::iter::Peekable<std::iter::Copied<std::slice::Iter<'_, Value>>>, what: &str| {
        it.next().ok_or_else(|| format!("autodiff call ends after `{what}`"))
    };
    while let Some(a) = it.next() {
        match marker_name(a).as_deref() {
            Some("enzyme_primal_return") => mc.primal_return = true,
            Some("enzyme_width") => {
                let w = next(&mut it, "enzyme_width")?;
                mc.width = w.const_int_value().filter(|&w| w >= 1).ok_or("enzyme_width needs a positive constant")? as u32;
            }
            Some("enzyme_const") => mc.groups.push(Group::Const(next(&mut it, "enzyme_const")?)),
            Some("enzyme_dup") | Some("enzyme_dupnoneed") => {
                let v = next(&mut it, "enzyme_dup")?;
                let mut shadows = Vec::new();
                for _ in 0..mc.width {
                    shadows.push(next(&mut it, "enzyme_dup")?);
                }
                mc.groups.push(Group::Dual(v, shadows));
            }
            Some("enzyme_dupv") => {
                let stride = next(&mut it, "enzyme_dupv")?;
                let value = next(&mut it, "enzyme_dupv")?;
                let shadow = next(&mut it, "enzyme_dupv")?;
                mc.groups.push(Group::DualVector { value, stride, shadow });
            }
            Some("enzyme_out") => mc.groups.push(Group::Active(next(&mut it, "enzyme_out")?)),
            Some(other) => return Err(format!("`{}`: unknown autodiff marker `{other}`", mc.outer)),
            // No marker: rustc always emits one, but Enzyme's convention is "constant".
            None => mc.groups.push(Group::Const(a)),
        }
    }
    Ok(mc)
}

fn lower_call(engine: &mut Engine, marker: Value, call: Value) -> Result<(), Vec<String>> {
    let mc = parse_call(marker, call).map_err(|e| vec![e])?;
    let primal_name = demangle(&mc.primal.name());
    // Activity checks that hold in both modes.
    for g in &mc.groups {
        if let Group::Active(v) = g {
            if mc.mode == Mode::Forward {
                return Err(vec![format!("`{}`: Active can not be used in Forward Mode (differentiating `{primal_name}`)", mc.outer)]);
            }
            if !v.ty().is_float() && !(v.ty().is_aggregate() && v.ty().contains_float() && !v.ty().contains_pointer()) {
                return Err(vec![format!(
                    "`{}`: Active can not be used for this type: an argument of `{primal_name}` is passed as `{}`, not as a float value; use Duplicated for references and pointers",
                    mc.outer,
                    v.ty().print()
                )]);
            }
        }
    }
    if mc.mode == Mode::Reverse {
        return Err(vec![format!(
            "`{}`: reverse mode (#[autodiff_reverse]) is not supported by this oxidase backend yet (differentiating `{primal_name}`); use #[autodiff_forward] for now",
            mc.outer
        )]);
    }
    lower_forward(engine, &mc)
}

fn lower_forward(engine: &mut Engine, mc: &MarkerCall) -> Result<(), Vec<String>> {
    let primal = mc.primal;
    let fty = primal.function_type();
    let params = fty.param_types();
    let sret = (0..params.len() as u32).find(|&i| primal.param_has_attribute(i, "sret"));
    let expected = params.len() - sret.is_some() as usize;
    if mc.groups.len() != expected {
        return Err(vec![format!(
            "`{}`: the autodiff call passes {} arguments but `{}` takes {expected}",
            mc.outer,
            mc.groups.len(),
            demangle(&primal.name())
        )]);
    }
    let ctx = context_of(engine.module);
    let b = Builder::new(ctx);
    let w = mc.width as usize;
    // Storage for an sret primal result and its tangents, in the caller's entry block.
    let sret_ty = sret.map(|i| primal.param_type_attribute(i, "sret").unwrap_or_else(|| Type::i8(ctx)));
    let mut sret_slots = Vec::new();
    if let Some(ty) = sret_ty {
        let entry = mc.call.parent_block().parent().entry_block();
        b.position_before(entry.first_instruction().unwrap());
        for _ in 0..=w {
            sret_slots.push(b.alloca(ty));
        }
    }
    b.position_before(mc.call);
    let mut args = Vec::new();
    let mut call_args = Vec::new();
    let mut groups = mc.groups.iter();
    for (i, &pty) in params.iter().enumerate() {
        if Some(i as u32) == sret {
            args.push(ArgActivity::Dual);
            call_args.extend(sret_slots.iter().copied());
            continue;
        }
        let g = groups.next().unwrap();
        let value = match g {
            Group::Const(v) | Group::Active(v) | Group::Dual(v, _) => *v,
            Group::DualVector { value, .. } => *value,
        };
        if value.ty() != pty {
            return Err(vec![format!(
                "`{}`: argument {} of `{}` has LLVM type `{}` but the autodiff call passes `{}`; this nightly passes by-value enums this way and the value cannot be recovered (pass the enum by reference instead)",
                mc.outer,
                i,
                demangle(&primal.name()),
                pty.print(),
                value.ty().print()
            )]);
        }
        match g {
            Group::Const(v) if v.is_function() => args.push(ArgActivity::Constant(*v)),
            Group::Const(v) => {
                args.push(ArgActivity::Const);
                call_args.push(*v);
            }
            Group::Dual(v, shadows) => {
                args.push(ArgActivity::Dual);
                call_args.push(*v);
                call_args.extend(shadows.iter().copied());
            }
            Group::DualVector { value, stride, shadow } => {
                args.push(ArgActivity::Dual);
                call_args.push(*value);
                for k in 0..w {
                    let off = b.mul(*stride, stride.ty().const_int(k as u64));
                    call_args.push(b.gep(Type::i8(ctx), *shadow, &[off]));
                }
            }
            Group::Active(_) => unreachable!("rejected above"),
        }
    }
    let key = ForwardKey { function: primal, args, width: mc.width };
    let df = engine.forward(&key).map_err(|errs| {
        errs.into_iter().map(|e| format!("{e}\n  = note: while differentiating `{}` for `{}`", demangle(&primal.name()), mc.outer)).collect::<Vec<_>>()
    })?;
    b.position_before(mc.call);
    let result = b.call(df.function_type(), df, &call_args);
    // The primal's result and tangents, as values.
    let (value, tangents): (Option<Value>, Vec<Value>) = if let Some(ty) = sret_ty {
        let v = b.load(ty, sret_slots[0]);
        (Some(v), (1..=w).map(|k| b.load(ty, sret_slots[k])).collect())
    } else if fty.return_type().is_void() {
        (None, Vec::new())
    } else {
        (Some(b.extract_value(result, 0)), (1..=w).map(|k| b.extract_value(result, k as u32)).collect())
    };
    let rty = mc.call.ty();
    let replacement = match value {
        None => rty.zero(),
        Some(v) => build_forward_result(&b, mc, rty, v, &tangents)?,
    };
    if !rty.is_void() {
        mc.call.replace_all_uses_with(replacement);
    }
    erase_marker_call(mc.call);
    Ok(())
}

/// Removes a marker call. An `invoke` (the caller has cleanups, e.g. drops) becomes a branch to
/// its normal destination: the derivative is called with a plain `call` just before it, so a
/// panic inside it unwinds past this frame's cleanups (a leak, never undefined behaviour).
fn erase_marker_call(call: Value) {
    if call.opcode() == Opcode::LLVMInvoke {
        let b = Builder::new(context_of(call.parent_block().parent().global_parent()));
        b.position_before(call);
        b.br(call.normal_dest());
    }
    call.erase();
}

/// Builds the value rustc expects from the call: `{P, P}` / `[w+1 x P]` with
/// `enzyme_primal_return`, otherwise the tangent(s) (`P` / `[w x P]`), or the primal for a Const
/// return at width > 1 (at width 1 rustc emits a Const return exactly like DualOnly).
fn build_forward_result(b: &Builder, mc: &MarkerCall, rty: Type, v: Value, ts: &[Value]) -> Result<Value, Vec<String>> {
    let pty = v.ty();
    let w = ts.len();
    let mismatch = || {
        vec![format!(
            "`{}`: unexpected result type `{}` for a forward derivative of a function returning `{}` (width {w})",
            mc.outer,
            rty.print(),
            pty.print()
        )]
    };
    let fill = |vals: &[Value]| -> Value {
        let mut agg = rty.undef();
        for (i, &x) in vals.iter().enumerate() {
            agg = b.insert_value(agg, x, i as u32);
        }
        agg
    };
    let mut all = vec![v];
    all.extend_from_slice(ts);
    if mc.primal_return {
        if rty.is_aggregate() && rty.aggregate_len() as usize == w + 1 && (0..=w as u32).all(|i| rty.field(i) == pty) {
            return Ok(fill(&all));
        }
        return Err(mismatch());
    }
    if w == 1 && rty == pty {
        return Ok(ts[0]);
    }
    if w > 1 && rty.is_array() && rty.aggregate_len() as usize == w && rty.element() == pty {
        return Ok(fill(ts));
    }
    if w > 1 && rty == pty {
        return Ok(v);
    }
    Err(mismatch())
}

/// Removes the marker declarations and the `enzyme_*` globals (else they would be undefined
/// symbols at link time).
fn remove_markers(module: LLVMModuleRef, markers: &[Value]) {
    for &m in markers {
        if m.users().is_empty() {
            m.delete_function();
        }
    }
    for g in module::globals(module) {
        if g.name().starts_with("enzyme_") && g.initializer().is_none() && g.users().is_empty() {
            g.delete_global();
        }
    }
}

/// The `-C opt-level` of this rustc process (0 when absent, as for cargo's dev profile).
fn opt_level() -> u32 {
    let args: Vec<String> = std::env::args().collect();
    let mut level = 0;
    for (i, a) in args.iter().enumerate() {
        let v = if let Some(v) = a.strip_prefix("-Copt-level=") {
            Some(v.to_string())
        } else if a == "-C" {
            args.get(i + 1).and_then(|n| n.strip_prefix("opt-level=")).map(str::to_string)
        } else if a == "-O" {
            Some("2".into())
        } else {
            None
        };
        if let Some(v) = v {
            level = match v.as_str() {
                "0" => 0,
                "1" => 1,
                "2" => 2,
                "s" | "z" => 2,
                _ => 3,
            };
        }
    }
    level
}

/// rustc runs no IR optimization after this pass and switched off vectorization and unrolling
/// for the whole program: give the module (derivatives included) the optimizer it would have had.
fn optimize(module: LLVMModuleRef, level: u32) -> Result<(), String> {
    if level == 0 {
        return Ok(());
    }
    let pipeline = format!("default<O{}>", level.min(3));
    passes::run_on_module(module, &pipeline, PipelineOptions { vectorize: level >= 2, unroll: level >= 2, verify_each: false })
}
