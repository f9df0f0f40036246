//! Adapter between rustc's `__enzyme_*` call sites and the oxidase engine.
//!
//! rustc lowers every generated function to a call of a variadic marker declaration
//! (`__enzyme_fwddiff_<outer>` / `__enzyme_autodiff_<outer>`) whose arguments name the primal and,
//! group by group, the activity of each of its LLVM parameters (shapes catalogued in
//! shared/docs/IR-SHAPES.md). This module parses those calls into engine requests
//! ([`ForwardKey`] / [`ReverseKey`]), replaces each call with a call to the generated derivative
//! plus the glue that builds the value rustc expects, removes the markers, and finally optimizes
//! the module (rustc runs no IR optimization after this pass).
//!
//! What rustc leaves out is supplied here: storage for a primal's sret result, the reverse seed
//! `dret` (never passed by this nightly: 1.0), and shadows for Active large structs, which rustc
//! passes as `enzyme_out ptr` and which the engine sees as Duplicated with a zeroed shadow.

use crate::flags::Flags;
use llvm_sys::prelude::LLVMModuleRef;
use oxidase_engine::error::demangle;
use oxidase_engine::requests::{calls_of, erase_call, order_inner_first};
use oxidase_engine::{ArgActivity, Engine, ForwardKey, Options, RevArg, RevRet, ReverseKey};
use oxidase_llvm::module::{self, abi_size, context_of};
use oxidase_llvm::passes::{self, PipelineOptions};
use oxidase_llvm::{Builder, Type, Value};

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
        print_perf: flags.print_perf,
        function_filter: flags.function_to_analyze.clone(),
        ..Options::default()
    };
    // Debugging aids: the module as the engine receives it and as it leaves it (before the
    // optimizer), as bitcode (`llvm-dis` reads it).
    let dump = |var: &str| -> Result<(), Vec<String>> {
        match std::env::var_os(var) {
            Some(path) => oxidase_llvm::bitcode::write_bitcode(module, std::path::Path::new(&path)).map_err(|e| vec![e]),
            None => Ok(()),
        }
    };
    dump("OXIDASE_DUMP_INPUT")?;
    let started = std::time::Instant::now();
    let mut engine = Engine::new(module, options);
    let mut errors = Vec::new();
    let mut lowered = 0usize;
    let calls: Vec<Value> = markers.iter().flat_map(|&m| calls_of(m)).collect();
    let level = opt_level();
    let mut cleaned = (level > 0).then(std::collections::HashSet::new);
    for call in order_inner_first(&calls, |call| call.call_args().first().copied()) {
        let marker = call.called_function().expect("a marker call calls its marker");
        lowered += 1;
        if let (Some(cleaned), Some(f)) = (cleaned.as_mut(), call.call_args().first().copied().filter(|f| f.is_function())) {
            if let Err(e) = oxidase_engine::requests::clean_loops(f, cleaned, |f| f.name().starts_with(FORWARD_PREFIX) || f.name().starts_with(REVERSE_PREFIX)) {
                errors.push(format!("oxidase: internal error cleaning up loops: {e}"));
            }
        }
        if let Err(e) = lower_call(&mut engine, marker, call) {
            errors.extend(e);
            // Keep the module well-formed so that rustc can stop cleanly after the errors.
            if !call.ty().is_void() {
                call.replace_all_uses_with(call.ty().poison());
            }
            erase_call(call);
        }
    }
    for line in engine.report.drain(..) {
        eprintln!("{line}");
    }
    remove_markers(module, &markers);
    let differentiated = started.elapsed();
    dump("OXIDASE_DUMP_OUTPUT")?;
    if errors.is_empty() {
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
    let mut mc = parse_call(marker, call).map_err(|e| vec![e])?;
    reinterpret_const_enums(&mut mc);
    match mc.mode {
        Mode::Forward => {
            if mc.groups.iter().any(|g| matches!(g, Group::Active(_))) {
                return Err(vec![format!(
                    "`{}`: Active can not be used in Forward Mode (differentiating `{}`)",
                    mc.outer,
                    demangle(&mc.primal.name())
                )]);
            }
            lower_forward(engine, &mc)
        }
        Mode::Reverse => lower_reverse(engine, &mc),
    }
}

impl Group {
    /// The primal value the group passes.
    fn value(&self) -> Value {
        match self {
            Group::Const(v) | Group::Active(v) | Group::Dual(v, _) => *v,
            Group::DualVector { value, .. } => *value,
        }
    }
}

/// The primal as both lowerings see it: its parameters, each paired with the call's group for it.
struct Primal<'a> {
    function: Value,
    /// Demangled, for diagnostics.
    name: String,
    /// The LLVM return type (`void` for an sret primal).
    ret: Type,
    /// Per LLVM parameter: its type and the call's group, `None` for the sret parameter (rustc never
    /// passes one; the lowering supplies the storage).
    params: Vec<(Type, Option<&'a Group>)>,
    /// The type of the value an sret primal writes.
    sret_ty: Option<Type>,
}

impl Primal<'_> {
    /// The primal's result as a value (the sret type for an sret primal), `None` when it returns
    /// nothing.
    fn result_type(&self) -> Option<Type> {
        self.sret_ty.or((!self.ret.is_void()).then_some(self.ret))
    }
}

/// By-value enums arrive with the wrong LLVM type (IR-SHAPES §6.6): rustc passes the enum's
/// memory representation (`[1 x i64]`) where the primal takes the payload as `double`. For a
/// `Const` group of the same size the bits are the value, so they are reinterpreted through a
/// stack slot; any other mismatch is reported by [`primal_of`].
fn reinterpret_const_enums(mc: &mut MarkerCall) {
    let f = mc.primal;
    let m = f.global_parent();
    let types = f.function_type().param_types();
    let sret = (0..types.len() as u32).find(|&i| f.param_has_attribute(i, "sret"));
    let expected: Vec<Type> =
        types.iter().enumerate().filter(|(i, _)| Some(*i as u32) != sret).map(|(_, &t)| t).collect();
    if expected.len() != mc.groups.len() {
        return;
    }
    for (g, &pty) in mc.groups.iter_mut().zip(&expected) {
        let Group::Const(v) = g else { continue };
        let vty = v.ty();
        if vty == pty || abi_size(m, vty) != abi_size(m, pty) || !(pty.is_float() || pty.is_int()) {
            continue;
        }
        let slot = entry_slot_in(mc.call, vty);
        let b = Builder::new(context_of(m));
        b.position_before(mc.call);
        b.store(*v, slot);
        *v = b.load(pty, slot);
    }
}

/// Pairs the call's groups with the primal's parameters and checks their number and types.
fn primal_of<'a>(mc: &'a MarkerCall) -> Result<Primal<'a>, Vec<String>> {
    let f = mc.primal;
    let name = demangle(&f.name());
    let fty = f.function_type();
    let types = fty.param_types();
    let sret = (0..types.len() as u32).find(|&i| f.param_has_attribute(i, "sret"));
    let expected = types.len() - sret.is_some() as usize;
    if mc.groups.len() != expected {
        return Err(vec![format!(
            "`{}`: the autodiff call passes {} arguments but `{name}` takes {expected}",
            mc.outer,
            mc.groups.len()
        )]);
    }
    let mut groups = mc.groups.iter();
    let mut params = Vec::new();
    for (i, &pty) in types.iter().enumerate() {
        if Some(i as u32) == sret {
            params.push((pty, None));
            continue;
        }
        let g = groups.next().expect("counted above");
        let value = g.value();
        if value.ty() != pty {
            return Err(vec![format!(
                "`{}`: argument {} of `{name}` has LLVM type `{}` but the autodiff call passes `{}`; this nightly passes by-value enums this way and the value cannot be recovered (pass the enum by reference instead)",
                mc.outer,
                i,
                pty.print(),
                value.ty().print()
            )]);
        }
        params.push((pty, Some(g)));
    }
    let ctx = context_of(f.global_parent());
    let sret_ty = sret.map(|i| f.param_type_attribute(i, "sret").unwrap_or_else(|| Type::i8(ctx)));
    Ok(Primal { function: f, name, ret: fty.return_type(), params, sret_ty })
}

/// A stack slot in the entry block of the function holding the marker call (so that a call in a
/// loop reuses it).
fn entry_slot(mc: &MarkerCall, ty: Type) -> Value {
    entry_slot_in(mc.call, ty)
}

fn entry_slot_in(call: Value, ty: Type) -> Value {
    let function = call.parent_block().parent();
    let b = Builder::new(context_of(function.global_parent()));
    b.position_before(function.entry_block().first_instruction().expect("the call is in this function"));
    b.alloca(ty)
}

/// The `width` shadows of a Dual / Duplicated group, as call arguments (`enzyme_dupv`: one pointer
/// per lane into the single shadow, `stride` bytes apart). Emits code at `b`'s position.
fn shadow_args(b: &Builder, width: u32, g: &Group) -> Vec<Value> {
    match g {
        Group::Dual(_, shadows) => shadows.clone(),
        Group::DualVector { shadow, stride, .. } => (0..width as u64)
            .map(|k| {
                let off = b.mul(*stride, stride.ty().const_int(k));
                b.gep(Type::i8(b.context()), *shadow, &[off])
            })
            .collect(),
        Group::Const(_) | Group::Active(_) => Vec::new(),
    }
}

/// The engine's errors, each with the request that led to it.
fn engine_errors(mc: &MarkerCall, p: &Primal, errs: Vec<oxidase_engine::AdError>) -> Vec<String> {
    errs.into_iter().map(|e| format!("{e}\n  = note: while differentiating `{}` for `{}`", p.name, mc.outer)).collect()
}

/// Replaces the marker call by `value` (the value rustc expects) and removes it.
fn replace_marker_call(mc: &MarkerCall, value: Value) {
    if !mc.call.ty().is_void() {
        mc.call.replace_all_uses_with(value);
    }
    erase_call(mc.call);
}

fn lower_forward(engine: &mut Engine, mc: &MarkerCall) -> Result<(), Vec<String>> {
    let p = primal_of(mc)?;
    let ctx = context_of(engine.module);
    let b = Builder::new(ctx);
    let w = mc.width as usize;
    // Storage for an sret primal result and its tangents, in the caller's entry block.
    let sret_slots: Vec<Value> = p.sret_ty.map(|ty| (0..=w).map(|_| entry_slot(mc, ty)).collect()).unwrap_or_default();
    b.position_before(mc.call);
    let mut args = Vec::new();
    let mut call_args = Vec::new();
    for &(_, g) in &p.params {
        match g {
            None => {
                args.push(ArgActivity::Dual);
                call_args.extend(sret_slots.iter().copied());
            }
            Some(Group::Const(v)) if v.is_function() => args.push(ArgActivity::Constant(*v)),
            Some(Group::Const(v)) => {
                args.push(ArgActivity::Const);
                call_args.push(*v);
            }
            Some(g @ (Group::Dual(..) | Group::DualVector { .. })) => {
                args.push(ArgActivity::Dual);
                call_args.push(g.value());
                call_args.extend(shadow_args(&b, mc.width, g));
            }
            Some(Group::Active(_)) => unreachable!("rejected by lower_call"),
        }
    }
    let key = ForwardKey { function: p.function, args, width: mc.width, runtime_activity: false };
    let df = engine.forward(&key).map_err(|errs| engine_errors(mc, &p, errs))?;
    b.position_before(mc.call);
    let result = b.call(df.function_type(), df, &call_args);
    // The primal's result and tangents, as values.
    let (value, tangents): (Option<Value>, Vec<Value>) = if let Some(ty) = p.sret_ty {
        let v = b.load(ty, sret_slots[0]);
        (Some(v), (1..=w).map(|k| b.load(ty, sret_slots[k])).collect())
    } else if p.ret.is_void() {
        (None, Vec::new())
    } else {
        (Some(b.extract_value(result, 0)), (1..=w).map(|k| b.extract_value(result, k as u32)).collect())
    };
    let rty = mc.call.ty();
    let replacement = match value {
        None => rty.zero(),
        Some(v) => build_forward_result(&b, mc, rty, v, &tangents)?,
    };
    replace_marker_call(mc, replacement);
    Ok(())
}

// ---- reverse mode ----

/// An Active (`enzyme_out`) input as the call's result type R sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Out {
    /// A float value (or float vector / aggregate of floats) passed by value: its adjoint has its
    /// type. The two halves of a by-value pair are two such inputs sharing one field of R.
    Value(Type),
    /// A pointer to a large by-value struct (IR-SHAPES §6.7): its adjoint is a whole field of R,
    /// whose type is the struct's.
    Indirect,
}

/// Where one Active input's adjoint goes in R.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Placement {
    /// The adjoint's type: the input's own type, or for [`Out::Indirect`] the field type in R.
    ty: Type,
    /// (path inside the adjoint, path inside R): a single `([], field)` when the adjoint fills a
    /// field; one entry per leaf when it is one half of a by-value pair nested in R.
    parts: Vec<(Vec<u32>, Vec<u32>)>,
}

/// How the call's result type R is made up (IR-SHAPES §4, "Reverse mode").
#[derive(Clone, Debug, PartialEq, Eq)]
struct ReverseResult {
    /// Path of the primal result in R (`[]`: R is the primal itself); `None` when R omits it.
    primal: Option<Vec<u32>>,
    /// Whether the return is differentiated (Active / ActiveOnly: seeded with 1.0).
    ret_active: bool,
    /// One per Active input, in order.
    adjoints: Vec<Placement>,
}

/// The leaves (scalars, vectors, pointers) of `ty` with their paths, in memory order.
fn leaves(ty: Type) -> Vec<(Vec<u32>, Type)> {
    fn walk(ty: Type, path: &mut Vec<u32>, out: &mut Vec<(Vec<u32>, Type)>) {
        if ty.is_aggregate() {
            for i in 0..ty.aggregate_len() {
                path.push(i);
                walk(ty.field(i), path, out);
                path.pop();
            }
        } else {
            out.push((path.clone(), ty));
        }
    }
    let mut out = Vec::new();
    walk(ty, &mut Vec::new(), &mut out);
    out
}

/// Whether a value of `ty` can be an Active adjoint (floats, no pointers).
fn adjoint_type(ty: Type) -> bool {
    ty.contains_float() && !ty.contains_pointer()
}

/// Assigns the Active inputs `outs`, in order, to the adjoint fields of R. A field takes one
/// input of its own type, or consecutive inputs whose leaves are exactly its leaves (a by-value
/// pair `out a, out b` nested as `{ double, double }`), or one [`Out::Indirect`] input whole.
fn place_adjoints(fields: &[(Type, Vec<u32>)], outs: &[Out]) -> Option<Vec<Placement>> {
    let mut placed = Vec::new();
    let mut next = outs.iter();
    for (fty, fpath) in fields {
        match *next.next()? {
            Out::Indirect if adjoint_type(*fty) => placed.push(Placement { ty: *fty, parts: vec![(Vec::new(), fpath.clone())] }),
            Out::Indirect => return None,
            Out::Value(t) if t == *fty => placed.push(Placement { ty: t, parts: vec![(Vec::new(), fpath.clone())] }),
            Out::Value(first) => {
                let field_leaves = leaves(*fty);
                let mut filled = 0;
                let mut t = first;
                loop {
                    let mut parts = Vec::new();
                    for (src, lty) in leaves(t) {
                        let (dst, fty) = field_leaves.get(filled)?;
                        if *fty != lty {
                            return None;
                        }
                        parts.push((src, fpath.iter().chain(dst).copied().collect()));
                        filled += 1;
                    }
                    placed.push(Placement { ty: t, parts });
                    if filled == field_leaves.len() {
                        break;
                    }
                    match *next.next()? {
                        Out::Value(u) => t = u,
                        Out::Indirect => return None,
                    }
                }
            }
        }
    }
    next.next().is_none().then_some(placed)
}

/// Reads R: `[primal] ++ [one adjoint per Active Rust input]`, a bare type when that is one field,
/// `{}` when none. `primal` is the primal's result type (`None`: unit), `primal_return` whether
/// `enzyme_primal_return` was passed.
///
/// Without the flag a non-unit primal is either a Const return (primal kept) or ActiveOnly (primal
/// dropped); R tells them apart (IR-SHAPES §6.4). When both readings fit, which needs an Active
/// large struct whose adjoint type starts with the primal's type, the Const reading wins.
fn read_reverse_result(rty: Type, primal: Option<Type>, primal_return: bool, outs: &[Out]) -> Result<ReverseResult, String> {
    let readings: &[bool] = match (primal_return, primal) {
        (true, None) => return Err("`enzyme_primal_return` is passed but the function returns nothing".into()),
        (true, Some(_)) => &[true],
        (false, None) => &[false],
        (false, Some(_)) => &[true, false],
    };
    // R split into its fields, or taken as one field.
    let mut splits: Vec<Vec<(Type, Vec<u32>)>> = Vec::new();
    if rty.is_void() {
        splits.push(Vec::new());
    } else {
        if rty.is_struct() {
            splits.push(rty.struct_fields().into_iter().enumerate().map(|(i, t)| (t, vec![i as u32])).collect());
        }
        splits.push(vec![(rty, Vec::new())]);
    }
    for &with_primal in readings {
        for fields in &splits {
            let (primal_path, rest) = if with_primal {
                match fields.split_first() {
                    Some(((t, path), rest)) if Some(*t) == primal => (Some(path.clone()), rest),
                    _ => continue,
                }
            } else {
                (None, &fields[..])
            };
            if let Some(adjoints) = place_adjoints(rest, outs) {
                return Ok(ReverseResult { primal: primal_path, ret_active: primal_return || (!with_primal && primal.is_some()), adjoints });
            }
        }
    }
    let outs: Vec<String> = outs
        .iter()
        .map(|o| match o {
            Out::Value(t) => t.print(),
            Out::Indirect => "ptr (by-value struct)".into(),
        })
        .collect();
    Err(format!(
        "unexpected result type `{}` for a reverse derivative of a function returning `{}` with Active inputs [{}]{}",
        rty.print(),
        primal.map(|t| t.print()).unwrap_or_else(|| "()".into()),
        outs.join(", "),
        if primal_return { " and an Active return" } else { "" }
    ))
}

/// A value of `ty` with every float 1.0 (other leaves zero): the seed `dret` that this nightly
/// never passes (IR-SHAPES §6.1).
fn ones(b: &Builder, ty: Type) -> Value {
    if ty.is_float_or_float_vector() {
        ty.const_float(1.0)
    } else if ty.is_aggregate() {
        (0..ty.aggregate_len()).fold(ty.undef(), |agg, i| b.insert_value(agg, ones(b, ty.field(i)), i))
    } else {
        ty.zero()
    }
}

fn extract_at(b: &Builder, v: Value, path: &[u32]) -> Value {
    path.iter().fold(v, |v, &i| b.extract_value(v, i))
}

fn insert_at(b: &Builder, agg: Value, v: Value, path: &[u32]) -> Value {
    match path.split_first() {
        None => v,
        Some((&i, rest)) => {
            let inner = insert_at(b, b.extract_value(agg, i), v, rest);
            b.insert_value(agg, inner, i)
        }
    }
}

/// How one primal parameter is passed to the reverse derivative.
enum RevParam<'a> {
    /// rustc's group, passed as the engine expects it.
    Group(&'a Group),
    /// The sret parameter: storage for the result, duplicated with a shadow per lane that seeds
    /// the result (1.0 for an Active return, 0 for Const).
    Sret(Type),
    /// An Active large struct behind a pointer: duplicated with a zeroed shadow of this type, read
    /// back as its adjoint.
    Indirect(Value, Type),
}

fn lower_reverse(engine: &mut Engine, mc: &MarkerCall) -> Result<(), Vec<String>> {
    let p = primal_of(mc)?;
    let err = |what: String| vec![format!("`{}`: {what} (differentiating `{}`)", mc.outer, p.name)];
    // The Active inputs, as R sees them.
    let mut outs = Vec::new();
    for &(pty, g) in &p.params {
        match g {
            Some(Group::Active(_)) => {
                if pty.is_pointer() {
                    outs.push(Out::Indirect);
                } else if pty.is_float_or_float_vector() || (pty.is_aggregate() && adjoint_type(pty)) {
                    outs.push(Out::Value(pty));
                } else {
                    return Err(err(format!(
                        "Active can not be used for this type: an argument is passed as `{}`, not as a float value; use Duplicated for references and pointers, Const for integers",
                        pty.print()
                    )));
                }
                if mc.width > 1 {
                    return Err(err(format!(
                        "Active inputs are not supported with width {}: upstream leaves batched reverse mode with Active inputs unfinished (one adjoint for all lanes); use width 1, or pass the value by reference as Duplicated",
                        mc.width
                    )));
                }
            }
            Some(g @ (Group::Dual(..) | Group::DualVector { .. })) if !g.value().ty().is_pointer() => {
                return Err(err(format!(
                    "Duplicated needs a reference or pointer, but an argument is passed as `{}`; use Active for floats passed by value",
                    pty.print()
                )));
            }
            _ => {}
        }
    }
    let rty = mc.call.ty();
    let layout = read_reverse_result(rty, p.result_type(), mc.primal_return, &outs).map_err(err)?;
    // The engine's request.
    let mut args = Vec::new();
    let mut plan = Vec::new();
    let mut adjoints = layout.adjoints.iter();
    for &(_, g) in &p.params {
        let (arg, how) = match g {
            None => (RevArg::Duplicated, RevParam::Sret(p.sret_ty.expect("sret parameter"))),
            Some(Group::Const(v)) if v.is_function() => (RevArg::Constant(*v), RevParam::Group(g.unwrap())),
            Some(g @ Group::Const(_)) => (RevArg::Const, RevParam::Group(g)),
            Some(g @ (Group::Dual(..) | Group::DualVector { .. })) => (RevArg::Duplicated, RevParam::Group(g)),
            Some(g @ Group::Active(v)) => {
                let adjoint = adjoints.next().expect("one placement per Active input");
                if v.ty().is_pointer() {
                    (RevArg::Duplicated, RevParam::Indirect(*v, adjoint.ty))
                } else {
                    (RevArg::Active, RevParam::Group(g))
                }
            }
        };
        args.push(arg);
        plan.push(how);
    }
    // An sret primal returns void: its result is seeded through the shadow of its storage.
    let ret = if layout.ret_active && p.sret_ty.is_none() { RevRet::Active } else { RevRet::Const };
    let key = ReverseKey { function: p.function, args, ret, width: mc.width, runtime_activity: false, preserved: Vec::new(), repeated: false };
    let df = engine.reverse(&key).map_err(|errs| engine_errors(mc, &p, errs))?;

    // Slots go to the entry block (`entry_slot`); everything else right before the marker call.
    let b = Builder::new(context_of(engine.module));
    b.position_before(mc.call);
    let mut call_args = Vec::new();
    let mut sret_slot = None;
    let mut indirect_slots = Vec::new();
    for how in &plan {
        match *how {
            RevParam::Group(Group::Const(v)) if v.is_function() => {}
            RevParam::Group(g) => {
                call_args.push(g.value());
                call_args.extend(shadow_args(&b, mc.width, g));
            }
            RevParam::Sret(ty) => {
                let slot = entry_slot(mc, ty);
                sret_slot = Some((slot, ty));
                call_args.push(slot);
                for _ in 0..mc.width {
                    let shadow = entry_slot(mc, ty);
                    b.store(if layout.ret_active { ones(&b, ty) } else { ty.zero() }, shadow);
                    call_args.push(shadow);
                }
            }
            RevParam::Indirect(v, ty) => {
                let shadow = entry_slot(mc, ty);
                b.store(ty.zero(), shadow);
                indirect_slots.push((shadow, ty));
                call_args.extend([v, shadow]);
            }
        }
    }
    if ret == RevRet::Active {
        call_args.push(ones(&b, p.ret));
    }
    let result = b.call(df.function_type(), df, &call_args);
    // The engine's result: `{ primal (unless void), adjoint per Active parameter }`.
    let mut expected = Vec::new();
    if !p.ret.is_void() {
        expected.push(p.ret);
    }
    expected.extend(key.args.iter().zip(&p.params).filter(|(a, _)| **a == RevArg::Active).map(|(_, (t, _))| *t));
    let rety = result.ty();
    let fields: Vec<Value> = if expected.is_empty() {
        Vec::new()
    } else if rety == Type::struct_of(b.context(), &expected) {
        (0..expected.len() as u32).map(|i| b.extract_value(result, i)).collect()
    } else if expected.len() == 1 && rety == expected[0] {
        vec![result]
    } else {
        return Err(err(format!(
            "the engine's reverse derivative returns `{}`, expected the fields [{}] (internal error)",
            rety.print(),
            expected.iter().map(|t| t.print()).collect::<Vec<_>>().join(", ")
        )));
    };
    let mut fields = fields.into_iter();
    let primal_value = match sret_slot {
        Some((slot, ty)) => Some(b.load(ty, slot)),
        None if !p.ret.is_void() => fields.next(),
        None => None,
    };
    // The adjoint of each Active input, in order.
    let mut indirect = indirect_slots.into_iter();
    let adjoint_values: Vec<Value> = plan
        .iter()
        .filter_map(|how| match how {
            RevParam::Group(Group::Active(_)) => fields.next(),
            RevParam::Indirect(..) => indirect.next().map(|(slot, ty)| b.load(ty, slot)),
            _ => None,
        })
        .collect();
    // Build R.
    let replacement = if rty.is_void() || (rty.is_struct() && rty.aggregate_len() == 0) {
        rty.zero()
    } else {
        let mut r = rty.undef();
        if let (Some(path), Some(v)) = (&layout.primal, primal_value) {
            r = insert_at(&b, r, v, path);
        }
        for (place, &v) in layout.adjoints.iter().zip(&adjoint_values) {
            for (src, dst) in &place.parts {
                r = insert_at(&b, r, extract_at(&b, v, src), dst);
            }
        }
        r
    };
    replace_marker_call(mc, replacement);
    Ok(())
}

/// Removes a marker call. An `invoke` (the caller has cleanups, e.g. drops) becomes a branch to
/// its normal destination: the derivative is called with a plain `call` just before it, so a
/// panic inside it unwinds past this frame's cleanups (a leak, never undefined behaviour).
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
    // Straight-line vectorization merges a reverse sweep's adjacent shadow updates
    // (`dx[i] += ..; dx[i+1] += ..`) into vector read-modify-writes that overlap from one
    // iteration to the next, which defeats store-to-load forwarding (measured: Rosenbrock's
    // gradient 2.4x slower). Off unless OXIDASE_SLP=1. The pipeline option alone does not stop
    // the pass in this LLVM; its own switch does (process-wide, fine inside this pass).
    let slp = level >= 2 && std::env::var("OXIDASE_SLP").is_ok_and(|v| v == "1");
    if !slp {
        passes::set_llvm_options(&["-vectorize-slp=false"]);
    }
    passes::run_on_module(module, &pipeline, PipelineOptions { vectorize: level >= 2, slp, unroll: level >= 2, verify_each: false })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxidase_llvm::module::Context;

    struct T {
        _module: oxidase_llvm::module::OwnedModule,
        _ctx: Context,
        d: Type,
        f: Type,
        i32: Type,
        raw: llvm_sys::prelude::LLVMContextRef,
    }

    fn types() -> T {
        let ctx = Context::new();
        let raw = ctx.raw();
        let m = ctx.parse_ir("declare float @f32()", "types").unwrap();
        let f = module::get_function(m.raw(), "f32").unwrap().function_type().return_type();
        T { d: Type::f64(raw), f, i32: Type::i32(raw), raw, _module: m, _ctx: ctx }
    }

    impl T {
        fn s(&self, fields: &[Type]) -> Type {
            Type::struct_of(self.raw, fields)
        }
    }

    fn whole(ty: Type, path: &[u32]) -> Placement {
        Placement { ty, parts: vec![(Vec::new(), path.to_vec())] }
    }

    #[test]
    fn active_scalar_active_return() {
        // 02: `primal_return, out double` -> { double, double }
        let t = types();
        let r = read_reverse_result(t.s(&[t.d, t.d]), Some(t.d), true, &[Out::Value(t.d)]).unwrap();
        assert_eq!(r, ReverseResult { primal: Some(vec![0]), ret_active: true, adjoints: vec![whole(t.d, &[1])] });
    }

    #[test]
    fn active_only_return() {
        // 04 d_px_only: `out double, const double` -> double
        let t = types();
        let r = read_reverse_result(t.d, Some(t.d), false, &[Out::Value(t.d)]).unwrap();
        assert_eq!(r, ReverseResult { primal: None, ret_active: true, adjoints: vec![whole(t.d, &[])] });
        // 04 d_p_only: `out double, out double` -> { double, double }
        let r = read_reverse_result(t.s(&[t.d, t.d]), Some(t.d), false, &[Out::Value(t.d), Out::Value(t.d)]).unwrap();
        assert_eq!(r, ReverseResult { primal: None, ret_active: true, adjoints: vec![whole(t.d, &[0]), whole(t.d, &[1])] });
        // Duplicated inputs only, ActiveOnly return: {}
        let r = read_reverse_result(t.s(&[]), Some(t.d), false, &[]).unwrap();
        assert_eq!(r, ReverseResult { primal: None, ret_active: true, adjoints: vec![] });
    }

    #[test]
    fn const_return() {
        // 05: `dup, dup` -> double (the primal)
        let t = types();
        let r = read_reverse_result(t.d, Some(t.d), false, &[]).unwrap();
        assert_eq!(r, ReverseResult { primal: Some(vec![]), ret_active: false, adjoints: vec![] });
        // x14: (Active, Const): `out double` -> { double, double } = {primal, dx}
        let r = read_reverse_result(t.s(&[t.d, t.d]), Some(t.d), false, &[Out::Value(t.d)]).unwrap();
        assert_eq!(r, ReverseResult { primal: Some(vec![0]), ret_active: false, adjoints: vec![whole(t.d, &[1])] });
        // x05: i32 Const return
        let r = read_reverse_result(t.i32, Some(t.i32), false, &[]).unwrap();
        assert_eq!(r.primal, Some(vec![]));
        // x05: [4 x double] returned through sret
        let arr = Type::array_of(t.d, 4);
        let r = read_reverse_result(arr, Some(arr), false, &[]).unwrap();
        assert_eq!(r, ReverseResult { primal: Some(vec![]), ret_active: false, adjoints: vec![] });
        // x10: tuple return, Const: { { double, double }, double, double }
        let pair = t.s(&[t.d, t.d]);
        let r = read_reverse_result(t.s(&[pair, t.d, t.d]), Some(pair), false, &[Out::Value(t.d), Out::Value(t.d)]).unwrap();
        assert_eq!(r, ReverseResult { primal: Some(vec![0]), ret_active: false, adjoints: vec![whole(t.d, &[1]), whole(t.d, &[2])] });
    }

    #[test]
    fn unit_primal() {
        // 11: `dup, dup` -> {}
        let t = types();
        let r = read_reverse_result(t.s(&[]), None, false, &[]).unwrap();
        assert_eq!(r, ReverseResult { primal: None, ret_active: false, adjoints: vec![] });
        // x06: `&mut self` Duplicated, `out double`, unit return -> double
        let r = read_reverse_result(t.d, None, false, &[Out::Value(t.d)]).unwrap();
        assert_eq!(r, ReverseResult { primal: None, ret_active: false, adjoints: vec![whole(t.d, &[])] });
    }

    #[test]
    fn by_value_pair_is_nested() {
        // 25: `primal_return, out double, out double` -> { double, { double, double } }
        let t = types();
        let r = read_reverse_result(t.s(&[t.d, t.s(&[t.d, t.d])]), Some(t.d), true, &[Out::Value(t.d), Out::Value(t.d)]).unwrap();
        let half = |i: u32| Placement { ty: t.d, parts: vec![(vec![], vec![1, i])] };
        assert_eq!(r, ReverseResult { primal: Some(vec![0]), ret_active: true, adjoints: vec![half(0), half(1)] });
        // x06 `self` by value next to a scalar: { double, double, double }
        let r = read_reverse_result(t.s(&[t.d, t.d, t.d]), Some(t.d), true, &[Out::Value(t.d), Out::Value(t.d)]).unwrap();
        assert_eq!(r.adjoints, vec![whole(t.d, &[1]), whole(t.d, &[2])]);
        // A pair and a scalar, ActiveOnly: { { double, double }, double }
        let r = read_reverse_result(t.s(&[t.s(&[t.d, t.d]), t.d]), Some(t.d), false, &[Out::Value(t.d), Out::Value(t.d), Out::Value(t.d)]).unwrap();
        assert_eq!(r.primal, None);
        assert_eq!(r.adjoints[2], whole(t.d, &[1]));
        assert_eq!(r.adjoints[1], Placement { ty: t.d, parts: vec![(vec![], vec![0, 1])] });
    }

    #[test]
    fn mixed_float_types() {
        // 37: f32 inputs, f64 return -> { double, float, float }
        let t = types();
        let r = read_reverse_result(t.s(&[t.d, t.f, t.f]), Some(t.d), true, &[Out::Value(t.f), Out::Value(t.f)]).unwrap();
        assert_eq!(r.adjoints, vec![whole(t.f, &[1]), whole(t.f, &[2])]);
    }

    #[test]
    fn large_struct_by_pointer() {
        // x04: `primal_return, out ptr` -> { double, { double, double, double } }
        let t = types();
        let v3 = t.s(&[t.d, t.d, t.d]);
        let r = read_reverse_result(t.s(&[t.d, v3]), Some(t.d), true, &[Out::Indirect]).unwrap();
        assert_eq!(r, ReverseResult { primal: Some(vec![0]), ret_active: true, adjoints: vec![whole(v3, &[1])] });
        // ActiveOnly: R is the struct's adjoint itself
        let r = read_reverse_result(v3, Some(t.d), false, &[Out::Indirect]).unwrap();
        assert_eq!(r, ReverseResult { primal: None, ret_active: true, adjoints: vec![whole(v3, &[])] });
        // Const return
        let r = read_reverse_result(t.s(&[t.d, v3]), Some(t.d), false, &[Out::Indirect]).unwrap();
        assert_eq!(r, ReverseResult { primal: Some(vec![0]), ret_active: false, adjoints: vec![whole(v3, &[1])] });
    }

    #[test]
    fn mismatches_are_errors() {
        let t = types();
        // One adjoint too few.
        assert!(read_reverse_result(t.s(&[t.d, t.d]), Some(t.d), true, &[Out::Value(t.d), Out::Value(t.d)]).is_err());
        // Wrong float type.
        assert!(read_reverse_result(t.s(&[t.d, t.d]), Some(t.d), true, &[Out::Value(t.f)]).is_err());
        // Primal flag on a unit function.
        assert!(read_reverse_result(t.d, None, true, &[Out::Value(t.d)]).is_err());
        // An indirect adjoint must hold floats.
        assert!(read_reverse_result(t.s(&[t.d, t.i32]), Some(t.d), true, &[Out::Indirect]).is_err());
        // Leaves must agree in order.
        assert!(read_reverse_result(t.s(&[t.d, t.s(&[t.f, t.d])]), None, false, &[Out::Value(t.d), Out::Value(t.d), Out::Value(t.f)]).is_err());
    }
}
