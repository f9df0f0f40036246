//! Reverse mode: a forward sweep that runs the primal and records what the reverse sweep needs,
//! then a reverse sweep that propagates adjoints from the outputs back to the inputs.
//!
//! # Shape of the generated code
//!
//! The forward sweep is a copy of the primal (like forward mode, but without tangents): pointers
//! into differentiated memory get shadow pointers, stack slots and heap blocks get zeroed shadow
//! memory, and pointers stored into shadowed memory are mirrored into the shadow.
//!
//! Every primal block `B` that can reach a return gets a reverse block `B'` which processes `B`'s
//! instructions backwards and then jumps to the reversal of the predecessor `B` was entered from.
//! The forward sweep records that predecessor in a `choice` phi whenever `B` has more than one, so
//! any CFG rustc emits (loops with unknown trip counts, early exits, `switch`) is reversed
//! without loop analysis.
//!
//! Values the reverse sweep needs (operands of nonlinear operations, shadow pointers, choices)
//! travel from the end of `B` to the start of `B'`:
//! * a block that runs at most once (not on a cycle) stores them into stack slots (combined
//!   derivatives only; the optimizer turns those into SSA values);
//! * everything else goes through the [`tape`](crate::tape): a LIFO stack, which is exactly right
//!   because `B'` runs in the reverse order of `B`.
//!
//! Adjoints of SSA values live in zero-initialized stack slots (one per lane); the reversal of a
//! definition reads its adjoint and resets it to zero, so a loop's iterations do not mix.
//!
//! # Two shapes
//!
//! * **Combined** (`f.oxidase.revN`): both sweeps in one function; the user-facing derivative.
//!   Calling convention: [`crate::ReverseKey`].
//! * **Split** (`f.oxidase.augN` + `f.oxidase.rrevN`): for calls from other derivatives. The
//!   augmented forward function takes the primal arguments (Duplicated ones followed by their
//!   shadows) and the caller's tape, runs the forward sweep and pushes everything onto that tape;
//!   it returns `{ result, shadow of a pointer result × width }` (or `void`). The reverse
//!   function takes the tape and the result's adjoint (one per lane, if the result carries
//!   floats), pops what the forward sweep pushed, and returns the adjoints of the Active
//!   parameters, `width` per parameter, as a literal struct (or `void`).

use crate::activity::{self, Activity};
use crate::calls::{classify, indirect_candidates, Alloc, CallKind};
use crate::error::{describe, AdError};
use crate::cfg::{Cfg, CountedLoop};
use crate::forward::reverse_post_order;
use crate::emit;
use crate::rules::{Partial, E};
use crate::runtime_activity;
use crate::types::{copy_contents, memory_contents, strip_pointer, Contents};
use crate::{tape, types, Engine, RevArg, RevRet, ReverseKey};
use oxidase_llvm::llvm_sys::prelude::LLVMModuleRef;
use oxidase_llvm::module::{abi_size, context_of};
use oxidase_llvm::{Block, Builder, IntPredicate, Opcode, Type, Value};
use std::collections::{HashMap, HashSet};

/// Which of the two shapes is generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    Combined,
    Split,
}

/// Types of the Active parameters, in order.
fn active_param_types(key: &ReverseKey) -> Vec<Type> {
    let fty = key.function.function_type();
    fty.param_types().into_iter().zip(&key.args).filter(|(_, a)| **a == RevArg::Active).map(|(t, _)| t).collect()
}

/// Primal parameters as the derivative takes them (Constant dropped, shadows after Duplicated).
fn forward_param_types(key: &ReverseKey) -> Vec<Type> {
    let fty = key.function.function_type();
    let mut params = Vec::new();
    for (ty, act) in fty.param_types().into_iter().zip(&key.args) {
        match act {
            RevArg::Constant(_) => {}
            RevArg::Const | RevArg::Active => params.push(ty),
            RevArg::Duplicated => {
                params.push(ty);
                params.extend(std::iter::repeat_n(ty, key.width as usize));
            }
        }
    }
    params
}

/// The user-facing combined derivative's type (see [`crate::ReverseKey`]).
pub fn combined_type(key: &ReverseKey) -> Type {
    let fty = key.function.function_type();
    let ctx = fty.context();
    let mut params = forward_param_types(key);
    let ret = fty.return_type();
    if key.ret == RevRet::Active && !ret.is_void() {
        params.push(ret);
    }
    let mut fields = Vec::new();
    if !ret.is_void() {
        fields.push(ret);
    }
    fields.extend(active_param_types(key));
    let r = if fields.is_empty() { Type::void(ctx) } else { Type::struct_of(ctx, &fields) };
    Type::function(r, &params, false)
}

/// Whether the split forward function returns shadows of its (pointer) result.
fn returns_shadow(key: &ReverseKey) -> bool {
    let r = key.function.function_type().return_type();
    // An Active integer result is an address in disguise (`activity::carries_address`).
    key.ret == RevRet::Active && (r.contains_pointer() || r.is_int())
}

/// Whether the split reverse function takes the result's adjoint.
fn takes_seed(key: &ReverseKey) -> bool {
    let r = key.function.function_type().return_type();
    key.ret == RevRet::Active && r.contains_float() || matches!(key.ret, RevRet::FloatBits(_))
}

/// The type of the result's adjoint a split reverse function takes (see [`takes_seed`]).
fn seed_type(key: &ReverseKey) -> Type {
    match key.ret {
        RevRet::FloatBits(t) => t,
        _ => key.function.function_type().return_type(),
    }
}

pub fn augmented_type(key: &ReverseKey) -> Type {
    let fty = key.function.function_type();
    let ctx = fty.context();
    let mut params = forward_param_types(key);
    params.push(Type::ptr(ctx));
    let ret = fty.return_type();
    let r = if ret.is_void() {
        ret
    } else if returns_shadow(key) {
        Type::struct_of(ctx, &vec![ret; 1 + key.width as usize])
    } else {
        Type::struct_of(ctx, &[ret])
    };
    Type::function(r, &params, false)
}

pub fn split_reverse_type(key: &ReverseKey) -> Type {
    let fty = key.function.function_type();
    let ctx = fty.context();
    let w = key.width as usize;
    let mut params = vec![Type::ptr(ctx)];
    if takes_seed(key) {
        params.extend(std::iter::repeat_n(seed_type(key), w));
    }
    let fields: Vec<Type> = active_param_types(key).into_iter().flat_map(|t| std::iter::repeat_n(t, w)).collect();
    let r = if fields.is_empty() { Type::void(ctx) } else { Type::struct_of(ctx, &fields) };
    Type::function(r, &params, false)
}

/// Where a forward value needed by the reverse sweep is kept.
#[derive(Clone, Copy)]
enum Carrier {
    /// A stack slot written at the end of the forward block (blocks that run at most once).
    Slot(Value),
    /// Pushed at the end of the forward block, popped at the start of its reversal.
    Tape,
}

struct Gen<'e> {
    engine: &'e mut Engine,
    /// Shadows may be primal pointers (see [`crate::runtime_activity`]): accesses check.
    runtime: bool,
    /// `Const` parameters that are their own shadows.
    self_shadowed: Vec<usize>,
    key: ReverseKey,
    shape: Shape,
    primal: Value,
    width: usize,
    activity: Activity,
    subst: HashMap<Value, Value>,
    /// The function holding the forward sweep (and, when combined, the reverse sweep).
    fwd_fn: Value,
    /// The function holding the reverse sweep.
    rev_fn: Value,
    b: Builder,
    /// Builder for the head of the reverse block being generated (loads and pops).
    hb: Builder,
    /// Builder at the top of the reverse function (adjoint slots).
    slots_b: Builder,
    /// Builder at the top of the forward function (value slots).
    fwd_slots_b: Builder,
    /// The shared tape header (see [`tape`]) in the forward function.
    tape: Value,
    /// The shared tape header inside the reverse function.
    rev_tape: Value,
    /// Private working copies of the header's stack state (pushes and pops go through them).
    fwd_local: Value,
    rev_local: Value,
    // forward sweep
    vmap: HashMap<Value, Value>,
    /// Primal pointer value → its shadows (one per lane).
    smap: HashMap<Value, Vec<Value>>,
    bmap: HashMap<Block, Block>,
    edge_from: HashMap<(Block, Block), Block>,
    phis: Vec<(Value, Value, Vec<Value>)>,
    /// Primal block → the instruction before which its values are saved for the reverse sweep.
    save_point: HashMap<Block, Value>,
    /// Primal block → `choice` phi (index of the predecessor it was entered from).
    choice: HashMap<Block, Value>,
    preds: HashMap<Block, Vec<Block>>,
    cyclic: HashSet<Block>,
    /// Loops run backwards by their induction variable: no choice is recorded at their header,
    /// and the variable is recomputed in the reversal (see [`CountedLoop`]).
    loops: Vec<CountedLoop>,
    /// Per loop: the reversal's copy of the induction variable, and of its start value.
    loop_slots: Vec<(Value, Option<Value>)>,
    /// Loop exit edges (block in the loop, block outside) → loop index; the forward sweep saves
    /// the induction variable on them, the reversal restores it when it enters the loop.
    /// The value is `None` when the saved values go through the tape, or the stack slots holding
    /// them (iv, start) on an edge that runs at most once (combined derivatives).
    /// Per exit edge, the counted loops it leaves (an edge out of nested loops leaves several),
    /// in the order their induction variables are saved there.
    loop_exits: HashMap<(Block, Block), Vec<(usize, Option<(Value, Option<Value>)>)>>,
    /// Combined: slot of the primal result.
    ret_slot: Option<Value>,
    /// Returning primal blocks, in order (their index is pushed when there are several, split).
    returns: Vec<Block>,
    // reverse sweep
    rhead: HashMap<Block, Block>,
    rbody: HashMap<Block, Block>,
    /// Primal value → adjoint slots (one per lane).
    adj: HashMap<Value, Vec<Value>>,
    /// Per primal block: forward values it saves, in the order its reversal fetched them.
    saves: HashMap<Block, Vec<(Value, Carrier)>>,
    /// (primal block, forward value) → the value inside the reversal.
    fetched: HashMap<(Block, Value), Value>,
    /// The primal block whose reversal is being generated.
    current: Option<Block>,
    seeds: Vec<Value>,
    /// Arguments of the forward function whose memory nothing writes while the derivative runs
    /// (`noalias readonly` in the primal): loads from it can be repeated in the reversal.
    readonly_args: HashSet<Value>,
    stats: CacheStats,
    errors: Vec<AdError>,
}

/// How the values the reverse sweep needs were carried (`-Z autodiff=PrintPerf`).
#[derive(Default, Debug)]
struct CacheStats {
    slots: usize,
    taped: usize,
    /// Bytes pushed per execution of every cyclic block once (a loop iteration's cost).
    tape_bytes: u64,
    recomputed: usize,
}

/// Generates the derivative(s) for `key`: `fns` is `[combined]` or `[augmented, reverse]`,
/// already declared with the types above.
pub fn generate(engine: &mut Engine, key: &ReverseKey, shape: Shape, fns: &[Value]) -> Result<(), Vec<AdError>> {
    let primal = key.function;
    let mut subst = HashMap::new();
    for (p, a) in primal.params().iter().zip(&key.args) {
        if let RevArg::Constant(c) = a {
            subst.insert(*p, *c);
        }
    }
    for (i, (p, a)) in primal.params().into_iter().zip(&key.args).enumerate() {
        let ok = match a {
            RevArg::Active => p.ty().contains_float() && !p.ty().contains_pointer(),
            RevArg::Duplicated => p.ty().is_pointer(),
            _ => true,
        };
        if !ok {
            return Err(vec![AdError::new(
                primal,
                format!("parameter {i} (`{}`) can not be {:?}", describe(p), a),
                "Active is for floats passed by value, Duplicated for references and pointers",
            )]);
        }
    }
    // A constant table specialized on has a shadow: the global's own.
    let mut active_params: Vec<bool> = key
        .args
        .iter()
        .map(|a| {
            matches!(a, RevArg::Active | RevArg::Duplicated)
                || matches!(a, RevArg::Constant(c) if crate::calls::constant_has_shadow(*c))
        })
        .collect();
    // `Const` parameters kept beside shadowed memory are their own shadows (run-time activity).
    let mut self_shadowed = Vec::new();
    let bits = engine.float_bits(primal);
    let activity = loop {
        let activity = {
            let mut callees = |c: Value, a: &[bool], r: bool| engine.param_requirements(c, a, r);
            activity::analyze(primal, &active_params, returns_shadow(key), bits.clone(), &subst, &mut callees)?
        };
        let own = activity.self_shadowed(primal, &active_params, "Duplicated")?;
        if own.is_empty() {
            break activity;
        }
        engine.check_self_shadowing(key.function, fns[0], key.runtime_activity, returns_shadow(key))?;
        for k in own {
            active_params[k] = true;
            self_shadowed.push(k);
        }
    };
    if engine.options.print_activity && engine.wants_report(primal) {
        engine.report.push(activity.report(primal));
    }
    let ctx = context_of(engine.module);
    let (fwd_fn, rev_fn) = match shape {
        Shape::Combined => (fns[0], fns[0]),
        Shape::Split => (fns[0], fns[1]),
    };
    let mut g = Gen {
        engine,
        runtime: key.runtime_activity || !self_shadowed.is_empty(),
        self_shadowed,
        key: key.clone(),
        shape,
        primal,
        width: key.width as usize,
        activity,
        subst,
        fwd_fn,
        rev_fn,
        b: Builder::new(ctx),
        hb: Builder::new(ctx),
        slots_b: Builder::new(ctx),
        fwd_slots_b: Builder::new(ctx),
        tape: Type::ptr(ctx).zero(),
        rev_tape: Type::ptr(ctx).zero(),
        fwd_local: Type::ptr(ctx).zero(),
        rev_local: Type::ptr(ctx).zero(),
        vmap: HashMap::new(),
        smap: HashMap::new(),
        bmap: HashMap::new(),
        edge_from: HashMap::new(),
        phis: Vec::new(),
        save_point: HashMap::new(),
        choice: HashMap::new(),
        preds: HashMap::new(),
        loops: Vec::new(),
        loop_slots: Vec::new(),
        loop_exits: HashMap::new(),
        cyclic: HashSet::new(),
        ret_slot: None,
        returns: Vec::new(),
        rhead: HashMap::new(),
        rbody: HashMap::new(),
        adj: HashMap::new(),
        saves: HashMap::new(),
        fetched: HashMap::new(),
        current: None,
        seeds: Vec::new(),
        readonly_args: HashSet::new(),
        stats: CacheStats::default(),
        errors: Vec::new(),
    };
    g.run();
    if g.engine.options.print_perf && g.engine.wants_report(primal) {
        let st = &g.stats;
        let line = format!(
            "oxidase: reverse derivative of {} ({shape:?}): {} values kept in stack slots, {} on the tape ({} bytes per pass through the loops), {} recomputed",
            crate::error::demangle(&primal.name()),
            st.slots,
            st.taped,
            st.tape_bytes,
            st.recomputed
        );
        g.engine.report.push(line);
    }
    if g.errors.is_empty() {
        Ok(())
    } else {
        Err(g.errors)
    }
}

// ---- CFG facts ----

fn is_return(b: Block) -> bool {
    b.terminator().is_some_and(|t| t.opcode() == Opcode::LLVMRet)
}

/// Sum of two adjoints of type `ty` (floats, float vectors, aggregates of them; other leaves are
/// kept from `a`).
pub(crate) fn add_adjoints(b: &Builder, a: Value, d: Value) -> Value {
    let ty = a.ty();
    if ty.is_float_or_float_vector() {
        return b.fadd(a, d);
    }
    if ty.is_aggregate() {
        let mut out = a;
        for i in 0..ty.aggregate_len() {
            if !ty.field(i).contains_float() {
                continue;
            }
            let (x, y) = (b.extract_value(a, i), b.extract_value(d, i));
            let s = add_adjoints(b, x, y);
            out = b.insert_value(out, s, i);
        }
        return out;
    }
    a
}

/// `v` with its float leaves replaced by zero.
pub(crate) fn zero_floats(b: &Builder, v: Value) -> Value {
    let ty = v.ty();
    if ty.is_float_or_float_vector() {
        return ty.zero();
    }
    if ty.is_aggregate() && ty.contains_float() {
        let mut out = v;
        for i in 0..ty.aggregate_len() {
            if ty.field(i).contains_float() {
                let x = b.extract_value(v, i);
                let z = zero_floats(b, x);
                out = b.insert_value(out, z, i);
            }
        }
        return out;
    }
    v
}

/// `shadow` with its float leaves taken from `old` (what shadow memory held) and its integer
/// leaves from `primal`: the value to store into shadow memory when `primal` is stored.
fn mirror_value(b: &Builder, old: Value, primal: Value, shadow: Option<Value>) -> Value {
    let ty = primal.ty();
    if ty.is_float_or_float_vector() {
        return old;
    }
    if ty.is_pointer() || (ty.is_vector() && ty.element().is_pointer()) {
        return shadow.unwrap_or_else(|| ty.zero());
    }
    if ty.is_aggregate() {
        let mut out = ty.undef();
        for i in 0..ty.aggregate_len() {
            let o = b.extract_value(old, i);
            let p = b.extract_value(primal, i);
            let s = shadow.map(|s| b.extract_value(s, i));
            let m = mirror_value(b, o, p, s);
            out = b.insert_value(out, m, i);
        }
        return out;
    }
    primal
}

impl Gen<'_> {
    fn module(&self) -> LLVMModuleRef {
        self.engine.module
    }

    fn error(&mut self, at: Value, construct: String, hint: &str) {
        self.errors.push(AdError::new(self.primal, construct, hint).at(at));
    }

    fn run(&mut self) {
        let ctx = context_of(self.module());
        let order = reverse_post_order(self.primal);
        let cfg = Cfg::new(order.clone());
        self.preds = cfg.preds.clone();
        self.cyclic = cfg.cyclic_blocks();
        self.loops = cfg.counted_loops();
        self.returns = order.iter().copied().filter(|&b| is_return(b)).collect();
        self.fwd_fn.copy_personality_from(self.primal);
        if self.shape == Shape::Split {
            self.rev_fn.copy_personality_from(self.primal);
        }

        // Entry of the forward function: slots, tape, parameters.
        let fwd_entry = Block::append(ctx, self.fwd_fn, "entry");
        self.fwd_slots_b.position_at_end(fwd_entry);
        self.b.position_at_end(fwd_entry);
        self.map_params();
        let (rev_entry, seed_params) = match self.shape {
            Shape::Combined => {
                let m = self.module();
                let t = self.b.alloca(tape::header_type(m));
                tape::init(m, &self.b, t);
                let local = self.b.alloca(tape::header_type(m));
                tape::init(m, &self.b, local);
                self.tape = t;
                self.rev_tape = t;
                self.fwd_local = local;
                self.rev_local = local;
                let ret = self.primal.function_type().return_type();
                if !ret.is_void() {
                    self.ret_slot = Some(self.b.alloca(ret));
                }
                (fwd_entry, Vec::new())
            }
            Shape::Split => {
                let m = self.module();
                let ps = self.fwd_fn.params();
                self.tape = *ps.last().unwrap();
                self.fwd_local = self.b.alloca(tape::header_type(m));
                tape::sync(m, &self.b, self.tape, self.fwd_local);
                let e = Block::append(ctx, self.rev_fn, "entry");
                let rps = self.rev_fn.params();
                self.rev_tape = rps[0];
                let rb = Builder::new(ctx);
                rb.position_at_end(e);
                self.rev_local = rb.alloca(tape::header_type(m));
                (e, rps[1..].to_vec())
            }
        };
        self.seeds = match self.shape {
            Shape::Combined if self.key.ret == RevRet::Active && !self.primal.function_type().return_type().is_void() => {
                let p = *self.fwd_fn.params().last().unwrap();
                vec![p; self.width]
            }
            Shape::Combined => Vec::new(),
            Shape::Split => seed_params,
        };
        self.slots_b.position_at_end(rev_entry);

        // Forward sweep.
        for &b in &order {
            let nb = Block::append(ctx, self.fwd_fn, &b.name());
            self.bmap.insert(b, nb);
        }
        self.b.position_at_end(fwd_entry);
        let entry_br = self.b.br(self.bmap[&order[0]]);
        self.fwd_slots_b.position_before(entry_br);
        if self.shape == Shape::Combined {
            self.slots_b.position_before(entry_br);
        }
        for &b in &order {
            self.b.position_at_end(self.bmap[&b]);
            self.add_choice(b);
            let returns = self.activity.returning.contains(&b);
            for inst in b.instructions() {
                if !returns {
                    // Never returns from here (a panic path): the primal only.
                    self.visit_primal_only(inst);
                    continue;
                }
                self.visit(inst);
                if !self.errors.is_empty() {
                    return;
                }
            }
        }
        self.save_loop_exits();
        self.fill_phis();

        // Reverse sweep.
        let rev_order: Vec<Block> = order.iter().copied().filter(|b| self.activity.returning.contains(b)).collect();
        for &b in &rev_order {
            let h = Block::append(ctx, self.rev_fn, &format!("{}.rev", b.name()));
            let body = Block::append(ctx, self.rev_fn, &format!("{}.revbody", b.name()));
            self.rhead.insert(b, h);
            self.rbody.insert(b, body);
        }
        let exit = Block::append(ctx, self.rev_fn, "rev.exit");
        for &b in &rev_order {
            self.reverse_block(b, exit);
            if !self.errors.is_empty() {
                return;
            }
        }
        self.finish_exit(exit);
        self.emit_saves();
        // The reverse entry of a split derivative: where the forward sweep returned.
        if self.shape == Shape::Split {
            let m = self.module();
            self.b.position_at_end(rev_entry);
            tape::sync(m, &self.b, self.rev_tape, self.rev_local);
            self.enter_reverse_split();
            // The forward function hands its tape state back to the caller when it returns.
            for b in self.fwd_fn.blocks() {
                if let Some(t) = b.terminator().filter(|t| t.opcode() == Opcode::LLVMRet) {
                    self.b.position_before(t);
                    tape::sync(m, &self.b, self.fwd_local, self.tape);
                }
            }
        }
    }

    fn map_params(&mut self) {
        let mut new_params = self.fwd_fn.params().into_iter();
        let args = self.key.args.clone();
        for (i, (p, a)) in self.primal.params().into_iter().zip(&args).enumerate() {
            match a {
                RevArg::Constant(c) => {
                    self.vmap.insert(p, *c);
                    if let Some(s) = self.engine.constant_shadows(*c, true, self.width) {
                        self.smap.insert(p, s);
                    }
                }
                RevArg::Const | RevArg::Active => {
                    let np = new_params.next().unwrap();
                    self.vmap.insert(p, np);
                    self.note_readonly(p, np);
                    if self.self_shadowed.contains(&i) {
                        self.smap.insert(p, vec![np; self.width]);
                    }
                }
                RevArg::Duplicated => {
                    let np = new_params.next().unwrap();
                    self.vmap.insert(p, np);
                    self.note_readonly(p, np);
                    let shadows: Vec<Value> = (0..self.width).map(|_| new_params.next().unwrap()).collect();
                    self.smap.insert(p, shadows);
                }
            }
        }
    }

    fn note_readonly(&mut self, p: Value, np: Value) {
        let Some(i) = self.primal.params().iter().position(|&q| q == p) else { return };
        let i = i as u32;
        if p.ty().is_pointer() && self.primal.param_has_attribute(i, "readonly") && self.primal.param_has_attribute(i, "noalias") {
            self.readonly_args.insert(np);
        }
    }

    /// Unique reachable predecessors of `b` that need a reversal, in a fixed order.
    fn unique_preds(&self, b: Block) -> Vec<Block> {
        let mut out: Vec<Block> = Vec::new();
        for &p in self.preds.get(&b).into_iter().flatten() {
            if self.activity.returning.contains(&p) && !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }

    fn add_choice(&mut self, b: Block) {
        if !self.activity.returning.contains(&b) || self.unique_preds(b).len() < 2 || self.counted_header(b).is_some() {
            return;
        }
        let ctx = context_of(self.module());
        let phi = self.b.phi(Type::i32(ctx));
        self.choice.insert(b, phi);
    }

    /// The counted loop `b` heads, if any.
    fn counted_header(&self, b: Block) -> Option<usize> {
        self.loops.iter().position(|l| l.header == b)
    }

    /// The counted loop whose induction variable is the forward value `fv` and whose body holds
    /// the block being reversed: the reversal has that variable's current value.
    fn live_induction_variable(&self, fv: Value) -> Option<usize> {
        let b = self.current?;
        self.loops.iter().position(|l| self.vmap.get(&l.iv) == Some(&fv) && l.body.contains(&b))
    }

    /// Splits each exit edge of the counted loops in the forward function and saves the
    /// induction variable (and a non-constant start) there.
    fn save_loop_exits(&mut self) {
        let ctx = context_of(self.module());
        let m = self.module();
        // An edge that leaves several loops at once is split once; each loop saves there.
        let mut split: HashMap<(Block, Block), Block> = HashMap::new();
        for (li, l) in self.loops.clone().into_iter().enumerate() {
            let riv = self.slots_b.alloca(l.iv.ty());
            let rstart = (!l.start.is_constant()).then(|| self.slots_b.alloca(l.iv.ty()));
            self.loop_slots.push((riv, rstart));
            for &(x, o) in &l.exits {
                if !self.activity.returning.contains(&o) {
                    continue;
                }
                let target = self.bmap[&o];
                let e = match split.get(&(x, o)) {
                    Some(&e) => {
                        self.b.position_before(e.terminator().expect("a split edge ends in its branch"));
                        e
                    }
                    None => {
                        let t = self.save_point[&x];
                        let e = Block::append(ctx, self.fwd_fn, "loop.exit");
                        for i in 0..t.successors().len() as u32 {
                            if t.successors()[i as usize] == target {
                                t.set_successor(i, e);
                            }
                        }
                        self.b.position_at_end(e);
                        e
                    }
                };
                let mut vals = vec![self.val(l.iv)];
                if rstart.is_some() {
                    vals.push(self.val(l.start));
                }
                // An edge into a block on no cycle runs at most once: a stack slot suffices.
                let slots = if self.shape == Shape::Combined && !self.cyclic.contains(&o) {
                    let s: Vec<Value> = vals.iter().map(|v| self.fwd_slots_b.alloca(v.ty())).collect();
                    for (v, slot) in vals.iter().zip(&s) {
                        self.b.store(*v, *slot);
                    }
                    Some((s[0], s.get(1).copied()))
                } else {
                    tape::push(m, &self.b, self.fwd_local, &vals);
                    None
                };
                if split.insert((x, o), e).is_none() {
                    self.b.br(target);
                }
                self.edge_from.insert((x, o), e);
                self.loop_exits.entry((x, o)).or_default().push((li, slots));
            }
        }
    }

    fn fill_phis(&mut self) {
        let ctx = context_of(self.module());
        for (old, new, shadows) in std::mem::take(&mut self.phis) {
            for (v, pred) in old.incoming() {
                let Some(&from) = self.edge_from.get(&(pred, old.parent_block())) else { continue };
                new.add_incoming(self.val(v), from);
                for (k, &s) in shadows.iter().enumerate() {
                    let sv = self.shadow_or_null(v, k);
                    s.add_incoming(sv, from);
                }
            }
        }
        let choices: Vec<(Block, Value)> = self.choice.iter().map(|(&b, &p)| (b, p)).collect();
        for (b, phi) in choices {
            let uniq = self.unique_preds(b);
            for &p in self.preds.get(&b).into_iter().flatten() {
                let Some(&from) = self.edge_from.get(&(p, b)) else { continue };
                let idx = uniq.iter().position(|&u| u == p).map(|i| i as u64).unwrap_or(0);
                phi.add_incoming(Type::i32(ctx).const_int(idx), from);
            }
        }
    }

    // ---- value lookup ----

    fn val(&self, v: Value) -> Value {
        if v.is_basic_block() {
            return self.bmap[&v.as_block()].as_value();
        }
        self.vmap.get(&v).copied().unwrap_or(v)
    }

    fn shadow(&mut self, v: Value, k: usize) -> Option<Value> {
        if let Some(s) = self.smap.get(&v) {
            return Some(s[k]);
        }
        if self.activity.shadow_globals.contains(&v) {
            return Some(self.engine.shadow_global(v, true, k));
        }
        if v.is_function()
            || (v.is_constant() && v.ty().is_pointer() && (v.is_null_constant() || v.is_undef()))
        {
            return Some(v);
        }
        // A field taken out of a constant aggregate (a dev build's `extractvalue { ptr, i64 }
        // { ptr inttoptr (i64 8 to ptr), i64 0 }, 0`): a null or dangling address is its own
        // shadow.
        if v.is_instruction() && v.opcode() == Opcode::LLVMExtractValue && v.operand(0).is_constant_aggregate() {
            let field = v.indices().iter().try_fold(v.operand(0), |c, &i| c.is_constant_aggregate().then(|| c.operand(i)));
            if field.is_some_and(|f| f.is_null_constant() || f.is_undef() || f.is_int_to_ptr()) {
                return Some(self.val(v));
            }
        }
        if activity::is_sentinel(v) && !self.activity.is_active(v) {
            // A sentinel address made from an integer is its own shadow (activity.rs).
            return Some(self.val(v));
        }
        if v.ty().is_int() && !self.activity.pointer_ints.contains(&v) {
            // An integer joined with pointers carried as integers: a sentinel address.
            return Some(self.val(v));
        }
        None
    }

    /// The shadow of a pointer that must have one. A pointer without a shadow here would make
    /// the derivative read or write through null: refuse instead (an inconsistency between
    /// activity analysis and this transformation, reported as an internal error).
    fn shadow_or_null(&mut self, v: Value, k: usize) -> Value {
        if let Some(s) = self.shadow(v, k) {
            return s;
        }
        if v.ty().contains_pointer() && !v.is_constant() {
            self.error(
                v,
                format!("no shadow is known for the pointer `{}` (internal error)", describe(v)),
                "please report this program",
            );
        }
        v.ty().zero()
    }

    /// The shadow of a value placed into a shadowed aggregate (an operand of `insertvalue` or
    /// `select`), emitted at the builder's position: a pointer's shadow; a number as it is; an
    /// aggregate that carries no derivative itself but was built field by field
    /// (`insertvalue { i64, ptr } poison, i64 %n, 0` before the pointer goes in) rebuilt from
    /// the shadows of its fields.
    fn field_shadow(&mut self, op: Value, k: usize) -> Value {
        if !(op.ty().contains_pointer() || self.activity.pointer_ints.contains(&op)) {
            return self.val(op);
        }
        if op.is_instruction() && op.opcode() == Opcode::LLVMInsertValue && !self.smap.contains_key(&op) && !self.activity.is_active(op) {
            let agg = self.field_shadow(op.operand(0), k);
            let field = self.field_shadow(op.operand(1), k);
            return self.emit_shadow_like(op, &[(0, agg), (1, field)]);
        }
        self.shadow_or_null(op, k)
    }

    /// Whether `v` carries an adjoint.
    fn has_adjoint(&self, v: Value) -> bool {
        self.adjoint_type(v).is_some()
    }

    /// The type of `v`'s adjoint: its own type when it holds floats; for an integer carrying
    /// float bits ([`crate::bits`]), the float type the bits stand for.
    fn adjoint_type(&self, v: Value) -> Option<Type> {
        if !(v.is_instruction() || v.is_argument()) || !self.activity.is_active(v) {
            return None;
        }
        if v.ty().contains_float() {
            return Some(v.ty());
        }
        self.activity.bits.float_view(v)
    }

    /// Whether `v` (a pointer, pointer aggregate, or an integer carrying a pointer) has shadows.
    fn has_shadow(&self, v: Value) -> bool {
        (v.ty().contains_pointer() || self.activity.pointer_ints.contains(&v)) && self.activity.is_active(v)
    }

    // ---- forward sweep ----

    fn emit_like(&mut self, inst: Value, overrides: &[(u32, Value)]) -> Value {
        emit::clone_at(&self.b, inst, |v| self.val(v), overrides)
    }

    fn emit_shadow_like(&mut self, inst: Value, overrides: &[(u32, Value)]) -> Value {
        let c = self.emit_like(inst, overrides);
        emit::strip_primal_facts(c);
        c
    }

    fn copy_primal(&mut self, inst: Value) -> Value {
        let c = self.emit_like(inst, &[]);
        self.vmap.insert(inst, c);
        c
    }

    /// An instruction of a block that cannot reach a return: copied without derivative work.
    fn visit_primal_only(&mut self, inst: Value) {
        use Opcode::*;
        match inst.opcode() {
            LLVMPHI => {
                let new = self.b.phi(inst.ty());
                self.vmap.insert(inst, new);
                self.phis.push((inst, new, Vec::new()));
            }
            LLVMBr | LLVMSwitch | LLVMRet | LLVMUnreachable | LLVMResume | LLVMIndirectBr | LLVMInvoke => {
                self.visit_terminator(inst)
            }
            _ => {
                self.copy_primal(inst);
            }
        }
    }

    fn visit(&mut self, inst: Value) {
        use Opcode::*;
        match inst.opcode() {
            LLVMPHI => {
                let new = self.b.phi(inst.ty());
                self.vmap.insert(inst, new);
                let mut shadows = Vec::new();
                if self.has_shadow(inst) {
                    for _ in 0..self.width {
                        shadows.push(self.b.phi(inst.ty()));
                    }
                    self.smap.insert(inst, shadows.clone());
                }
                self.phis.push((inst, new, shadows));
            }
            LLVMCall | LLVMInvoke => self.visit_call(inst),
            LLVMBr | LLVMSwitch | LLVMRet | LLVMUnreachable | LLVMResume | LLVMIndirectBr => self.visit_terminator(inst),
            LLVMAtomicRMW | LLVMAtomicCmpXchg if self.activity.is_active(inst.operand(0)) && !self.activity.atomic_on_numbers(inst) => self.error(
                inst,
                format!("the atomic operation `{}` on differentiated memory", describe(inst)),
                "atomics on floats or pointers have no derivative rule yet (shared-state parallel code is not differentiated yet); use plain loads and stores in differentiated code",
            ),
            LLVMStore => {
                self.copy_primal(inst);
                self.mirror_store(inst);
            }
            LLVMAlloca => {
                self.copy_primal(inst);
                if self.has_shadow(inst) {
                    self.shadow_alloca(inst);
                }
            }
            LLVMGetElementPtr | LLVMBitCast | LLVMAddrSpaceCast | LLVMFreeze | LLVMIntToPtr | LLVMPtrToInt
            | LLVMExtractValue | LLVMExtractElement => {
                self.copy_primal(inst);
                self.shadow_through_operand0(inst);
            }
            LLVMLoad => {
                self.copy_primal(inst);
                if inst.is_volatile() && self.activity.is_active(inst.operand(0)) && inst.ty().contains_float() {
                    self.error(inst, format!("the volatile load `{}` of differentiated memory", describe(inst)), "use plain loads in differentiated code");
                    return;
                }
                self.shadow_through_operand0(inst);
            }
            LLVMSelect | LLVMInsertValue | LLVMInsertElement => {
                self.copy_primal(inst);
                if self.has_shadow(inst) {
                    let idx: &[u32] = if inst.opcode() == LLVMSelect { &[1, 2] } else { &[0, 1] };
                    let lanes: Vec<Value> = (0..self.width)
                        .map(|k| {
                            let ov: Vec<(u32, Value)> = idx
                                .iter()
                                .map(|&i| {
                                    let op = inst.operand(i);
                                    (i, self.field_shadow(op, k))
                                })
                                .collect();
                            self.emit_shadow_like(inst, &ov)
                        })
                        .collect();
                    self.smap.insert(inst, lanes);
                }
            }
            LLVMShuffleVector if self.has_shadow(inst) => self.error(
                inst,
                format!("the vector shuffle `{}` of differentiated pointers", describe(inst)),
                "reverse mode shuffles vectors of floats only; please report the program",
            ),
            _ => {
                self.copy_primal(inst);
            }
        }
    }

    /// The shadow of a pointer-valued instruction of its pointer operand 0 (GEP, casts, loads
    /// of pointers from shadow memory): the same instruction applied to that operand's shadow.
    fn shadow_through_operand0(&mut self, inst: Value) {
        if !self.has_shadow(inst) {
            return;
        }
        let lanes: Vec<Value> = (0..self.width)
            .map(|k| {
                let s = self.shadow_or_null(inst.operand(0), k);
                self.emit_shadow_like(inst, &[(0, s)])
            })
            .collect();
        self.smap.insert(inst, lanes);
    }

    fn visit_terminator(&mut self, inst: Value) {
        let here = inst.parent_block();
        let t = if inst.opcode() == Opcode::LLVMRet {
            match self.shape {
                Shape::Combined => {
                    if let (Some(slot), 1) = (self.ret_slot, inst.num_operands()) {
                        let v = self.val(inst.operand(0));
                        self.b.store(v, slot);
                    }
                    // Branch target set once the reverse blocks exist.
                    self.b.unreachable()
                }
                Shape::Split => {
                    if inst.num_operands() == 1 {
                        let v = inst.operand(0);
                        let ctx = context_of(self.module());
                        let n = if returns_shadow(&self.key) { 1 + self.width } else { 1 };
                        let sty = Type::struct_of(ctx, &vec![v.ty(); n]);
                        let mut agg = sty.undef();
                        agg = self.b.insert_value(agg, self.val(v), 0);
                        for k in 1..n {
                            let s = self.shadow_or_null(v, k - 1);
                            agg = self.b.insert_value(agg, s, k as u32);
                        }
                        self.b.ret(agg)
                    } else {
                        self.b.ret_void()
                    }
                }
            }
        } else if let Some(live) = crate::forward::folded_branch(inst) {
            let c = self.b.br(self.bmap[&live]);
            self.vmap.insert(inst, c);
            c
        } else {
            let c = self.emit_like(inst, &[]);
            self.vmap.insert(inst, c);
            c
        };
        self.save_point.insert(here, t);
        let from = self.b.insert_block();
        for s in crate::fold::live_targets(inst) {
            self.edge_from.insert((here, s), from);
        }
    }

    /// Mirrors a store into shadowed memory: pointers stored there get their shadows stored in
    /// the shadow, integers their own bits; float data is left alone (the shadow holds adjoints,
    /// which the reverse sweep consumes).
    fn mirror_store(&mut self, store: Value) {
        let (v, p) = (store.operand(0), store.operand(1));
        if !self.activity.is_active(p) {
            return;
        }
        let ty = v.ty();
        if !ty.contains_pointer() && !has_int_leaf(ty) {
            return;
        }
        if self.activity.bits.may_be_float(v) {
            // Float bits stored as an integer: the shadow holds adjoints like a float's.
            return;
        }
        let pointer_int = self.activity.pointer_ints.contains(&v);
        if has_int_leaf(ty) && self.activity.is_active(v) && !pointer_int && !types::integer_data(self.module(), v, p) {
            self.error(
                store,
                format!("data of shadowed memory is copied through integers in `{}`", describe(store)),
                "oxidase cannot tell whether these integers are floating-point numbers; copy the values with their own type",
            );
            return;
        }
        if !ty.contains_pointer() && self.int_store_into_floats(store) {
            // The shadow of memory that may hold floats holds adjoints only (the store's
            // reversal clears it): integers there carry no derivative.
            return;
        }
        let guarded = self.guarded(p);
        for k in 0..self.width {
            let sp = self.shadow_or_null(p, k);
            let pv = self.val(v);
            let sv = if ty.contains_pointer() { Some(self.shadow_or_null(v, k)) } else { None };
            let m = if pointer_int {
                // A pointer stored as an integer: its shadow, as an integer.
                self.shadow_or_null(v, k)
            } else if ty.contains_float() {
                let old = self.b.load(ty, sp);
                mirror_value(&self.b, old, pv, sv)
            } else {
                let u = ty.undef();
                mirror_value(&self.b, u, pv, sv)
            };
            if !guarded {
                self.emit_shadow_like(store, &[(0, m), (1, sp)]);
                continue;
            }
            // The shadow may be constant memory itself: leave it alone, and stop if a pointer
            // with a shadow of its own would be lost there.
            let md = self.module();
            let pp = self.val(p);
            runtime_activity::store(md, &self.b, m, sp, pp);
            if let Some(lost) = runtime_activity::pointers_differ(&self.b, m, pv) {
                let eq = runtime_activity::same(&self.b, sp, pp);
                let bad = self.b.and(eq, lost);
                runtime_activity::check(md, &self.b, bad, &self.engine.lost_derivative_text(self.primal));
            }
        }
    }

    /// Whether an access through the primal pointer `p` must check at run time that its shadow
    /// is not `p` itself (see [`crate::runtime_activity`]).
    fn guarded(&self, p: Value) -> bool {
        self.runtime && runtime_activity::may_alias(p, &self.subst)
    }

    /// `len`, or zero when `p`'s shadow `s` is `p` itself (guarded accesses only): the length
    /// of a shadow `memcpy`/`memset` that must not touch constant memory. `p` and `len` are
    /// values of the function being emitted.
    fn len_unless_same(&self, s: Value, p: Value, len: Value) -> Value {
        let eq = runtime_activity::same(&self.b, s, p);
        self.b.select(eq, len.ty().zero(), len)
    }

    /// Whether the integers `store` writes land in memory that may hold floats (an enum
    /// payload that is a float in another variant): their shadow is adjoint storage.
    fn int_store_into_floats(&self, store: Value) -> bool {
        let (v, p) = (store.operand(0), store.operand(1));
        let m = self.module();
        has_int_leaf(v.ty()) && types::may_hold_floats(m, p, abi_size(m, v.ty()))
    }

    fn shadow_alloca(&mut self, inst: Value) {
        let m = self.module();
        let ctx = context_of(m);
        let ty = inst.allocated_type();
        let size = abi_size(m, ty);
        let count = self.val(inst.operand(0));
        let i64t = Type::i64(ctx);
        let bytes = if let Some(n) = count.const_int_value() {
            i64t.const_int(size * n as u64)
        } else {
            let n = self.b.cast(Opcode::LLVMZExt, count, i64t);
            self.b.mul(n, i64t.const_int(size))
        };
        let mut lanes = Vec::new();
        for _ in 0..self.width {
            let s = match self.shape {
                Shape::Combined => self.emit_shadow_like(inst, &[]),
                // The forward function returns before the reverse sweep: its shadow stack memory
                // lives on the heap until the allocation's reversal frees it.
                // `malloc` aligns to 16 bytes: a slot aligned more (an AVX vector's, which
                // aligned vector loads rely on) comes from `aligned_alloc`, whose size must be
                // a multiple of the alignment.
                Shape::Split if inst.alignment() > 16 => {
                    let a = u64::from(inst.alignment());
                    let up = self.b.add(bytes, i64t.const_int(a - 1));
                    let size = self.b.and(up, i64t.const_int(!(a - 1)));
                    let alloc = tape::libc_function(m, "aligned_alloc");
                    self.b.call(alloc.function_type(), alloc, &[i64t.const_int(a), size])
                }
                Shape::Split => {
                    let malloc = tape::libc_function(m, "malloc");
                    self.b.call(malloc.function_type(), malloc, &[bytes])
                }
            };
            self.b.memset(s, Type::i8(ctx).zero(), bytes, inst.alignment().max(1));
            lanes.push(s);
        }
        self.smap.insert(inst, lanes);
    }

    fn visit_call(&mut self, call: Value) {
        let kind = classify(call, &self.subst);
        let args = call.call_args();
        let is_invoke = call.opcode() == Opcode::LLVMInvoke;
        let touches = self.call_touches_shadow(call, kind, &args);
        match kind {
            CallKind::Defined(f) if touches => self.call_augmented(call, &[f], false, &args),
            CallKind::Indirect if touches && !indirect_candidates(call).is_empty() => {
                self.call_augmented(call, &indirect_candidates(call), true, &args)
            }
            _ if is_invoke => {
                if touches {
                    self.error(call, format!("an `invoke` of `{}` on differentiated data", describe(call)), "please report this shape");
                    return;
                }
                self.visit_terminator(call);
            }
            CallKind::Ignored | CallKind::IntegerOnly | CallKind::Rule(_) | CallKind::ReduceFAdd => {
                self.copy_primal(call);
            }
            CallKind::MemTransfer => {
                self.copy_primal(call);
                if self.activity.is_active(args[0]) {
                    match copy_contents(self.module(), call) {
                        Contents::Floats(_) | Contents::FloatsAndIntegers(_) | Contents::Integers(_) => {}
                        Contents::NoFloats => {
                            for k in 0..self.width {
                                let d = self.shadow_or_null(args[0], k);
                                let s = self.shadow(args[1], k);
                                match s {
                                    Some(s) if self.guarded(args[0]) => {
                                        // Constant memory that is its own shadow keeps its
                                        // bytes; pointers with shadows of their own copied
                                        // there would lose them.
                                        let (pd, ps) = (self.val(args[0]), self.val(args[1]));
                                        let eq = runtime_activity::same(&self.b, d, pd);
                                        let lost = self.b.and(eq, runtime_activity::differs(&self.b, s, ps));
                                        let lost = runtime_activity::when_copying(&self.b, lost, self.val(args[2]));
                                        runtime_activity::check(self.module(), &self.b, lost, &self.engine.lost_derivative_text(self.primal));
                                        let len = self.len_unless_same(d, pd, self.val(args[2]));
                                        self.emit_shadow_like(call, &[(0, d), (1, s), (2, len)]);
                                    }
                                    Some(s) => {
                                        self.emit_shadow_like(call, &[(0, d), (1, s)]);
                                    }
                                    None => {
                                        // Copied from memory without a shadow (constant data):
                                        // its pointers have no shadows, never the primal's own.
                                        let mut len = self.val(args[2]);
                                        if self.guarded(args[0]) {
                                            len = self.len_unless_same(d, self.val(args[0]), len);
                                        }
                                        self.b.memset(d, Type::i8(context_of(self.module())).zero(), len, 1);
                                    }
                                }
                            }
                        }
                        Contents::Mixed => self.mixed_copy_forward(call, &args),
                        Contents::Unknown => self.error(
                            call,
                            format!("`{}` copies memory whose type oxidase cannot deduce (floats, integers or pointers)", describe(call)),
                            "copy typed values (e.g. element by element) or keep this copy out of the differentiated data",
                        ),
                    }
                }
            }
            CallKind::MemSet => {
                self.copy_primal(call);
                if self.activity.is_active(args[0]) {
                    match copy_contents(self.module(), call).float_type() {
                        Some(_) => {}
                        None => {
                            for k in 0..self.width {
                                let d = self.shadow_or_null(args[0], k);
                                if self.guarded(args[0]) {
                                    let len = self.len_unless_same(d, self.val(args[0]), self.val(args[2]));
                                    self.emit_shadow_like(call, &[(0, d), (2, len)]);
                                } else {
                                    self.emit_shadow_like(call, &[(0, d)]);
                                }
                            }
                        }
                    }
                }
            }
            CallKind::Allocation(Alloc::Realloc) if touches => self.shadow_realloc(call, &args),
            CallKind::Allocation(Alloc::Out) => {
                self.copy_primal(call);
                if self.activity.is_active(args[0]) {
                    // posix_memalign(out, align, size): a zeroed shadow block, its address
                    // written to the shadow of `out` (freed with the primal's `free`).
                    let m = self.module();
                    let (out, align, size) = (args[0], self.val(args[1]), self.val(args[2]));
                    for k in 0..self.width {
                        let s = crate::heap::aligned_shadow(m, &self.b, align, size);
                        let so = self.shadow_or_null(out, k);
                        if self.guarded(out) {
                            runtime_activity::store(m, &self.b, s, so, self.val(out));
                        } else {
                            self.b.store(s, so);
                        }
                    }
                }
            }
            CallKind::ThreadLocal => {
                self.copy_primal(call);
                if self.has_shadow(call) {
                    let lanes = (0..self.width)
                        .map(|k| {
                            let g = self
                                .shadow(args[0], k)
                                .expect("an active thread-local has a shadow");
                            self.emit_shadow_like(call, &[(0, g)])
                        })
                        .collect();
                    self.smap.insert(call, lanes);
                }
            }
            CallKind::Allocation(alloc) => {
                self.copy_primal(call);
                if self.has_shadow(call) {
                    self.shadow_allocation(call, alloc, &args);
                }
            }
            CallKind::Deallocation => {
                self.copy_primal(call);
                if self.activity.is_active(args[0]) {
                    self.defer_shadow_free(call, &args);
                }
            }
            _ => {
                if touches {
                    self.error(call, format!("the call `{}` on differentiated data", describe(call)), "this call has no derivative in reverse mode yet");
                    return;
                }
                self.copy_primal(call);
            }
        }
    }

    /// Shadow memory for a fresh heap block, from the same allocator, zeroed.
    fn shadow_allocation(&mut self, call: Value, alloc: Alloc, args: &[Value]) {
        let ctx = context_of(self.module());
        let mut lanes = Vec::new();
        for _ in 0..self.width {
            let s = self.emit_shadow_like(call, &[]);
            if crate::heap::is_c_allocation(call) {
                crate::heap::zero_c_block(self.module(), &self.b, s);
            } else if alloc == Alloc::Uninit {
                let size = self.val(args[0]);
                self.b.memset(s, Type::i8(ctx).zero(), size, 1);
            }
            lanes.push(s);
        }
        self.smap.insert(call, lanes);
    }

    /// `__rust_realloc(old, old_size, align, new_size)` of differentiated memory: the shadow moves
    /// to a fresh zeroed block holding a copy of the old shadow; the old shadow stays alive for
    /// the reverse sweep (its free is deferred). The reversal copies the adjoints back.
    fn shadow_realloc(&mut self, call: Value, args: &[Value]) {
        let m = self.module();
        let callee = call.called_value();
        if crate::heap::is_c_allocation(call) {
            // realloc(old, n): the same with C's allocator, whose old size is the old shadow's
            // usable size (see `heap`).
            self.copy_primal(call);
            let n = self.val(args[1]);
            let i64t = Type::i64(context_of(m));
            let free = tape::libc_function(m, "free");
            let mut lanes = Vec::new();
            for k in 0..self.width {
                let s_old = self.shadow_or_null(args[0], k);
                let s_old = if self.guarded(args[0]) {
                    let eq = runtime_activity::same(&self.b, s_old, self.val(args[0]));
                    self.b.select(eq, s_old.ty().zero(), s_old)
                } else {
                    s_old
                };
                let s_new = crate::heap::fresh_c_block(m, &self.b, n);
                let kept = crate::heap::kept_bytes(m, &self.b, s_old, n);
                self.b.memcpy(s_new, 1, s_old, 1, kept);
                tape::defer_free(m, &self.b, self.tape, free, s_old, i64t.zero(), i64t.zero());
                lanes.push(s_new);
            }
            self.smap.insert(call, lanes);
            return;
        }
        let (Some(alloc), Some(dealloc), 4) = (
            crate::calls::allocator_sibling(m, callee, "alloc_zeroed"),
            crate::calls::allocator_sibling(m, callee, "dealloc"),
            args.len(),
        ) else {
            self.error(
                call,
                format!("`{}` on differentiated memory (its old size is unknown)", describe(call)),
                "use Rust's allocator (Vec, Box)",
            );
            return;
        };
        self.copy_primal(call);
        let (old, align, new) = (self.val(args[1]), self.val(args[2]), self.val(args[3]));
        let grows = self.b.icmp(IntPredicate::LLVMIntULT, old, new);
        let kept = self.b.select(grows, old, new);
        let mut lanes = Vec::new();
        let guarded = self.guarded(args[0]);
        for k in 0..self.width {
            let mut s_old = self.shadow_or_null(args[0], k);
            let mut kept = kept;
            if guarded {
                // The old shadow may be the primal block (constant data): nothing to copy, and
                // the primal's realloc frees it.
                let eq = runtime_activity::same(&self.b, s_old, self.val(args[0]));
                kept = self.b.select(eq, kept.ty().zero(), kept);
                s_old = self.b.select(eq, s_old.ty().zero(), s_old);
            }
            let s_new = self.b.call(alloc.function_type(), alloc, &[new, align]);
            self.b.memcpy(s_new, 1, s_old, 1, kept);
            tape::defer_free(m, &self.b, self.tape, dealloc, s_old, old, align);
            lanes.push(s_new);
        }
        self.smap.insert(call, lanes);
    }

    /// The primal frees a block whose shadow the reverse sweep still needs: the shadow's free
    /// runs when the tape is released.
    fn defer_shadow_free(&mut self, call: Value, args: &[Value]) {
        let m = self.module();
        let i64t = Type::i64(context_of(m));
        let callee = call.called_value();
        let dealloc = self.val(callee);
        let (size, align) = if args.len() == 3 { (self.val(args[1]), self.val(args[2])) } else { (i64t.zero(), i64t.zero()) };
        for k in 0..self.width {
            let mut s = self.shadow_or_null(args[0], k);
            if self.guarded(args[0]) {
                // A shadow that is the primal block is freed by the primal.
                let eq = runtime_activity::same(&self.b, s, self.val(args[0]));
                s = self.b.select(eq, s.ty().zero(), s);
            }
            tape::defer_free(m, &self.b, self.tape, dealloc, s, size, align);
        }
    }

    fn call_touches_shadow(&self, call: Value, kind: CallKind, args: &[Value]) -> bool {
        match kind {
            CallKind::Ignored | CallKind::IntegerOnly => false,
            _ => {
                self.activity.is_active(call)
                    || args.iter().any(|&a| activity::differentiable_type(a.ty()) && self.activity.is_active(a))
            }
        }
    }

    fn callee_key(&self, f: Value, call: Value, args: &[Value]) -> ReverseKey {
        ReverseKey {
            function: f,
            args: args
                .iter()
                .map(|&a| {
                    // A global with a shadow (a constant's zero shadow, which a callee
                    // returning a pointer into it needs: `fmt::Arguments::new` over the
                    // constant pieces of a `println!`) is passed with that shadow.
                    let active = activity::differentiable_type(a.ty())
                        && (self.activity.is_active(a) || self.activity.shadow_globals.contains(&a));
                    // A constant table of functions (read-only: never a home for derivative
                    // data) is specialized on even where it has a shadow.
                    if crate::calls::specializes_on(self.val(a)) {
                        RevArg::Constant(self.val(a))
                    } else if active && a.ty().contains_pointer() {
                        RevArg::Duplicated
                    } else if active {
                        RevArg::Active
                    } else {
                        RevArg::Const
                    }
                })
                .collect(),
            ret: if !self.activity.is_active(call) {
                RevRet::Const
            } else if activity::differentiable_type(call.ty()) || self.activity.pointer_ints.contains(&call) {
                RevRet::Active
            } else if let Some(t) = self.activity.bits.float_view(call) {
                // Float bits returned as an integer: their adjoint goes back as that float.
                RevRet::FloatBits(t)
            } else {
                RevRet::Const
            },
            width: self.width as u32,
            runtime_activity: self.runtime,
        }
    }

    /// A call of a defined function on differentiated data: its augmented forward function now,
    /// its reverse function in the reversal. `indirect`: a call through a function pointer whose
    /// possible targets are `targets`; the one called is chosen by the pointer
    /// ([`emit::choose_derivative`]).
    fn call_augmented(&mut self, call: Value, targets: &[Value], indirect: bool, args: &[Value]) {
        let key = self.callee_key(targets[0], call, args);
        for (i, a) in key.args.iter().enumerate() {
            let ty = args[i].ty();
            if *a == RevArg::Duplicated && !ty.is_pointer() || *a == RevArg::Active && ty.contains_pointer() {
                self.error(call, format!("argument {i} of `{}` mixes pointers and differentiated floats in one value", describe(call)), "pass them as separate arguments");
                return;
            }
        }
        let mut new_args = Vec::new();
        for (&a, act) in args.iter().zip(&key.args) {
            match act {
                RevArg::Constant(_) => {}
                RevArg::Const | RevArg::Active => new_args.push(self.val(a)),
                RevArg::Duplicated => {
                    new_args.push(self.val(a));
                    for k in 0..self.width {
                        let s = self.shadow_or_null(a, k);
                        new_args.push(s);
                    }
                }
            }
        }
        new_args.push(self.tape);
        let fty = augmented_type(&key);
        let aug = if indirect {
            let callee = self.val(call.called_value());
            self.choose_split(callee, call, targets, args, 0)
        } else {
            self.engine.split_functions(&key).0
        };
        tape::sync(self.module(), &self.b, self.fwd_local, self.tape);
        let result = if call.opcode() == Opcode::LLVMInvoke {
            let ctx = context_of(self.module());
            let here = call.parent_block();
            let normal = call.normal_dest();
            let cont = Block::append(ctx, self.fwd_fn, "invoke.cont");
            let unwind = self.bmap[&call.unwind_dest()];
            let r = self.b.invoke(fty, aug, &new_args, cont, unwind);
            self.edge_from.insert((here, call.unwind_dest()), self.b.insert_block());
            self.b.position_at_end(cont);
            tape::sync(self.module(), &self.b, self.tape, self.fwd_local);
            self.finish_call_result(call, r, &key);
            let br = self.b.br(self.bmap[&normal]);
            self.edge_from.insert((here, normal), cont);
            self.save_point.insert(here, br);
            return;
        } else {
            let r = self.b.call(fty, aug, &new_args);
            tape::sync(self.module(), &self.b, self.tape, self.fwd_local);
            r
        };
        self.finish_call_result(call, result, &key);
    }

    fn finish_call_result(&mut self, call: Value, r: Value, key: &ReverseKey) {
        if call.ty().is_void() {
            self.vmap.insert(call, r);
            return;
        }
        let p = self.b.extract_value(r, 0);
        self.vmap.insert(call, p);
        if returns_shadow(key) {
            let lanes = (0..self.width).map(|k| self.b.extract_value(r, 1 + k as u32)).collect();
            self.smap.insert(call, lanes);
        }
    }

    // ---- reverse sweep ----

    /// The forward value `fv` (already mapped into the forward function) inside the reversal of
    /// the current block.
    fn fetch(&mut self, fv: Value) -> Value {
        if fv.is_constant() || fv.is_function() || fv.is_global_variable() || fv.is_metadata() {
            return fv;
        }
        if self.shape == Shape::Combined && fv.is_argument() {
            return fv;
        }
        let b = self.current.unwrap();
        if let Some(&v) = self.fetched.get(&(b, fv)) {
            return v;
        }
        if let Some(li) = self.live_induction_variable(fv) {
            let v = self.hb.load(fv.ty(), self.loop_slots[li].0);
            self.fetched.insert((b, fv), v);
            return v;
        }
        if self.should_recompute(fv) {
            let c = fv.clone_instruction();
            let ops: Vec<(u32, Value)> = (0..fv.num_operands())
                .filter_map(|i| {
                    let op = fv.operand(i);
                    (!op.is_null() && !op.is_basic_block()).then(|| (i, self.fetch(op)))
                })
                .collect();
            self.hb.insert(c);
            for (i, v) in ops {
                c.set_operand(i, v);
            }
            c.set_debug_loc_none();
            self.stats.recomputed += 1;
            self.fetched.insert((b, fv), c);
            return c;
        }
        let m = self.module();
        let carrier = if self.shape == Shape::Combined && !self.cyclic.contains(&b) {
            let slot = self.fwd_slots_b.alloca(fv.ty());
            Carrier::Slot(slot)
        } else {
            Carrier::Tape
        };
        let v = match carrier {
            Carrier::Slot(slot) => {
                self.stats.slots += 1;
                self.hb.load(fv.ty(), slot)
            }
            Carrier::Tape => {
                self.stats.taped += 1;
                self.stats.tape_bytes += tape::entry_size(m, fv.ty());
                tape::pop(m, &self.hb, self.rev_local, fv.ty())
            }
        };
        self.saves.entry(b).or_default().push((fv, carrier));
        self.fetched.insert((b, fv), v);
        v
    }

    /// Whether the reversal should recompute the forward value `fv` from its operands instead of
    /// carrying it: when that needs at most one value not carried already (so it never costs
    /// more tape or slots) and only cheap pure instructions, or loads of memory nothing writes
    /// while the derivative runs.
    fn should_recompute(&self, fv: Value) -> bool {
        if !fv.is_instruction() || !self.recomputable_op(fv) {
            return false;
        }
        let mut leaves = Vec::new();
        for i in 0..fv.num_operands() {
            let op = fv.operand(i);
            if !op.is_null() && !op.is_basic_block() {
                self.recompute_leaves(op, 6, &mut leaves);
            }
        }
        leaves.sort();
        leaves.dedup();
        leaves.len() <= 1
    }

    fn recomputable_op(&self, v: Value) -> bool {
        use Opcode::*;
        match v.opcode() {
            LLVMGetElementPtr | LLVMBitCast | LLVMAddrSpaceCast | LLVMIntToPtr | LLVMPtrToInt | LLVMZExt | LLVMSExt
            | LLVMTrunc | LLVMSIToFP | LLVMUIToFP | LLVMFPExt | LLVMFPTrunc | LLVMAdd | LLVMSub | LLVMMul | LLVMShl
            | LLVMAnd | LLVMOr | LLVMXor | LLVMICmp | LLVMFCmp | LLVMSelect | LLVMFAdd | LLVMFSub | LLVMFMul
            | LLVMFNeg | LLVMExtractValue => true,
            LLVMLoad => {
                self.shape == Shape::Combined && !v.is_volatile() && self.readonly_args.contains(&strip_pointer(v.operand(0)))
            }
            _ => false,
        }
    }

    /// Values that recomputing `v` would have to carry (not free and not carried already).
    fn recompute_leaves(&self, v: Value, depth: u32, out: &mut Vec<Value>) {
        if v.is_constant() || v.is_function() || v.is_global_variable() || v.is_metadata() || v.is_basic_block() {
            return;
        }
        if self.shape == Shape::Combined && v.is_argument() {
            return;
        }
        if self.fetched.contains_key(&(self.current.unwrap(), v)) || self.live_induction_variable(v).is_some() {
            return;
        }
        if depth == 0 || !v.is_instruction() || !self.recomputable_op(v) {
            out.push(v);
            return;
        }
        for i in 0..v.num_operands() {
            let op = v.operand(i);
            if !op.is_null() {
                self.recompute_leaves(op, depth - 1, out);
            }
        }
    }

    /// A primal value inside the reversal.
    fn primal_at(&mut self, v: Value) -> Value {
        let fv = self.val(v);
        self.fetch(fv)
    }

    fn shadow_at(&mut self, v: Value, k: usize) -> Option<Value> {
        let s = self.shadow(v, k)?;
        Some(self.fetch(s))
    }

    fn adjoint_slots(&mut self, v: Value) -> Vec<Value> {
        if let Some(s) = self.adj.get(&v) {
            return s.clone();
        }
        let ty = self.adjoint_type(v).unwrap_or(v.ty());
        let slots: Vec<Value> = (0..self.width)
            .map(|_| {
                let s = self.slots_b.alloca(ty);
                self.slots_b.store(ty.fadd_identity(), s);
                s
            })
            .collect();
        self.adj.insert(v, slots.clone());
        slots
    }

    /// `adj(v)[k] += d`.
    fn accumulate(&mut self, v: Value, k: usize, d: Value) {
        let Some(ty) = self.adjoint_type(v) else {
            // A derivative reaching an active value that cannot hold one (an integer whose
            // bits are not known to be one float type) would be lost: refuse, never drop it.
            if (v.is_instruction() || v.is_argument())
                && self.activity.is_active(v)
                && (d.ty().is_float_or_float_vector() || self.activity.bits.view(v) == crate::bits::View::Conflict)
            {
                let what = match self.activity.bits.view(v) {
                    crate::bits::View::Conflict => "floating-point values of different types are carried in the integer",
                    _ => "a floating-point derivative reaches the integer",
                };
                self.error(
                    v,
                    format!("{what} `{}`, which has no adjoint", describe(v)),
                    "keep differentiated values floats (no `to_bits`/`from_bits` or transmutes of them); if the code has none, please report the program",
                );
            }
            return;
        };
        let d = if d.ty() == ty { d } else { self.b.bitcast(d, ty) };
        let slot = self.adjoint_slots(v)[k];
        let old = self.b.load(ty, slot);
        let new = add_adjoints(&self.b, old, d);
        self.b.store(new, slot);
    }

    /// Reads and clears the adjoint of `v` (the reversal of its definition).
    fn take_adjoint(&mut self, v: Value) -> Vec<Value> {
        let ty = self.adjoint_type(v).unwrap_or(v.ty());
        let slots = self.adjoint_slots(v);
        slots
            .into_iter()
            .map(|s| {
                let d = self.b.load(ty, s);
                self.b.store(ty.fadd_identity(), s);
                d
            })
            .collect()
    }

    fn reverse_block(&mut self, b: Block, exit: Block) {
        self.current = Some(b);
        let (head, body) = (self.rhead[&b], self.rbody[&b]);
        self.hb.position_at_end(head);
        self.b.position_at_end(body);
        let insts = b.instructions();
        for &inst in insts.iter().rev() {
            if inst.opcode() == Opcode::LLVMPHI {
                continue;
            }
            self.reverse_inst(inst);
            if !self.errors.is_empty() {
                return;
            }
        }
        // Phis: read their adjoints, then hand them to the incoming values on the way out.
        let phis: Vec<Value> = insts.iter().copied().filter(|i| i.opcode() == Opcode::LLVMPHI && self.has_adjoint(*i)).collect();
        let phi_adj: Vec<(Value, Vec<Value>)> = phis.iter().map(|&p| (p, self.take_adjoint(p))).collect();
        let ctx = context_of(self.module());
        let preds = self.unique_preds(b);
        if let (Some(li), 2) = (self.counted_header(b), preds.len()) {
            // Back to the latch unless this was the first iteration (the variable is at its
            // start); the previous iteration's variable is one step back.
            let l = self.loops[li].clone();
            let (riv, rstart) = self.loop_slots[li];
            let iv = self.b.load(l.iv.ty(), riv);
            let start = match rstart {
                Some(rs) => self.b.load(l.iv.ty(), rs),
                None => l.start,
            };
            let again = self.b.icmp(IntPredicate::LLVMIntNE, iv, start);
            let (to_latch, to_pre) = (Block::append(ctx, self.rev_fn, "rev.loop.back"), Block::append(ctx, self.rev_fn, "rev.loop.enter"));
            self.b.cond_br(again, to_latch, to_pre);
            self.b.position_at_end(to_latch);
            self.phi_edge(b, l.latch, &phi_adj);
            let prev = if l.iv.ty().is_pointer() {
                let i64t = Type::i64(ctx);
                self.b.gep(Type::i8(ctx), iv, &[i64t.const_int(l.step.wrapping_neg() as u64)])
            } else {
                self.b.sub(iv, l.iv.ty().const_int(l.step as u64))
            };
            self.b.store(prev, riv);
            self.b.br(self.rhead[&l.latch]);
            self.b.position_at_end(to_pre);
            self.phi_edge(b, l.preheader, &phi_adj);
            self.b.br(self.rhead[&l.preheader]);
        } else if preds.is_empty() {
            self.b.br(exit);
        } else if preds.len() == 1 {
            self.phi_edge(b, preds[0], &phi_adj);
            self.b.br(self.rhead[&preds[0]]);
        } else {
            let ch = self.fetch(self.choice[&b]);
            let from = self.b.insert_block();
            let mut cases = Vec::new();
            for (i, &p) in preds.iter().enumerate() {
                let e = Block::append(ctx, self.rev_fn, "rev.edge");
                self.b.position_at_end(e);
                self.phi_edge(b, p, &phi_adj);
                self.b.br(self.rhead[&p]);
                cases.push((Type::i32(ctx).const_int(i as u64), e));
            }
            self.b.position_at_end(from);
            let default = cases[0].1;
            self.b.switch(ch, default, &cases[1..]);
        }
        self.hb.position_at_end(head);
        self.hb.br(body);
        self.current = None;
    }

    fn phi_edge(&mut self, b: Block, pred: Block, phi_adj: &[(Value, Vec<Value>)]) {
        // Entering counted loops' reversals: their induction variables as the loops left them,
        // popped in the reverse of the order they were saved in.
        let exits = self.loop_exits.get(&(pred, b)).cloned().unwrap_or_default();
        for &(li, slots) in exits.iter().rev() {
            let m = self.module();
            let (riv, rstart) = self.loop_slots[li];
            let ty = self.loops[li].iv.ty();
            let (iv, start) = match slots {
                Some((siv, sstart)) => (self.b.load(ty, siv), sstart.map(|s| self.b.load(ty, s))),
                None => {
                    let start = rstart.map(|_| tape::pop(m, &self.b, self.rev_local, ty));
                    (tape::pop(m, &self.b, self.rev_local, ty), start)
                }
            };
            if let (Some(rs), Some(st)) = (rstart, start) {
                self.b.store(st, rs);
            }
            self.b.store(iv, riv);
        }
        for (phi, ds) in phi_adj {
            let Some((v, _)) = phi.incoming().into_iter().find(|(_, p)| *p == pred) else { continue };
            for (k, &d) in ds.iter().enumerate() {
                self.accumulate(v, k, d);
            }
        }
    }

    fn finish_exit(&mut self, exit: Block) {
        self.b.position_at_end(exit);
        let active: Vec<Value> = self
            .primal
            .params()
            .into_iter()
            .zip(self.key.args.clone())
            .filter(|(_, a)| *a == RevArg::Active)
            .map(|(p, _)| p)
            .collect();
        match self.shape {
            Shape::Combined => {
                let ty = self.fwd_fn.function_type().return_type();
                let mut fields = Vec::new();
                if let Some(slot) = self.ret_slot {
                    let r = self.b.load(self.primal.function_type().return_type(), slot);
                    fields.push(r);
                }
                for p in active {
                    let s = self.adjoint_slots(p)[0];
                    let d = self.b.load(p.ty(), s);
                    // Adjoint slots start at -0.0 (see `fadd_identity`); users expect +0.0.
                    let d = add_adjoints(&self.b, d, p.ty().zero());
                    fields.push(d);
                }
                tape::sync(self.module(), &self.b, self.rev_local, self.tape);
                tape::release(self.module(), &self.b, self.tape);
                if ty.is_void() {
                    self.b.ret_void();
                } else {
                    let mut agg = ty.undef();
                    for (i, f) in fields.into_iter().enumerate() {
                        agg = self.b.insert_value(agg, f, i as u32);
                    }
                    self.b.ret(agg);
                }
                // Forward returns jump into the reversal of their block.
                for r in self.returns.clone() {
                    if !self.activity.returning.contains(&r) {
                        continue;
                    }
                    let t = self.save_point[&r];
                    self.b.position_before(t);
                    let br = self.b.br(self.rhead[&r]);
                    t.erase();
                    self.save_point.insert(r, br);
                }
            }
            Shape::Split => {
                tape::sync(self.module(), &self.b, self.rev_local, self.rev_tape);
                let ty = self.rev_fn.function_type().return_type();
                if ty.is_void() {
                    self.b.ret_void();
                } else {
                    let mut agg = ty.undef();
                    let mut i = 0;
                    for p in active {
                        for s in self.adjoint_slots(p) {
                            let d = self.b.load(p.ty(), s);
                            agg = self.b.insert_value(agg, d, i);
                            i += 1;
                        }
                    }
                    self.b.ret(agg);
                }
            }
        }
    }

    /// Split reverse function: its entry pops which return the forward sweep took (if several)
    /// and enters that block's reversal.
    fn enter_reverse_split(&mut self) {
        let rets: Vec<Block> = self.returns.iter().copied().filter(|r| self.activity.returning.contains(r)).collect();
        if rets.len() == 1 {
            self.b.br(self.rhead[&rets[0]]);
            return;
        }
        let ctx = context_of(self.module());
        let i32t = Type::i32(ctx);
        let which = tape::pop(self.module(), &self.b, self.rev_local, i32t);
        let cases: Vec<(Value, Block)> =
            rets.iter().enumerate().map(|(i, &r)| (i32t.const_int(i as u64), self.rhead[&r])).collect();
        if cases.is_empty() {
            self.b.unreachable();
            return;
        }
        self.b.switch(which, cases[0].1, &cases[1..]);
        // The forward sweep pushes the index as the very last entry of each returning block.
        for (i, &r) in rets.iter().enumerate() {
            let t = self.save_point[&r];
            self.b.position_before(t);
            tape::push(self.module(), &self.b, self.fwd_local, &[i32t.const_int(i as u64)]);
        }
    }

    /// Emits, at the end of each forward block, the saves its reversal fetched (in reverse order,
    /// so that the pops in the reversal's head come out in fetch order).
    fn emit_saves(&mut self) {
        let m = self.module();
        let saves = std::mem::take(&mut self.saves);
        for (b, list) in saves {
            let at = self.save_point[&b];
            self.b.position_before(at);
            let mut pushes = Vec::new();
            for &(fv, c) in list.iter().rev() {
                match c {
                    Carrier::Slot(slot) => {
                        self.b.store(fv, slot);
                    }
                    Carrier::Tape => pushes.push(fv),
                }
            }
            tape::push(m, &self.b, self.fwd_local, &pushes);
        }
    }

    fn reverse_inst(&mut self, inst: Value) {
        use Opcode::*;
        let w = self.width;
        match inst.opcode() {
            LLVMRet => {
                if inst.num_operands() == 1 && self.key.ret != RevRet::Const {
                    let v = inst.operand(0);
                    for k in 0..w {
                        if let Some(&s) = self.seeds.get(k) {
                            self.accumulate(v, k, s);
                        }
                    }
                }
            }
            LLVMBr | LLVMSwitch | LLVMUnreachable | LLVMResume | LLVMIndirectBr => {}
            LLVMCall | LLVMInvoke => self.reverse_call(inst),
            LLVMStore => self.reverse_store(inst),
            LLVMLoad => {
                let p = inst.operand(0);
                if !self.has_adjoint(inst) || !self.activity.is_active(p) {
                    if self.has_adjoint(inst) {
                        self.take_adjoint(inst);
                    }
                    return;
                }
                let ds = self.take_adjoint(inst);
                let guarded = self.guarded(p);
                for (k, d) in ds.into_iter().enumerate() {
                    let Some(sp) = self.shadow_at(p, k) else { continue };
                    if guarded {
                        // Nothing accumulates into constant memory that is its own shadow.
                        let pp = self.primal_at(p);
                        runtime_activity::accumulate(self.module(), &self.b, d, sp, pp);
                        continue;
                    }
                    let old = self.b.load(d.ty(), sp);
                    let new = add_adjoints(&self.b, old, d);
                    self.b.store(new, sp);
                }
            }
            _ if !self.has_adjoint(inst) => {}
            LLVMExtractValue | LLVMInsertValue | LLVMExtractElement | LLVMInsertElement
                if self.adjoint_type(inst) != Some(inst.ty()) =>
            {
                self.error(
                    inst,
                    format!("floating-point values carried in the integer fields of `{}`", describe(inst)),
                    "keep differentiated values floats (no `to_bits`/`from_bits` or transmutes of them); if the code has none, please report the program",
                );
            }
            LLVMFAdd | LLVMFSub | LLVMFMul | LLVMFDiv | LLVMFRem | LLVMFNeg => {
                let ds = self.take_adjoint(inst);
                let op = inst.opcode();
                let a = inst.operand(0);
                let bb = if op == LLVMFNeg { a } else { inst.operand(1) };
                for (k, d) in ds.into_iter().enumerate() {
                    match op {
                        LLVMFNeg => {
                            let n = self.b.fneg(d);
                            self.accumulate(a, k, n);
                        }
                        LLVMFAdd => {
                            self.accumulate(a, k, d);
                            self.accumulate(bb, k, d);
                        }
                        LLVMFSub => {
                            self.accumulate(a, k, d);
                            if self.has_adjoint(bb) {
                                let n = self.b.fneg(d);
                                self.accumulate(bb, k, n);
                            }
                        }
                        LLVMFMul => {
                            if self.has_adjoint(a) {
                                let y = self.primal_at(bb);
                                let t = self.b.fmul(d, y);
                                self.accumulate(a, k, t);
                            }
                            if self.has_adjoint(bb) {
                                let x = self.primal_at(a);
                                let t = self.b.fmul(d, x);
                                self.accumulate(bb, k, t);
                            }
                        }
                        LLVMFDiv => {
                            if self.has_adjoint(a) || self.has_adjoint(bb) {
                                let y = self.primal_at(bb);
                                let q = self.b.fdiv(d, y);
                                self.accumulate(a, k, q);
                                if self.has_adjoint(bb) {
                                    // ∂(a/b)/∂b = -(a/b)/b
                                    let r = self.primal_at(inst);
                                    let t = self.b.fmul(q, r);
                                    let n = self.b.fneg(t);
                                    self.accumulate(bb, k, n);
                                }
                            }
                        }
                        _ => {
                            // frem: a - trunc(a/b)·b
                            self.accumulate(a, k, d);
                            if self.has_adjoint(bb) {
                                let (x, y) = (self.primal_at(a), self.primal_at(bb));
                                let q = self.b.fdiv(x, y);
                                let tq = self.intrinsic("trunc", q.ty(), &[q]);
                                let t = self.b.fmul(tq, d);
                                let n = self.b.fneg(t);
                                self.accumulate(bb, k, n);
                            }
                        }
                    }
                }
            }
            LLVMFPExt | LLVMFPTrunc => {
                let ds = self.take_adjoint(inst);
                let a = inst.operand(0);
                let back = if inst.opcode() == LLVMFPExt { LLVMFPTrunc } else { LLVMFPExt };
                for (k, d) in ds.into_iter().enumerate() {
                    let c = self.b.cast(back, d, a.ty());
                    self.accumulate(a, k, c);
                }
            }
            LLVMBitCast | LLVMFreeze => {
                let ds = self.take_adjoint(inst);
                let a = inst.operand(0);
                for (k, d) in ds.into_iter().enumerate() {
                    // `accumulate` reinterprets `d` as the operand's adjoint type (same size).
                    self.accumulate(a, k, d);
                }
            }
            LLVMSelect => {
                let ds = self.take_adjoint(inst);
                let (t, f) = (inst.operand(1), inst.operand(2));
                let c = self.primal_at(inst.operand(0));
                let zero = self.adjoint_type(inst).unwrap_or(inst.ty()).fadd_identity();
                for (k, d) in ds.into_iter().enumerate() {
                    if self.has_adjoint(t) {
                        let x = self.b.select(c, d, zero);
                        self.accumulate(t, k, x);
                    }
                    if self.has_adjoint(f) {
                        let x = self.b.select(c, zero, d);
                        self.accumulate(f, k, x);
                    }
                }
            }
            LLVMExtractValue => {
                let ds = self.take_adjoint(inst);
                let agg = inst.operand(0);
                let idx = inst.indices();
                for (k, d) in ds.into_iter().enumerate() {
                    let z = agg.ty().fadd_identity();
                    let ins = self.insert_path(z, d, &idx);
                    self.accumulate(agg, k, ins);
                }
            }
            LLVMInsertValue => {
                let ds = self.take_adjoint(inst);
                let (agg, v) = (inst.operand(0), inst.operand(1));
                let idx = inst.indices();
                for (k, d) in ds.into_iter().enumerate() {
                    let part = self.extract_path(d, &idx);
                    self.accumulate(v, k, part);
                    let z = v.ty().fadd_identity();
                    let rest = self.insert_path(d, z, &idx);
                    self.accumulate(agg, k, rest);
                }
            }
            LLVMExtractElement => {
                let ds = self.take_adjoint(inst);
                let vec = inst.operand(0);
                let i = self.primal_at(inst.operand(1));
                for (k, d) in ds.into_iter().enumerate() {
                    let z = vec.ty().fadd_identity();
                    let x = self.b.insert_element(z, d, i);
                    self.accumulate(vec, k, x);
                }
            }
            LLVMShuffleVector if self.shuffle_lanes(inst).is_some() => {
                // Output lane i is input lane mask[i] of the two operands joined: its adjoint
                // goes back there (a splat sums every lane into one). Integer lanes carrying
                // float bits move `r` float lanes of their adjoint each.
                let r = self.shuffle_lanes(inst).expect("checked by the guard");
                let ds = self.take_adjoint(inst);
                let (a, b) = (inst.operand(0), inst.operand(1));
                let n = a.ty().vector_len() as i32;
                let elem = self.adjoint_type(inst).expect("checked by the guard").element();
                let view = |v: Value| Type::vector_of(elem, v.ty().vector_len() * r);
                let (ta, tb) = (view(a), view(b));
                let i32t = Type::i32(context_of(self.module()));
                let mask = inst.shuffle_mask();
                for (k, d) in ds.into_iter().enumerate() {
                    let mut da = ta.fadd_identity();
                    let mut db = tb.fadd_identity();
                    for (i, &m) in mask.iter().enumerate() {
                        if m < 0 {
                            continue;
                        }
                        let (acc, lane) = if m < n { (&mut da, m) } else { (&mut db, m - n) };
                        for j in 0..r {
                            let e = self.b.extract_element(d, i32t.const_int((i as u32 * r + j) as u64));
                            let at = i32t.const_int((lane as u32 * r + j) as u64);
                            let old = self.b.extract_element(*acc, at);
                            let sum = self.b.fadd(old, e);
                            *acc = self.b.insert_element(*acc, sum, at);
                        }
                    }
                    self.accumulate(a, k, da);
                    self.accumulate(b, k, db);
                }
            }
            LLVMInsertElement => {
                let ds = self.take_adjoint(inst);
                let (vec, v) = (inst.operand(0), inst.operand(1));
                let i = self.primal_at(inst.operand(2));
                for (k, d) in ds.into_iter().enumerate() {
                    let part = self.b.extract_element(d, i);
                    self.accumulate(v, k, part);
                    let z = v.ty().fadd_identity();
                    let rest = self.b.insert_element(d, z, i);
                    self.accumulate(vec, k, rest);
                }
            }
            LLVMAlloca | LLVMGetElementPtr | LLVMIntToPtr | LLVMAddrSpaceCast => {}
            op => self.error(
                inst,
                format!("the instruction `{}` ({op:?}) on differentiated data", describe(inst)),
                "this operation has no reverse-mode derivative yet; please report it",
            ),
        }
        // A split forward function's shadow stack memory is freed by the alloca's reversal.
        if inst.opcode() == LLVMAlloca && self.shape == Shape::Split && self.has_shadow(inst) {
            for k in 0..w {
                if let Some(s) = self.shadow_at(inst, k) {
                    let free = tape::libc_function(self.module(), "free");
                    self.b.call(free.function_type(), free, &[s]);
                }
            }
        }
    }

    /// For a `shufflevector` whose adjoint this mode can move, how many lanes of the adjoint
    /// each lane of the primal stands for: 1 for floats; for integer lanes carrying float bits,
    /// the float lanes in one integer lane (`<4 x i64>` viewed as `<8 x float>`: 2). `None`
    /// when the adjoints of the result and of the operands do not split into whole lanes.
    fn shuffle_lanes(&self, inst: Value) -> Option<u32> {
        let t = self.adjoint_type(inst)?;
        let lanes = |v: Value, t: Type| -> Option<u32> {
            let n = v.ty().vector_len();
            (t.is_vector() && t.is_float_or_float_vector() && n > 0 && t.vector_len().is_multiple_of(n)).then(|| t.vector_len() / n)
        };
        let r = lanes(inst, t)?;
        for op in [inst.operand(0), inst.operand(1)] {
            match self.adjoint_type(op) {
                Some(to) if lanes(op, to) == Some(r) && to.element() == t.element() => {}
                // An operand without an adjoint (a constant, an inactive value) takes none.
                None if op.is_constant() || !self.activity.is_active(op) => {}
                _ => return None,
            }
        }
        Some(r)
    }

    fn extract_path(&mut self, agg: Value, idx: &[u32]) -> Value {
        idx.iter().fold(agg, |a, &i| self.b.extract_value(a, i))
    }

    fn insert_path(&mut self, agg: Value, v: Value, idx: &[u32]) -> Value {
        match idx {
            [] => v,
            [i] => self.b.insert_value(agg, v, *i),
            [i, rest @ ..] => {
                let inner = self.b.extract_value(agg, *i);
                let new = self.insert_path(inner, v, rest);
                self.b.insert_value(agg, new, *i)
            }
        }
    }

    fn reverse_store(&mut self, store: Value) {
        let (v, p) = (store.operand(0), store.operand(1));
        if !self.activity.is_active(p) {
            return;
        }
        if !v.ty().contains_float() && self.activity.bits.may_be_float(v) {
            // Float bits stored as an integer: the shadow holds their adjoint (see
            // `mirror_store`); take it, and clear it since the memory is overwritten.
            let ty = self.activity.bits.float_view(v).unwrap_or(v.ty());
            for k in 0..self.width {
                let Some(sp) = self.shadow_at(p, k) else { continue };
                let d = self.take_shadow(p, sp, ty, true);
                self.accumulate(v, k, d);
            }
            return;
        }
        if !v.ty().contains_float() {
            if !v.ty().contains_pointer() && self.int_store_into_floats(store) {
                for k in 0..self.width {
                    let Some(sp) = self.shadow_at(p, k) else { continue };
                    if self.guarded(p) {
                        let pp = self.primal_at(p);
                        runtime_activity::store(self.module(), &self.b, v.ty().zero(), sp, pp);
                    } else {
                        self.b.store(v.ty().zero(), sp);
                    }
                }
            }
            return;
        }
        let ty = v.ty();
        let active = self.has_adjoint(v);
        for k in 0..self.width {
            let Some(sp) = self.shadow_at(p, k) else { continue };
            let d = self.take_shadow(p, sp, ty, active);
            if active {
                self.accumulate(v, k, d);
            }
        }
    }

    /// The reversal of storing into `p` (shadow `sp`): reads the adjoint the memory holds
    /// (type `ty`) and clears it. Where the shadow may be constant memory that is its own
    /// shadow (guarded accesses), the adjoint read there is zero, nothing is written, and a
    /// differentiated value (`active`) stored into it stops the program: its derivative would
    /// be lost.
    fn take_shadow(&mut self, p: Value, sp: Value, ty: Type, active: bool) -> Value {
        if !self.guarded(p) {
            let d = self.b.load(ty, sp);
            let cleared = zero_floats(&self.b, d);
            self.b.store(cleared, sp);
            return d;
        }
        let m = self.module();
        let pp = self.primal_at(p);
        let d = runtime_activity::load(&self.b, ty, sp, pp);
        let cleared = zero_floats(&self.b, d);
        runtime_activity::store(m, &self.b, cleared, sp, pp);
        if active {
            let eq = runtime_activity::same(&self.b, sp, pp);
            runtime_activity::check(m, &self.b, eq, &self.engine.lost_derivative_text(self.primal));
        }
        d
    }

    fn intrinsic(&mut self, name: &str, ty: Type, args: &[Value]) -> Value {
        emit::intrinsic(self.module(), &self.b, name, ty, args)
    }

    /// A rule's partial derivative in the reversal: carries only the operands it reads.
    fn eval_partial(&mut self, e: &E, args: &[Value], call: Value) -> Value {
        let (mut used, mut uses_y) = (Vec::new(), false);
        emit::uses(e, &mut used, &mut uses_y);
        let mut xs = vec![None; args.len()];
        for i in used {
            let i = i as usize;
            if xs[i].is_none() {
                xs[i] = Some(self.primal_at(args[i]));
            }
        }
        let y = if uses_y { Some(self.primal_at(call)) } else { None };
        emit::eval(self.module(), &self.b, e, &xs, y, call.ty())
    }

    fn reverse_call(&mut self, call: Value) {
        let kind = classify(call, &self.subst);
        let args = call.call_args();
        match kind {
            CallKind::Defined(f) if self.call_touches_shadow(call, kind, &args) => self.reverse_defined_call(call, &[f], false, &args),
            CallKind::Indirect if self.call_touches_shadow(call, kind, &args) && !indirect_candidates(call).is_empty() =>
            {
                self.reverse_defined_call(call, &indirect_candidates(call), true, &args)
            }
            CallKind::Rule(rule) => {
                if !self.has_adjoint(call) {
                    return;
                }
                let ds = self.take_adjoint(call);
                for (i, p) in rule.partials.iter().enumerate() {
                    let a = args[i];
                    if !self.has_adjoint(a) {
                        continue;
                    }
                    match p {
                        Partial::Zero => {}
                        Partial::Inactive => {
                            self.error(call, format!("a differentiated value flows into operand {i} of `{}`, which is not differentiable", describe(call)), "make that operand independent of the differentiated inputs");
                            return;
                        }
                        Partial::D(e) => {
                            let pd = self.eval_partial(e, &args, call);
                            for (k, &d) in ds.iter().enumerate() {
                                let t = self.b.fmul(d, pd);
                                self.accumulate(a, k, t);
                            }
                        }
                    }
                }
            }
            CallKind::ReduceFAdd => {
                if !self.has_adjoint(call) {
                    return;
                }
                let ds = self.take_adjoint(call);
                let (start, vec) = (args[0], args[1]);
                let ctx = context_of(self.module());
                for (k, d) in ds.into_iter().enumerate() {
                    self.accumulate(start, k, d);
                    if self.has_adjoint(vec) {
                        let vty = vec.ty();
                        let mut splat = vty.undef();
                        for j in 0..vty.vector_len() {
                            splat = self.b.insert_element(splat, d, Type::i32(ctx).const_int(j as u64));
                        }
                        self.accumulate(vec, k, splat);
                    }
                }
            }
            CallKind::MemTransfer => {
                if !self.activity.is_active(args[0]) {
                    return;
                }
                let contents = copy_contents(self.module(), call);
                if contents == Contents::Mixed {
                    self.mixed_copy_reverse(call, &args);
                }
                if let Some(ty) = contents.float_type() {
                    let len = self.primal_at(args[2]);
                    for k in 0..self.width {
                        let Some(d) = self.shadow_at(args[0], k) else { continue };
                        let s = if self.activity.is_active(args[1]) { self.shadow_at(args[1], k) } else { None };
                        let mover = adjoint_mover(self.module(), ty);
                        let null = Type::ptr(context_of(self.module())).zero();
                        let mut src = s.unwrap_or(null);
                        let mut len = len;
                        if self.guarded(args[0]) || s.is_some() && self.guarded(args[1]) {
                            // Constant memory that is its own shadow neither gives nor takes
                            // adjoints; floats of shadowed memory copied into it are lost.
                            let m = self.module();
                            let pd = self.primal_at(args[0]);
                            let eq_d = runtime_activity::same(&self.b, d, pd);
                            let bytes = len;
                            len = self.b.select(eq_d, len.ty().zero(), len);
                            if let Some(s) = s {
                                let ps = self.primal_at(args[1]);
                                let eq_s = runtime_activity::same(&self.b, s, ps);
                                src = self.b.select(eq_s, null, s);
                                let lost = self.b.and(eq_d, runtime_activity::differs(&self.b, s, ps));
                                let lost = runtime_activity::when_copying(&self.b, lost, bytes);
                                runtime_activity::check(m, &self.b, lost, &self.engine.lost_derivative_text(self.primal));
                            }
                        }
                        self.b.call(mover.function_type(), mover, &[d, src, len]);
                    }
                }
            }
            CallKind::Allocation(Alloc::Realloc) if self.has_shadow(call) => {
                // The moved data's adjoints, accumulated in the new shadow, belong to the old
                // data: copy them back (the old shadow still holds what was copied forward).
                let c_family = crate::heap::is_c_allocation(call);
                let kept = if c_family {
                    None
                } else {
                    let (old, new) = (self.primal_at(args[1]), self.primal_at(args[3]));
                    let grows = self.b.icmp(IntPredicate::LLVMIntULT, old, new);
                    Some(self.b.select(grows, old, new))
                };
                let floats = memory_contents(self.module(), call, args[0], None).float_type().is_some();
                for k in 0..self.width {
                    let (Some(s_new), Some(s_old)) = (self.shadow_at(call, k), self.shadow_at(args[0], k)) else { continue };
                    let mut kept = match kept {
                        Some(kept) => kept,
                        None => {
                            // C's realloc: the old shadow's usable size (never the primal's
                            // block, which its realloc may have freed).
                            let m = self.module();
                            let n = self.primal_at(args[1]);
                            let ours = if self.guarded(args[0]) {
                                let p_old = self.primal_at(args[0]);
                                let eq = runtime_activity::same(&self.b, s_old, p_old);
                                self.b.select(eq, s_old.ty().zero(), s_old)
                            } else {
                                s_old
                            };
                            crate::heap::kept_bytes(m, &self.b, ours, n)
                        }
                    };
                    if self.guarded(args[0]) {
                        // The old block was constant data, its own shadow: it takes no adjoints.
                        let p_old = self.primal_at(args[0]);
                        kept = self.len_unless_same(s_old, p_old, kept);
                    }
                    self.b.memcpy(s_old, 1, s_new, 1, kept);
                    if floats {
                        let z = Type::i8(context_of(self.module())).zero();
                        self.b.memset(s_new, z, kept, 1);
                    }
                }
            }
            CallKind::MemSet => {
                if !self.activity.is_active(args[0]) {
                    return;
                }
                let contents = copy_contents(self.module(), call);
                if contents == Contents::Mixed {
                    // The floats' adjoints end here; the rest of the shadow stays.
                    let layout = crate::types::copy_layout(self.module(), call).unwrap_or_default();
                    for k in 0..self.width {
                        let Some(d) = self.shadow_at(args[0], k) else { continue };
                        self.mixed_parts(d, &layout, true, |g, _, at, n| {
                            let z = Type::i8(context_of(g.module())).zero();
                            g.b.memset(at, z, n, 1);
                        });
                    }
                }
                if contents.float_type().is_some() {
                    let len = self.primal_at(args[2]);
                    for k in 0..self.width {
                        let Some(d) = self.shadow_at(args[0], k) else { continue };
                        let z = Type::i8(context_of(self.module())).zero();
                        let len = if self.guarded(args[0]) {
                            let pd = self.primal_at(args[0]);
                            self.len_unless_same(d, pd, len)
                        } else {
                            len
                        };
                        self.b.memset(d, z, len, 1);
                    }
                }
            }
            _ => {
                if self.has_adjoint(call) {
                    self.take_adjoint(call);
                }
            }
        }
    }

    /// The forward sweep of a copy of floats beside pointers ([`Contents::Mixed`]): the shadow of
    /// each part that is not a float is copied (pointers' shadows, integers), or zeroed when
    /// the source has no shadow; the floats' shadows hold adjoints, moved by the reversal.
    fn mixed_copy_forward(&mut self, call: Value, args: &[Value]) {
        let layout = crate::types::copy_layout(self.module(), call);
        let memcpy = call.called_function().is_some_and(|f| f.name().starts_with("llvm.memcpy"));
        let (Some(layout), true, false) = (layout, memcpy, self.guarded(args[0])) else {
            self.error(
                call,
                format!("`{}` copies floats beside pointers where their layout is not known", describe(call)),
                "copy the fields one by one, or keep this copy out of the differentiated data",
            );
            return;
        };
        for k in 0..self.width {
            let d = self.shadow_or_null(args[0], k);
            // A source that may be constant memory, its own shadow: its pointers and integers
            // are their own shadows too (copied as they are); its floats give no adjoint back
            // (the reversal checks).
            let s = if self.activity.is_active(args[1]) { self.shadow(args[1], k) } else { None };
            self.mixed_parts(d, &layout, false, |g, off, at, n| {
                let ctx = context_of(g.module());
                match s {
                    Some(s) => {
                        let from = g.b.gep(Type::i8(ctx), s, &[Type::i64(ctx).const_int(off)]);
                        let c = g.b.memcpy(at, 1, from, 1, n);
                        emit::strip_primal_facts(c);
                    }
                    None => {
                        g.b.memset(at, Type::i8(ctx).zero(), n, 1);
                    }
                }
            });
        }
    }

    /// The reversal of a [`Contents::Mixed`] copy: each float part's adjoint moves from the
    /// destination's shadow to the source's.
    fn mixed_copy_reverse(&mut self, call: Value, args: &[Value]) {
        let Some(layout) = crate::types::copy_layout(self.module(), call) else { return };
        let ctx = context_of(self.module());
        for k in 0..self.width {
            let Some(d) = self.shadow_at(args[0], k) else { continue };
            let mut s = if self.activity.is_active(args[1]) { self.shadow_at(args[1], k) } else { None };
            let null = Type::ptr(ctx).zero();
            if let Some(sh) = s.filter(|_| self.guarded(args[1])) {
                let ps = self.primal_at(args[1]);
                let eq = runtime_activity::same(&self.b, sh, ps);
                s = Some(self.b.select(eq, null, sh));
            }
            for &(off, bytes, ty) in layout.iter().filter(|(_, _, t)| t.is_float_or_float_vector()) {
                let i64t = Type::i64(ctx);
                let dp = self.b.gep(Type::i8(ctx), d, &[i64t.const_int(off)]);
                let sp = match s {
                    // A null source (constant memory) stays null: the mover only clears.
                    Some(s) => {
                        let at = self.b.gep(Type::i8(ctx), s, &[i64t.const_int(off)]);
                        let is_null = self.b.icmp(IntPredicate::LLVMIntEQ, s, null);
                        self.b.select(is_null, null, at)
                    }
                    None => null,
                };
                let mover = adjoint_mover(self.module(), ty);
                self.b.call(mover.function_type(), mover, &[dp, sp, i64t.const_int(bytes)]);
            }
        }
    }

    /// Calls `each(self, offset, address, bytes)` for the parts of `layout` at `d` that are floats
    /// (`floats`) or are not, merging adjacent ones.
    fn mixed_parts(&mut self, d: Value, layout: &[(u64, u64, Type)], floats: bool, mut each: impl FnMut(&mut Self, u64, Value, Value)) {
        let ctx = context_of(self.module());
        let i64t = Type::i64(ctx);
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for &(off, bytes, ty) in layout {
            if ty.is_float_or_float_vector() != floats {
                continue;
            }
            match runs.last_mut() {
                Some((o, n)) if *o + *n == off => *n += bytes,
                _ => runs.push((off, bytes)),
            }
        }
        for (off, bytes) in runs {
            let at = self.b.gep(Type::i8(ctx), d, &[i64t.const_int(off)]);
            each(self, off, at, i64t.const_int(bytes));
        }
    }

    /// Through the function pointer `callee` with possible `targets`: the augmented forward
    /// (`which` 0) or reverse (1) function of the target it points to. A target that cannot be
    /// differentiated gets a stub that stops the program with its refusal (the program may never
    /// call it), as does any other pointer ([`emit::choose_derivative`]).
    fn choose_split(&mut self, callee: Value, call: Value, targets: &[Value], args: &[Value], which: usize) -> Value {
        let m = self.module();
        let key0 = self.callee_key(targets[0], call, args);
        let fty = if which == 0 { augmented_type(&key0) } else { split_reverse_type(&key0) };
        let primal = self.key.function;
        let mut cases = Vec::new();
        for &t in targets {
            let key = self.callee_key(t, call, args);
            let d = match self.engine.try_split_functions(&key) {
                Ok(fs) => [fs.0, fs.1][which],
                Err(e) => emit::stop_with_message(m, fty, &emit::indirect_stop_text(primal, Some((t, &e)))),
            };
            cases.push((t, d));
        }
        let unknown = emit::stop_with_message(m, fty, &emit::indirect_stop_text(primal, None));
        emit::choose_derivative(&self.b, callee, &cases, unknown)
    }

    /// The reversal of [`Self::call_augmented`]: the callee's reverse function.
    fn reverse_defined_call(&mut self, call: Value, targets: &[Value], indirect: bool, args: &[Value]) {
        let key = self.callee_key(targets[0], call, args);
        let callee = indirect.then(|| self.primal_at(call.called_value()));
        let mut new_args = vec![self.rev_tape];
        if takes_seed(&key) {
            let ds = self.take_adjoint(call);
            new_args.extend(ds);
        }
        tape::sync(self.module(), &self.b, self.rev_local, self.rev_tape);
        let rev = match callee {
            Some(callee) => self.choose_split(callee, call, targets, args, 1),
            None => self.engine.split_functions(&key).1,
        };
        let r = self.b.call(split_reverse_type(&key), rev, &new_args);
        tape::sync(self.module(), &self.b, self.rev_tape, self.rev_local);
        let mut i = 0;
        for (&a, act) in args.iter().zip(&key.args) {
            if *act == RevArg::Active {
                for k in 0..self.width {
                    let d = self.b.extract_value(r, i);
                    i += 1;
                    self.accumulate(a, k, d);
                }
            }
        }
    }
}


fn has_int_leaf(ty: Type) -> bool {
    if ty.is_int() {
        return true;
    }
    if ty.is_vector() {
        return ty.element().is_int();
    }
    if ty.is_aggregate() {
        return (0..ty.aggregate_len()).any(|i| has_int_leaf(ty.field(i)));
    }
    false
}

/// `void oxidase.adjoint.move.<ty>(ptr dst_shadow, ptr src_shadow, i64 bytes)`: the reversal of
/// copying floats: `src_shadow[i] += dst_shadow[i]; dst_shadow[i] = 0` (no `src_shadow` when
/// it is null: the source was constant).
fn adjoint_mover(m: LLVMModuleRef, ty: Type) -> Value {
    let ctx = context_of(m);
    let (p, i64t) = (Type::ptr(ctx), Type::i64(ctx));
    let name = format!("oxidase.adjoint.move.{}", ty.print());
    let f = match tape::helper(m, &name, Type::function(Type::void(ctx), &[p, p, i64t], false)) {
        Ok(f) => return f,
        Err(f) => f,
    };
    let (dst, src, bytes) = (f.param(0), f.param(1), f.param(2));
    let b = Builder::new(ctx);
    let entry = Block::append(ctx, f, "entry");
    let lp = Block::append(ctx, f, "loop");
    let done = Block::append(ctx, f, "done");
    b.position_at_end(entry);
    let size = abi_size(m, ty);
    let count = b.udiv(bytes, i64t.const_int(size));
    let has_src = b.icmp(IntPredicate::LLVMIntNE, src, p.zero());
    let empty = b.icmp(IntPredicate::LLVMIntEQ, count, i64t.zero());
    b.cond_br(empty, done, lp);
    b.position_at_end(lp);
    let i = b.phi(i64t);
    let dp = b.gep(ty, dst, &[i]);
    let d = b.load(ty, dp);
    b.store(ty.zero(), dp);
    let sp = b.gep(ty, src, &[i]);
    let safe_sp = b.select(has_src, sp, dp);
    let old = b.load(ty, safe_sp);
    let sum = b.fadd(old, d);
    let keep = b.select(has_src, sum, ty.zero());
    b.store(keep, safe_sp);
    let next = b.add(i, i64t.const_int(1));
    let more = b.icmp(IntPredicate::LLVMIntULT, next, count);
    b.cond_br(more, lp, done);
    i.add_incoming(i64t.zero(), entry);
    i.add_incoming(next, lp);
    b.position_at_end(done);
    b.ret_void();
    f
}
