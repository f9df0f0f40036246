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
//! * everything else goes through the [`crate::tape`]: a LIFO stack, which is exactly right
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
//!   shadows) and the caller's tape, runs the forward sweep and pushes onto that tape what its
//!   reversal cannot rebuild; it returns `{ result, shadow of a pointer result × width }` (or
//!   `void`). The reverse function takes the tape, the same arguments again (aggregates
//!   excepted; poison for those it never reads), and the result's adjoint (one per lane, if the
//!   result carries floats), pops what the forward sweep pushed, and returns the adjoints of the
//!   Active parameters, `width` per parameter, as a literal struct (or `void`).

use crate::activity::{self, Activity};
use crate::calls::{classify, indirect_candidates, Alloc, CallKind};
use crate::error::{describe, AdError};
use crate::cfg::{Cfg, CountedLoop, TripBound, TripTest};
use crate::forward::reverse_post_order;
use crate::emit;
use crate::rules::{self, Partial, Rule};
use crate::runtime_activity;
use crate::shadows::{self, Mapping, Param};
use crate::types::{copy_contents, memory_contents, Contents};
use crate::{tape, types, Engine, RevArg, RevRet, ReverseKey};
use oxidase_llvm::llvm_sys::prelude::LLVMModuleRef;
use oxidase_llvm::module::{abi_size, context_of};
use oxidase_llvm::{Block, Builder, IntPredicate, Opcode, Type, Value};
use std::collections::{HashMap, HashSet};

mod adjoints;
mod buffers;
mod cache;
mod call_adjoints;
mod control;
mod signature;
mod skip;
mod sweep;
mod scopes;
mod sweep_calls;
mod values;

pub(crate) use adjoints::{add_adjoints, zero_floats};
pub use signature::{augmented_type, combined_type, split_reverse_type};
use adjoints::has_int_leaf;
use control::is_return;
use scopes::Space;
use signature::*;

/// Which of the two shapes is generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    Combined,
    Split,
}

/// Where a forward value needed by the reverse sweep is kept.
#[derive(Clone, Copy)]
enum Carrier {
    /// A stack slot written at the end of the forward block (blocks that run at most once).
    Slot(Value),
    /// Pushed at the end of the forward block, popped at the start of its reversal.
    Tape,
    /// Stored at the end of the forward block into the row of the current iteration of a
    /// loop's buffer, at this byte ([`buffers`]).
    Buffer(usize, u64),
}

/// A value a loop keeps once per execution: (forward value, forward slot, reverse slot).
type LoopKeep = (Value, Value, Value);

/// How the reversal of a counted loop gets the induction variable (and a start that is not a
/// constant) the loop had when it left through an exit edge.
#[derive(Clone, Copy, Debug)]
enum ExitIv {
    /// Pushed on the tape on the edge.
    Tape,
    /// Stack slots (variable, start) written on an edge that runs at most once (combined
    /// derivatives).
    Slots(Value, Option<Value>),
    /// Nothing kept: the edge is the exit of the test bounding the loop, so the variable
    /// follows from the start and the bound, which the reversal fetches like any other value
    /// ([`Gen::exit_from_bound`]).
    Bound(TripBound),
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
    /// Primal values and blocks → their copies and shadows ([`crate::shadows`]).
    map: Mapping,
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
    /// Loop exit edges (block in the loop, block outside) → the counted loops the edge leaves
    /// (an edge out of nested loops leaves several), in the order their induction variables are
    /// saved there, and how the reversal gets each variable back ([`ExitIv`]).
    loop_exits: HashMap<(Block, Block), Vec<(usize, ExitIv)>>,
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
    /// Forward values the forward sweep copied from (or computed as shadows of) primal values,
    /// with the primal block they belong to (the entry for parameters): where a value kept
    /// once for the loops is saved ([`Gen::fetch_once`]).
    origin: HashMap<Value, Block>,
    /// Values defined outside every loop and needed inside a loop's reversal, kept once per
    /// call: forward value → the slot the reversal reads (combined: the forward slot itself).
    once: HashMap<Value, Value>,
    /// Split: (forward slot, reverse slot) of each value kept once, handed over on the tape
    /// once per call, after everything else (the reverse function pops them first).
    frame: Vec<(Value, Value, Type)>,
    /// Values kept once per execution of a loop ([`Gen::fetch_per_loop`]): forward value → the
    /// forward slot its definition writes.
    loop_keep_fwd: HashMap<Value, Value>,
    /// Per loop: (forward value, forward slot, reverse slot) of the values its reversal reads
    /// from a slot filled when the reversal enters the loop.
    loop_kept: Vec<Vec<LoopKeep>>,
    /// Forward copies of loads that read the same value in every iteration of a loop's
    /// execution ([`crate::modref::ModRef::invariant_within`]) → those loops.
    loop_invariant_loads: HashMap<Value, Vec<usize>>,
    /// Per loop: its buffer, if its trip count is bounded on entry ([`buffers`]).
    buffers: Vec<Option<buffers::LoopBuffer>>,
    /// Blocks that run at most once per iteration of a loop with a buffer → that loop.
    buffered_in: HashMap<Block, usize>,
    /// Reversals of loop exit edges: (edge, the block whose start pops what the loops kept).
    exit_reversals: Vec<((Block, Block), Block)>,
    /// Whether anything pushes on the tape, defers a free to its release or hands it to a
    /// callee: a combined derivative without any drops its release.
    tape_used: bool,
    /// Combined: the branch into the block releasing the tape, that block, and the one after.
    release: Option<(Value, Block, Block)>,
    /// Memory accesses the derivative adds, with the spaces they touch ([`scopes`]).
    tagged: Vec<(Value, Vec<Space>)>,
    seeds: Vec<Value>,
    /// Split: each forward function parameter → the same parameter of the reverse function,
    /// which its caller passes again ([`split_reverse_type`]).
    rev_params: HashMap<Value, Value>,
    /// Calls with an augmented forward function → the arguments they passed it (tape
    /// excluded): their reversal passes them again to the reverse function.
    aug_args: HashMap<Value, Vec<Value>>,
    /// Mod/ref facts of the primal in this derivative's context ([`crate::modref`]).
    modref: crate::modref::ModRef,
    /// Loads of the forward function (copies of primal loads) that read memory nothing writes
    /// until their reversal ([`crate::modref::ModRef::invariant`]): the reversal loads again.
    invariant_loads: HashSet<Value>,
    /// Reversals of loop exits offering to go around the loop ([`skip`]).
    skips: Vec<skip::SkipOffer>,
    /// Instructions whose reversal was done in the forward sweep ([`Gen::call_fused`]): a fused
    /// call and the store of its result.
    fused: HashSet<Value>,
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
    /// Loop exits whose induction variable the reversal computes from the exit test's bound
    /// instead of keeping it ([`ExitIv::Bound`]).
    exits_from_bound: usize,
    recomputed: usize,
    /// Returning blocks whose reversal does nothing: not reversed ([`Gen::plan_reversal`]).
    skipped: usize,
    /// Calls run as their callee's combined derivative ([`Gen::call_fused`]).
    fused: usize,
    /// Loop reversals skipped when the adjoints they receive are zero ([`skip`]).
    zero_skips: usize,
    /// Values kept once per execution of a loop (not per iteration).
    loop_kept: usize,
    /// Values kept per iteration in loop buffers, and the loops with a buffer.
    buffered: usize,
    buffered_loops: usize,
    /// The values kept per pass through a loop: the (primal) block whose reversal needs them,
    /// the forward value (none for what a loop exit pushes), how the report names it, its
    /// size, and whether a loop buffer holds it (otherwise the tape).
    looped: Vec<(Block, Option<Value>, String, u64, bool)>,
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
        map: Mapping::new(true),
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
        origin: HashMap::new(),
        once: HashMap::new(),
        frame: Vec::new(),
        loop_keep_fwd: HashMap::new(),
        loop_kept: Vec::new(),
        loop_invariant_loads: HashMap::new(),
        exit_reversals: Vec::new(),
        buffers: Vec::new(),
        buffered_in: HashMap::new(),
        tape_used: false,
        release: None,
        tagged: Vec::new(),
        seeds: Vec::new(),
        rev_params: HashMap::new(),
        aug_args: HashMap::new(),
        modref: crate::modref::ModRef::new(
            primal,
            crate::modref::Context { combined: shape == Shape::Combined, preserved: key.preserved.clone(), defer_frees: !key.repeated },
        ),
        invariant_loads: HashSet::new(),
        fused: HashSet::new(),
        skips: Vec::new(),
        stats: CacheStats::default(),
        errors: Vec::new(),
    };
    if g.engine.options.print_activity && g.engine.wants_report(primal) {
        let r = g.modref.report();
        g.engine.report.push(r);
    }
    g.run();
    if g.engine.options.print_perf && g.engine.wants_report(primal) {
        let st = &g.stats;
        let line = format!(
            "oxidase: reverse derivative of {} ({shape:?}): {} values kept in stack slots, {} kept once per loop execution, {} in buffers of {} loops sized by their trip counts, {} on the tape ({} bytes per pass through the loops), {} recomputed; {} blocks with nothing to reverse skipped",
            g.engine.report_name(primal),
            st.slots,
            st.loop_kept,
            st.buffered,
            st.buffered_loops,
            st.taped,
            st.tape_bytes,
            st.recomputed,
            st.skipped
        );
        let line = match st.fused {
            0 => line,
            n => format!("{line}; {n} calls fused with their reversal (the callee's combined derivative)"),
        };
        let line = match st.zero_skips {
            0 => line,
            n => format!("{line}; {n} loop reversals skipped when the adjoints they receive are zero"),
        };
        let line = match st.exits_from_bound {
            0 => line,
            n => format!("{line}; {n} loop exits whose induction variable comes from the exit test's bound (nothing kept)"),
        };
        g.engine.report.push(line);
        for line in g.loop_report() {
            g.engine.report.push(line);
        }
    }
    if g.errors.is_empty() {
        Ok(())
    } else {
        Err(g.errors)
    }
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
                let t = match self.engine.options.tape_arena {
                    // The caller's arena (the last parameter).
                    true => *self.fwd_fn.params().last().unwrap(),
                    false => {
                        let t = self.b.alloca(tape::header_type(m));
                        tape::init(m, &self.b, t);
                        t
                    }
                };
                let local = self.b.alloca(tape::header_type(m));
                tape::init(m, &self.b, local);
                if self.engine.options.tape_arena {
                    tape::sync(m, &self.b, t, local);
                }
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
                let primal_params: Vec<Value> = ps[..ps.len() - 1].iter().copied().filter(|p| signature::passed_again(p.ty())).collect();
                self.rev_params = primal_params.iter().copied().zip(rps[1..].iter().copied()).collect();
                let rb = Builder::new(ctx);
                rb.position_at_end(e);
                self.rev_local = rb.alloca(tape::header_type(m));
                (e, rps[1 + primal_params.len()..].to_vec())
            }
        };
        self.seeds = match self.shape {
            Shape::Combined if self.key.ret == RevRet::Active && !self.primal.function_type().return_type().is_void() => {
                let ps = self.fwd_fn.params();
                let p = ps[ps.len() - 1 - usize::from(self.engine.options.tape_arena)];
                vec![p; self.width]
            }
            Shape::Combined => Vec::new(),
            Shape::Split => seed_params,
        };
        self.slots_b.position_at_end(rev_entry);

        // Forward sweep.
        for &b in &order {
            let nb = Block::append(ctx, self.fwd_fn, &b.name());
            self.map.bmap.insert(b, nb);
        }
        self.b.position_at_end(fwd_entry);
        let entry_br = self.b.br(self.map.bmap[&order[0]]);
        self.fwd_slots_b.position_before(entry_br);
        if self.shape == Shape::Combined {
            self.slots_b.position_before(entry_br);
        }
        for &b in &order {
            self.b.position_at_end(self.map.bmap[&b]);
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
        self.split_loop_exits();
        self.plan_buffers(&cfg);
        self.fill_phis(&cfg);
        for l in self.modref.invariant_loads() {
            if let Some(&fv) = self.map.vmap.get(&l) {
                self.invariant_loads.insert(fv);
            }
        }
        self.loop_kept = vec![Vec::new(); self.loops.len()];
        for (li, l) in self.loops.iter().enumerate() {
            for &b in &l.body {
                for i in b.instructions() {
                    if i.opcode() == Opcode::LLVMLoad && self.modref.invariant_within(i, &l.body) {
                        if let Some(&fv) = self.map.vmap.get(&i) {
                            self.loop_invariant_loads.entry(fv).or_default().push(li);
                        }
                    }
                }
            }
        }
        // Where each forward value is defined, in primal terms: a parameter of the forward
        // function, or an instruction in the forward copy of a primal block (its first piece, or
        // the one ending where its saves go).
        let mut home_of: HashMap<Block, Block> = HashMap::new();
        for (&b, &nb) in &self.map.bmap {
            home_of.insert(nb, b);
            if let Some(t) = self.save_point.get(&b) {
                home_of.insert(t.parent_block(), b);
            }
        }
        let values: Vec<Value> = self.map.vmap.values().copied().chain(self.map.smap.values().flatten().copied()).collect();
        for fv in values {
            let home = if fv.is_argument() && fv.parent_function() == self.fwd_fn {
                Some(order[0])
            } else if fv.is_instruction() {
                home_of.get(&fv.parent_block()).copied()
            } else {
                None
            };
            if let Some(home) = home {
                self.origin.insert(fv, home);
            }
        }

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
            self.reverse_instructions(b);
            if !self.errors.is_empty() {
                return;
            }
        }
        let reversed = self.plan_reversal(&rev_order);
        let loops_reversed: Vec<bool> = self.loops.iter().map(|l| l.body.iter().any(|b| reversed.contains(b))).collect();
        self.save_loop_exits(&cfg, &loops_reversed);
        for &b in &rev_order {
            if reversed.contains(&b) {
                let preds = self.reverse_preds(b, &reversed);
                self.reverse_control(b, exit, preds);
            } else {
                // Nothing to reverse: its (empty) reverse blocks go.
                self.rhead.remove(&b).expect("made above").delete();
                self.rbody.remove(&b).expect("made above").delete();
                self.stats.skipped += 1;
            }
        }
        self.finish_exit(exit);
        // Before anything reads what the loops keep per execution: recomputing may add to it.
        self.recompute_from_carried();
        self.finish_skips();
        self.finish_buffers();
        self.hand_over_loop_keeps();
        self.reserve_buffers();
        self.emit_saves();
        // The reverse entry of a split derivative: where the forward sweep returned.
        if self.shape == Shape::Split {
            let m = self.module();
            self.b.position_at_end(rev_entry);
            tape::sync(m, &self.b, self.rev_tape, self.rev_local);
            self.pop_frame();
            self.enter_reverse_split();
            self.push_frame();
            // The forward function hands its tape state back to the caller when it returns.
            for b in self.fwd_fn.blocks() {
                if let Some(t) = b.terminator().filter(|t| t.opcode() == Opcode::LLVMRet) {
                    self.b.position_before(t);
                    tape::sync(m, &self.b, self.fwd_local, self.tape);
                }
            }
        }
        if let (false, Some((br, release, done))) = (self.tape_used, self.release) {
            self.b.position_before(br);
            self.b.br(done);
            br.erase();
            release.delete();
        }
        self.attach_scopes();
    }

}

