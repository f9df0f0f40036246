//! Forward mode: a new function that computes the primal and `width` tangents in one pass.
//!
//! The derivative is written instruction by instruction next to a copy of the primal: every
//! primal instruction is cloned (operands remapped), and an active one is followed by its tangent
//! code. Tangents of a value of type `T` have type `T` (floats, vectors, aggregates; the shadow
//! of a pointer is a pointer into shadow memory), one per lane. Known-zero tangents are `None`
//! and fold away instead of being emitted.
//!
//! Calling convention of a generated derivative (see [`crate::ForwardKey`]): each primal
//! parameter, followed by `width` shadows of the same type when it is `Dual`; a parameter the
//! derivative is specialized on (`ArgActivity::Constant`) is dropped. The result is `void` for a
//! `void` primal and otherwise the literal struct `{ R, R × width }` (primal first).

use crate::activity::{self, differentiable_type, Activity};
use crate::calls::{classify, Alloc, CallKind};
use crate::error::{describe, AdError};
use crate::emit;
use crate::rules::{self, Partial, Rule};
use crate::runtime_activity;
use crate::shadows::{self, Mapping, Param};
use crate::types::Contents;
use crate::{ArgActivity, Engine, ForwardKey};
use oxidase_llvm::module::context_of;
use oxidase_llvm::{Block, Builder, IntPredicate, Opcode, Type, Value};
use std::collections::{HashMap, HashSet};

/// The derivative's LLVM function type for `key`.
pub fn derivative_type(key: &ForwardKey) -> Type {
    let fty = key.function.function_type();
    let ctx = fty.context();
    let mut params = Vec::new();
    for (ty, act) in fty.param_types().into_iter().zip(&key.args) {
        match act {
            ArgActivity::Constant(_) => {}
            ArgActivity::Const => params.push(ty),
            ArgActivity::Dual => {
                params.push(ty);
                params.extend(std::iter::repeat_n(ty, key.width as usize));
            }
        }
    }
    let ret = fty.return_type();
    let ret = if ret.is_void() {
        ret
    } else {
        Type::struct_of(ctx, &vec![ret; 1 + key.width as usize])
    };
    Type::function(ret, &params, false)
}

type Lanes = Vec<Option<Value>>;

struct Gen<'e> {
    engine: &'e mut Engine,
    primal: Value,
    /// Shadows may be primal pointers (see [`crate::runtime_activity`]): accesses check.
    runtime: bool,
    /// `Const` parameters that are their own shadows.
    self_shadowed: Vec<usize>,
    width: usize,
    activity: Activity,
    subst: HashMap<Value, Value>,
    b: Builder,
    /// Primal values and blocks → their copies and tangents ([`crate::shadows`]).
    map: Mapping,
    /// (primal predecessor, primal successor) → derivative block the edge leaves from.
    edge_from: HashMap<(Block, Block), Block>,
    /// Primal phi → (copy, tangent phis), filled once all blocks exist.
    phis: Vec<(Value, Value, Vec<Value>)>,
    errors: Vec<AdError>,
    /// Loads and stores of primal memory (copies of the primal's) and of shadow memory (the
    /// tangent code's), told apart by alias scopes once the body is done.
    primal_accesses: Vec<Value>,
    shadow_accesses: Vec<Value>,
}

/// Fills the body of `derivative` (already declared with [`derivative_type`]).
pub fn generate(engine: &mut Engine, key: &ForwardKey, derivative: Value) -> Result<(), Vec<AdError>> {
    let primal = key.function;
    let params = primal.params();
    let mut subst = HashMap::new();
    for (p, a) in params.iter().zip(&key.args) {
        if let ArgActivity::Constant(c) = a {
            subst.insert(*p, *c);
        }
    }
    // A constant table specialized on has a shadow: the global's own.
    let mut active_params: Vec<bool> = key
        .args
        .iter()
        .map(|a| {
            *a == ArgActivity::Dual
                || matches!(a, ArgActivity::Constant(c) if crate::calls::constant_has_shadow(*c))
        })
        .collect();
    // `Const` parameters kept beside shadowed memory are their own shadows (run-time activity).
    let mut self_shadowed = Vec::new();
    let returns_pointer = primal.function_type().return_type().contains_pointer();
    let bits = engine.float_bits(primal);
    let activity = loop {
        let activity = {
            let mut callees = |c: Value, a: &[bool], r: bool| engine.param_requirements(c, a, r);
            // The derivative returns the result's tangent: a returned pointer needs its shadow.
            activity::analyze(primal, &active_params, returns_pointer, bits.clone(), &subst, &mut callees)?
        };
        let own = activity.self_shadowed(primal, &active_params, "Dual")?;
        if own.is_empty() {
            break activity;
        }
        engine.check_self_shadowing(key.function, derivative, key.runtime_activity, returns_pointer)?;
        for k in own {
            active_params[k] = true;
            self_shadowed.push(k);
        }
    };
    if engine.options.print_activity && engine.wants_report(primal) {
        engine.report.push(activity.report(primal));
    }
    let ctx = context_of(engine.module);
    let mut g = Gen {
        engine,
        primal,
        runtime: key.runtime_activity || !self_shadowed.is_empty(),
        self_shadowed,
        width: key.width as usize,
        activity,
        subst,
        b: Builder::new(ctx),
        map: Mapping::new(false),
        edge_from: HashMap::new(),
        phis: Vec::new(),
        errors: Vec::new(),
        primal_accesses: Vec::new(),
        shadow_accesses: Vec::new(),
    };
    g.run(key, derivative);
    g.attach_scopes();
    if g.errors.is_empty() {
        Ok(())
    } else {
        Err(g.errors)
    }
}

/// The one target of a branch whose condition is a constant ([`crate::fold`]): the
/// derivative branches there unconditionally (the other side is not generated).
pub(crate) fn folded_branch(t: Value) -> Option<Block> {
    let live = crate::fold::live_targets(t);
    (t.opcode() == Opcode::LLVMBr && t.num_operands() == 3 && live.len() == 1).then(|| live[0])
}

/// Blocks reachable from the entry, in reverse post-order (definitions before uses).
pub(crate) fn reverse_post_order(f: Value) -> Vec<Block> {
    let entry = f.entry_block();
    let mut seen = HashSet::new();
    let mut post = Vec::new();
    let mut stack = vec![(entry, 0usize)];
    seen.insert(entry);
    while let Some((b, i)) = stack.pop() {
        let succ = crate::fold::live_successors(b);
        if i < succ.len() {
            stack.push((b, i + 1));
            let s = succ[i];
            if seen.insert(s) {
                stack.push((s, 0));
            }
        } else {
            post.push(b);
        }
    }
    post.reverse();
    post
}

impl Gen<'_> {
    fn module(&self) -> oxidase_llvm::llvm_sys::prelude::LLVMModuleRef {
        self.engine.module
    }

    fn error(&mut self, at: Value, construct: String, hint: &str) {
        self.errors.push(AdError::new(self.primal, construct, hint).at(at));
    }

    fn run(&mut self, key: &ForwardKey, df: Value) {
        let ctx = context_of(self.module());
        // Parameters.
        let params: Vec<Param> = key
            .args
            .iter()
            .enumerate()
            .map(|(i, a)| match a {
                ArgActivity::Constant(c) => Param::Specialized(*c),
                ArgActivity::Const => Param::Plain { own_shadow: self.self_shadowed.contains(&i) },
                ArgActivity::Dual => Param::Shadowed,
            })
            .collect();
        self.map.map_params(self.engine, self.primal, df.params(), &params, self.width);
        self.map.copy_param_facts(self.primal, df, self.runtime);
        df.copy_personality_from(self.primal);
        let order = reverse_post_order(self.primal);
        for &b in &order {
            let nb = Block::append(ctx, df, &b.name());
            self.map.bmap.insert(b, nb);
        }
        for &b in &order {
            self.b.position_at_end(self.map.bmap[&b]);
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
        // Phis: incoming edges from reachable predecessors only.
        for (old, new, tangents) in std::mem::take(&mut self.phis) {
            for (v, pred) in old.incoming() {
                let Some(&from) = self.edge_from.get(&(pred, old.parent_block())) else { continue };
                new.add_incoming(self.val(v), from);
                for (k, &t) in tangents.iter().enumerate() {
                    let tv = self.tan_or_zero_in(old, v, k);
                    t.add_incoming(tv, from);
                }
            }
        }
    }

    // ---- value lookup ----

    fn val(&self, v: Value) -> Value {
        self.map.val(v)
    }

    /// The tangent (or shadow) of `v` in lane `k`; `None`: known to be zero.
    fn tan(&mut self, v: Value, k: usize) -> Option<Value> {
        self.map.shadow(self.engine, &self.activity, v, k)
    }

    fn tan_or_zero(&mut self, v: Value, k: usize) -> Value {
        self.tan(v, k).unwrap_or_else(|| v.ty().zero())
    }

    /// The tangent of operand `v` of `user`: where `user` is an integer carrying a pointer
    /// (`Activity::pointer_ints`), an integer without a tangent is a sentinel address, its own
    /// shadow.
    fn tan_or_zero_in(&mut self, user: Value, v: Value, k: usize) -> Value {
        match self.tan(v, k) {
            Some(t) => t,
            None if self.activity.pointer_ints.contains(&user) => self.val(v),
            None => v.ty().zero(),
        }
    }

    fn lanes(&mut self, v: Value) -> Lanes {
        (0..self.width).map(|k| self.tan(v, k)).collect()
    }

    fn set_tangents(&mut self, inst: Value, lanes: Lanes) {
        let ty = inst.ty();
        let vals = lanes.into_iter().map(|t| t.unwrap_or_else(|| ty.zero())).collect();
        self.map.smap.insert(inst, vals);
    }

    // ---- emission helpers ----

    /// Clones `inst` at the builder, remapping operands, then overriding `overrides`.
    fn emit_like(&mut self, inst: Value, overrides: &[(u32, Value)]) -> Value {
        let c = self.map.emit_like(&self.b, inst, overrides);
        Self::note_access(&mut self.primal_accesses, c);
        c
    }

    /// A clone that computes a shadow: primal-only metadata is dropped.
    fn emit_shadow_like(&mut self, inst: Value, overrides: &[(u32, Value)]) -> Value {
        let c = self.map.emit_shadow_like(&self.b, inst, overrides);
        Self::note_access(&mut self.shadow_accesses, c);
        c
    }

    fn copy_primal(&mut self, inst: Value) -> Value {
        let c = self.map.copy_primal(&self.b, inst);
        Self::note_access(&mut self.primal_accesses, c);
        c
    }

    fn note_access(list: &mut Vec<Value>, c: Value) {
        if c.is_instruction() && matches!(c.opcode(), Opcode::LLVMLoad | Opcode::LLVMStore) {
            list.push(c);
        }
    }

    /// Primal memory and shadow memory are disjoint: every copied primal load and store gets
    /// the scope "primal memory" of a domain of this derivative and is `noalias` with "shadow
    /// memory", and the tangent code's loads and stores the other way round. (The primal's own
    /// scopes stay on both: shadows mirror the primal's objects, so what the primal promises
    /// about two of its accesses holds for their shadows.) This is what lets LLVM keep a
    /// shadow and the primal memory of the same loop apart where the pointers arrive through
    /// memory (the stable route's argument tuple, a reverse derivative's shadows differentiated
    /// again). Nothing is tagged when a shadow may be primal memory (run-time activity).
    fn attach_scopes(&mut self) {
        let (primal, shadow) = (std::mem::take(&mut self.primal_accesses), std::mem::take(&mut self.shadow_accesses));
        if self.runtime || primal.is_empty() || shadow.is_empty() {
            return;
        }
        let ctx = context_of(self.module());
        let name = crate::error::demangle(&self.primal.name());
        let domain = oxidase_llvm::new_alias_scope(ctx, None, &format!("oxidase: forward derivative of {name}"));
        let p = oxidase_llvm::new_alias_scope(ctx, Some(domain), "primal memory");
        let s = oxidase_llvm::new_alias_scope(ctx, Some(domain), "shadow memory");
        for (list, own, other) in [(primal, p, s), (shadow, s, p)] {
            for i in list {
                i.add_scopes("alias.scope", &[own]);
                i.add_scopes("noalias", &[other]);
            }
        }
    }

    // ---- the visitor ----

    /// An instruction of a block that cannot reach a return: copied without tangents.
    fn visit_primal_only(&mut self, inst: Value) {
        use Opcode::*;
        match inst.opcode() {
            LLVMPHI => {
                let new = self.b.phi(inst.ty());
                self.map.vmap.insert(inst, new);
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
        let active = self.activity.is_active(inst);
        match inst.opcode() {
            LLVMPHI => {
                let new = self.b.phi(inst.ty());
                self.map.vmap.insert(inst, new);
                let mut tangents = Vec::new();
                if active {
                    for _ in 0..self.width {
                        tangents.push(self.b.phi(inst.ty()));
                    }
                    self.map.smap.insert(inst, tangents.clone());
                }
                self.phis.push((inst, new, tangents));
            }
            LLVMCall | LLVMInvoke => self.visit_call(inst),
            LLVMBr | LLVMSwitch | LLVMRet | LLVMUnreachable | LLVMResume | LLVMIndirectBr => {
                self.visit_terminator(inst)
            }
            LLVMAtomicRMW | LLVMAtomicCmpXchg if self.activity.is_active(inst.operand(0)) && !self.activity.atomic_on_numbers(inst) => {
                self.error(
                    inst,
                    format!("the atomic operation `{}` on differentiated memory", describe(inst)),
                    "atomics on floats or pointers have no derivative rule yet (shared-state parallel code is not differentiated yet); use plain loads and stores in differentiated code",
                );
            }
            _ => {
                let c = self.copy_primal(inst);
                if active {
                    self.differentiate(inst, c);
                } else if inst.opcode() == LLVMStore {
                    self.store_into_shadow(inst);
                }
            }
        }
    }

    fn visit_terminator(&mut self, inst: Value) {
        let here = inst.parent_block();
        if inst.opcode() == Opcode::LLVMRet && inst.num_operands() == 1 {
            let v = inst.operand(0);
            let ctx = context_of(self.module());
            let ty = v.ty();
            let sty = Type::struct_of(ctx, &vec![ty; 1 + self.width]);
            let mut agg = sty.undef();
            agg = self.b.insert_value(agg, self.val(v), 0);
            for k in 0..self.width {
                // An integer without a tangent is data, its own shadow (see `store_into_shadow`).
                let t = match self.tan(v, k) {
                    Some(t) => t,
                    None if crate::bits::int_like(ty) && !self.activity.bits.may_be_float(v) => {
                        self.val(v)
                    }
                    None => ty.zero(),
                };
                agg = self.b.insert_value(agg, t, 1 + k as u32);
            }
            self.b.ret(agg);
        } else if let Some(live) = folded_branch(inst) {
            let c = self.b.br(self.map.bmap[&live]);
            self.map.vmap.insert(inst, c);
        } else {
            let c = self.emit_like(inst, &[]);
            self.map.vmap.insert(inst, c);
        }
        let from = self.b.insert_block();
        for s in crate::fold::live_targets(inst) {
            self.edge_from.insert((here, s), from);
        }
    }

    /// A store of a constant value into shadowed memory zeroes the tangent there.
    fn store_into_shadow(&mut self, store: Value) {
        let p = store.operand(1);
        if !self.activity.is_active(p) {
            return;
        }
        let v = store.operand(0);
        let guarded = self.guarded(p);
        for k in 0..self.width {
            let sp = self.tan(p, k).unwrap();
            // Integer data is its own shadow (as reverse mode mirrors it): a length kept beside
            // a pointer, read back from the shadow, must be the length.
            let tv = match self.tan(v, k) {
                Some(t) => t,
                None if crate::bits::int_like(v.ty()) && !self.activity.bits.may_be_float(v) => {
                    self.val(v)
                }
                None => v.ty().zero(),
            };
            if !guarded {
                self.emit_shadow_like(store, &[(0, tv), (1, sp)]);
                continue;
            }
            // The shadow may be constant memory itself: write nothing there, and stop if what
            // would be lost is a derivative (a nonzero tangent, a pointer with its own shadow).
            let m = self.module();
            let (pp, pv) = (self.val(p), self.val(v));
            runtime_activity::store(m, &self.b, tv, sp, pp);
            let lost = if v.ty().contains_pointer() {
                runtime_activity::pointers_differ(&self.b, tv, pv)
            } else if v.ty().is_float_or_float_vector() && self.tan(v, k).is_some() {
                Some(self.nonzero(tv))
            } else if self.tan(v, k).is_some() && (v.ty().contains_float() || self.activity.bits.may_be_float(v)) {
                Some(Type::i1(context_of(m)).const_int(1))
            } else {
                None
            };
            if let Some(lost) = lost {
                let eq = runtime_activity::same(&self.b, sp, pp);
                let bad = self.b.and(eq, lost);
                runtime_activity::check(m, &self.b, bad, &self.engine.lost_derivative_text(self.primal));
            }
        }
    }

    /// Whether an access through the primal pointer `p` must check at run time that its shadow
    /// is not `p` itself (see [`crate::runtime_activity`]).
    fn guarded(&self, p: Value) -> bool {
        self.runtime && runtime_activity::may_alias(p, &self.subst)
    }

    /// `i1`: a float tangent (scalar or vector) is not zero.
    fn nonzero(&mut self, t: Value) -> Value {
        let ty = t.ty();
        if ty.is_vector() {
            let m = self.module();
            let n = self.b.fcmp(oxidase_llvm::RealPredicate::LLVMRealUNE, t, ty.zero());
            return emit::intrinsic(m, &self.b, "vector.reduce.or", n.ty(), &[n]);
        }
        self.b.fcmp(oxidase_llvm::RealPredicate::LLVMRealUNE, t, ty.zero())
    }

    /// Tangent code for an active non-call instruction whose primal copy is `c`.
    fn differentiate(&mut self, inst: Value, c: Value) {
        use Opcode::*;
        let w = self.width;
        let lanes: Lanes = match inst.opcode() {
            op if rules::instruction(op).is_some() && !(op == LLVMSelect && self.carries_pointers(inst)) => {
                let rule = rules::instruction(op).unwrap();
                self.apply_rule(inst, rule, &inst.operands(), c);
                return;
            }
            LLVMBitCast | LLVMAddrSpaceCast | LLVMIntToPtr | LLVMPtrToInt | LLVMFreeze => {
                let t = self.lanes(inst.operand(0));
                t.into_iter().map(|t| t.map(|t| self.emit_shadow_like(inst, &[(0, t)]))).collect()
            }
            LLVMLoad if self.guarded(inst.operand(0)) => {
                // The shadow may be the constant memory itself: its floats read as zero.
                let p = self.val(inst.operand(0));
                let t = self.lanes(inst.operand(0));
                let float_bits = !inst.ty().contains_float() && self.activity.bits.may_be_float(inst);
                t.into_iter()
                    .map(|t| {
                        t.map(|t| {
                            let l = self.emit_shadow_like(inst, &[(0, t)]);
                            let eq = runtime_activity::same(&self.b, t, p);
                            let z = if float_bits { inst.ty().zero() } else { crate::reverse::zero_floats(&self.b, l) };
                            self.b.select(eq, z, l)
                        })
                    })
                    .collect()
            }
            LLVMGetElementPtr | LLVMLoad => {
                let t = self.lanes(inst.operand(0));
                t.into_iter().map(|t| t.map(|t| self.emit_shadow_like(inst, &[(0, t)]))).collect()
            }
            LLVMStore => {
                self.store_into_shadow(inst);
                return;
            }
            LLVMAlloca => {
                let bytes = self.map.alloca_bytes(self.module(), &self.b, inst);
                (0..w)
                    .map(|_| {
                        let s = self.map.stack_shadow(&self.b, inst);
                        shadows::zero_fill(&self.b, s, bytes, inst.alignment().max(1));
                        Some(s)
                    })
                    .collect()
            }
            LLVMSelect => {
                let (ta, tb) = (self.lanes(inst.operand(1)), self.lanes(inst.operand(2)));
                (0..w)
                    .map(|k| {
                        if ta[k].is_none() && tb[k].is_none() {
                            return None;
                        }
                        let a = ta[k].unwrap_or_else(|| self.tan_or_zero_in(inst, inst.operand(1), k));
                        let b = tb[k].unwrap_or_else(|| self.tan_or_zero_in(inst, inst.operand(2), k));
                        Some(self.emit_shadow_like(inst, &[(1, a), (2, b)]))
                    })
                    .collect()
            }
            LLVMExtractValue | LLVMExtractElement => {
                let t = self.lanes(inst.operand(0));
                t.into_iter().map(|t| t.map(|t| self.emit_shadow_like(inst, &[(0, t)]))).collect()
            }
            LLVMInsertValue | LLVMInsertElement | LLVMShuffleVector => {
                let (a, b) = (inst.operand(0), inst.operand(1));
                (0..w)
                    .map(|k| {
                        let ta = self.tan_or_zero(a, k);
                        let tb = self.tan_or_zero(b, k);
                        Some(self.emit_shadow_like(inst, &[(0, ta), (1, tb)]))
                    })
                    .collect()
            }
            op => {
                self.error(
                    inst,
                    format!("the instruction `{}` ({op:?}) on differentiated data", describe(inst)),
                    "this operation has no derivative rule yet; please report it",
                );
                return;
            }
        };
        self.set_tangents(inst, lanes);
    }

    /// Whether a `select` chooses between pointers (or integers carrying them, or float bits):
    /// its tangent is the shadow chosen the same way, not a rule's.
    fn carries_pointers(&self, inst: Value) -> bool {
        let ty = inst.ty();
        ty.contains_pointer() || !ty.contains_float() || self.activity.pointer_ints.contains(&inst)
    }

    /// The tangents of `inst` (an instruction or a call of a primitive, copied as `c`) from its
    /// row of the rules table: `Σ ∂y/∂xᵢ·ẋᵢ` over its active float operands.
    fn apply_rule(&mut self, inst: Value, rule: &Rule, args: &[Value], c: Value) {
        let mut active = Vec::new();
        for (i, p) in rule.partials.iter().enumerate() {
            let a = args[i];
            // Integers carry no derivative into a rule (an exponent read from shadowed
            // memory is "active" only as memory contents).
            if !self.activity.is_active(a) || !a.ty().contains_float() {
                continue;
            }
            if let Partial::Inactive = p {
                self.error(inst, format!("a differentiated value flows into operand {i} of `{}`, which is not differentiable", describe(inst)), "make that operand independent of the differentiated inputs");
                return;
            }
            active.push((a, p));
        }
        let xs: Vec<Option<Value>> = args.iter().map(|&a| Some(self.val(a))).collect();
        let lanes = (0..self.width)
            .map(|k| {
                let terms: Vec<(&Partial, Value)> = active.iter().filter_map(|&(a, p)| self.tan(a, k).map(|t| (p, t))).collect();
                emit::Apply { m: self.module(), b: &self.b, xs: &xs, y: Some(c), ty: c.ty() }.tangent(&terms)
            })
            .collect();
        self.set_tangents(inst, lanes);
    }

    fn visit_call(&mut self, call: Value) {
        if crate::zero_test::is_zero_test(call) {
            let x = call.call_args()[0];
            let tangents: Vec<Value> = (0..self.width).filter_map(|k| self.tan(x, k)).collect();
            let c = crate::zero_test::forward_copy(self.module(), &self.b, self.val(x), &tangents);
            self.map.vmap.insert(call, c);
            return;
        }
        let kind = classify(call, &self.subst);
        let args = call.call_args();
        let is_invoke = call.opcode() == Opcode::LLVMInvoke;
        match kind {
            CallKind::Ignored if is_dbg_intrinsic(call) => {}
            // A call is differentiated when an argument is active, or when only its result needs a
            // shadow (a pointer built inside the callee and stored in shadowed memory), directly
            // or through a function pointer (as in reverse mode).
            CallKind::Defined(f) if self.call_touches_shadow(call, kind, &args) => self.call_derivative(call, &[f], false, &args),
            CallKind::Indirect if self.call_touches_shadow(call, kind, &args) && !crate::calls::indirect_candidates(call).is_empty() => {
                self.call_derivative(call, &crate::calls::indirect_candidates(call), true, &args)
            }
            _ if is_invoke => {
                if self.activity.is_active(call) || self.call_touches_shadow(call, kind, &args) {
                    self.error(call, format!("an `invoke` of `{}` on differentiated data", describe(call)), "please report this shape");
                    return;
                }
                self.visit_terminator(call);
            }
            CallKind::Rule(rule) => {
                let c = self.copy_primal(call);
                if self.activity.is_active(call) {
                    self.apply_rule(call, rule, &args, c);
                }
            }
            CallKind::ThreadLocal => {
                self.copy_primal(call);
                if self.activity.is_active(call) {
                    let lanes = (0..self.width)
                        .map(|k| {
                            let g = self
                                .tan(args[0], k)
                                .expect("an active thread-local has a shadow");
                            Some(self.emit_shadow_like(call, &[(0, g)]))
                        })
                        .collect();
                    self.set_tangents(call, lanes);
                }
            }
            CallKind::MemTransfer => {
                self.copy_primal(call);
                let (dst, src) = (args[0], args[1]);
                if self.activity.is_active(dst) && (self.guarded(dst) || self.activity.is_active(src) && self.guarded(src)) {
                    self.guarded_copy(call, &args);
                } else if self.activity.is_active(dst) {
                    for k in 0..self.width {
                        let d = self.tan(dst, k).unwrap();
                        let s = if self.activity.is_active(src) { self.tan(src, k) } else { None };
                        self.map.shadow_memcpy(&self.b, call, d, s, false);
                    }
                }
            }
            CallKind::MemSet => {
                self.copy_primal(call);
                let dst = args[0];
                if self.activity.is_active(dst) {
                    for k in 0..self.width {
                        // Constant fill bytes: zero tangents.
                        let d = self.tan(dst, k).unwrap();
                        let guarded = self.guarded(dst);
                        self.map.shadow_memset(&self.b, call, d, Some(args[1].ty().zero()), guarded);
                    }
                }
            }
            CallKind::Allocation(Alloc::Out) => {
                self.copy_primal(call);
                if self.activity.is_active(args[0]) {
                    // posix_memalign(out, align, size): a zeroed shadow block, its address
                    // written to the shadow of `out`.
                    let m = self.module();
                    let (out, align, size) = (args[0], self.val(args[1]), self.val(args[2]));
                    for k in 0..self.width {
                        let s = crate::heap::aligned_shadow(m, &self.b, align, size);
                        let so = self.tan(out, k).unwrap();
                        if self.guarded(out) {
                            runtime_activity::store(m, &self.b, s, so, self.val(out));
                        } else {
                            self.b.store(s, so);
                        }
                    }
                }
            }
            CallKind::Allocation(alloc) => {
                self.copy_primal(call);
                if self.activity.is_active(call) {
                    self.shadow_allocation(call, alloc, &args);
                }
            }
            CallKind::Deallocation => {
                self.copy_primal(call);
                if self.activity.is_active(args[0]) {
                    for k in 0..self.width {
                        let s = self.tan(args[0], k).unwrap();
                        if self.guarded(args[0]) {
                            // The primal frees it already when the shadow is the block itself.
                            let eq = runtime_activity::same(&self.b, s, self.val(args[0]));
                            let s = self.b.select(eq, s.ty().zero(), s);
                            self.emit_like(call, &[(0, s)]);
                        } else {
                            self.emit_like(call, &[(0, s)]);
                        }
                    }
                }
            }
            _ => {
                if self.call_touches_shadow(call, kind, &args) {
                    self.error(call, format!("the call `{}` on differentiated data", describe(call)), "please report this shape");
                    return;
                }
                self.copy_primal(call);
            }
        }
    }

    fn call_touches_shadow(&self, call: Value, kind: CallKind, args: &[Value]) -> bool {
        shadows::call_touches_shadow(&self.activity, call, kind, args)
    }

    /// The tangents of a heap allocation: a fresh shadow block ([`Mapping::heap_shadow`]),
    /// or for `realloc` the old shadow reallocated alongside (its grown tail zeroed), moved to
    /// a fresh block where it may be the primal block itself ([`Mapping::moved_shadow`]).
    fn shadow_allocation(&mut self, call: Value, alloc: Alloc, args: &[Value]) {
        let m = self.module();
        let ctx = context_of(m);
        let mut lanes = Vec::new();
        for k in 0..self.width {
            if alloc != Alloc::Realloc {
                lanes.push(Some(self.map.heap_shadow(m, &self.b, call, alloc, args)));
                continue;
            }
            let Some(old) = self.tan(args[0], k) else {
                self.error(call, "reallocation of memory that has no shadow".into(), "please report this shape");
                return;
            };
            if self.guarded(args[0]) {
                // The old shadow may be the primal block: a fresh one, and ours freed now.
                let moved = match self.map.moved_shadow(m, &self.b, call, old, true) {
                    Ok(moved) => moved,
                    Err(construct) => return self.error(call, construct, shadows::REALLOC_HINT),
                };
                let has = self.b.icmp(IntPredicate::LLVMIntNE, moved.old, Type::ptr(ctx).zero());
                let free = runtime_activity::call_if(m, moved.dealloc);
                let free_args: &[Value] = if crate::heap::is_c_allocation(call) {
                    &[has, moved.old]
                } else {
                    &[has, moved.old, moved.size, moved.align]
                };
                self.b.call(free.function_type(), free, free_args);
                lanes.push(Some(moved.new));
                continue;
            }
            if crate::heap::is_c_allocation(call) {
                let f = self.val(call.called_value());
                let n = self.val(args[1]);
                lanes.push(Some(crate::heap::realloc_in_place(m, &self.b, f, old, n)));
                continue;
            }
            let name = call.called_function().map(|f| crate::calls::allocator_symbol(&f.name())).unwrap_or_default();
            if !matches!(name.as_str(), "__rust_realloc" | "__rdl_realloc") {
                self.error(call, format!("`{name}` on differentiated memory (its old size is unknown)"), "use Rust's allocator (Vec, Box)");
                return;
            }
            // __rust_realloc(ptr, old_size, align, new_size) on the shadow: zero its grown tail.
            let s = self.emit_like(call, &[(0, old)]);
            let (old_size, new_size) = (self.val(args[1]), self.val(args[3]));
            let grows = self.b.icmp(IntPredicate::LLVMIntUGT, new_size, old_size);
            let diff = self.b.sub(new_size, old_size);
            let len = self.b.select(grows, diff, old_size.ty().zero());
            let start = self.b.select(grows, old_size, new_size);
            let tail = self.b.gep(Type::i8(ctx), s, &[start]);
            shadows::zero_fill(&self.b, tail, len, 1);
            lanes.push(Some(s));
        }
        self.set_tangents(call, lanes);
    }

    /// The derivative request for calling `f` with these arguments.
    fn callee_key(&self, f: Value, args: &[Value]) -> ForwardKey {
        ForwardKey {
            function: f,
            args: args
                .iter()
                .map(|&a| {
                    // A constant table of functions is specialized on even where it has a
                    // shadow (see reverse mode's `callee_key`).
                    if crate::calls::specializes_on(self.val(a)) {
                        ArgActivity::Constant(self.val(a))
                    } else if differentiable_type(a.ty())
                        && (self.activity.is_active(a) || self.activity.shadow_globals.contains(&a))
                    {
                        // A global with a shadow (a constant's zero shadow, which a callee
                        // returning a pointer into it needs) is passed with that shadow.
                        ArgActivity::Dual
                    } else {
                        ArgActivity::Const
                    }
                })
                .collect(),
            width: self.width as u32,
            runtime_activity: self.runtime,
        }
    }

    /// A copy into or out of memory whose shadow may be the primal itself: tangents of
    /// constant floats are zero, nothing is written into constant memory, and a copy of
    /// derivative data into it stops the program.
    fn guarded_copy(&mut self, call: Value, args: &[Value]) {
        let m = self.module();
        let ctx = context_of(m);
        let (dst, src) = (args[0], args[1]);
        let len = self.val(args[2]);
        let zero = len.ty().zero();
        let contents = crate::types::copy_contents(m, call);
        for k in 0..self.width {
            let d = self.tan(dst, k).unwrap();
            let eq_d = runtime_activity::same(&self.b, d, self.val(dst));
            let s = if self.activity.is_active(src) { self.tan(src, k) } else { None };
            let Some(s) = s else {
                let n = self.b.select(eq_d, zero, len);
                self.b.memset(d, Type::i8(ctx).zero(), n, 1);
                continue;
            };
            let eq_s = runtime_activity::same(&self.b, s, self.val(src));
            // Copying shadowed data into constant memory loses it.
            let lost = self.b.and(eq_d, runtime_activity::differs(&self.b, s, self.val(src)));
            let lost = runtime_activity::when_copying(&self.b, lost, len);
            runtime_activity::check(m, &self.b, lost, &self.engine.lost_derivative_text(self.primal));
            match contents {
                Contents::NoFloats => {
                    // Pointers and integers of constant memory are their own shadows.
                    let n = self.b.select(eq_d, zero, len);
                    self.emit_shadow_like(call, &[(0, d), (1, s), (2, n)]);
                }
                Contents::Floats(_) | Contents::FloatsAndIntegers(_) | Contents::Integers(_) => {
                    let skip = self.b.select(eq_d, eq_d, eq_s);
                    let n = self.b.select(skip, zero, len);
                    self.emit_shadow_like(call, &[(0, d), (1, s), (2, n)]);
                    let fill = self.b.select(eq_d, zero, self.b.select(eq_s, len, zero));
                    self.b.memset(d, Type::i8(ctx).zero(), fill, 1);
                }
                Contents::Unknown | Contents::Mixed => {
                    // Constant bytes of unknown type cannot be turned into tangents.
                    let bad = self.b.select(eq_d, Type::i1(ctx).zero(), eq_s);
                    let bad = runtime_activity::when_copying(&self.b, bad, len);
                    runtime_activity::check(m, &self.b, bad, &self.engine.lost_derivative_text(self.primal));
                    let n = self.b.select(eq_d, zero, len);
                    self.emit_shadow_like(call, &[(0, d), (1, s), (2, n)]);
                }
            }
        }
    }

    /// The derivative's arguments for a call with these primal arguments.
    fn derivative_args(&mut self, key: &ForwardKey, args: &[Value]) -> Vec<Value> {
        let mut new_args = Vec::new();
        for (&a, act) in args.iter().zip(&key.args) {
            match act {
                ArgActivity::Constant(_) => {}
                ArgActivity::Const => new_args.push(self.val(a)),
                ArgActivity::Dual => {
                    new_args.push(self.val(a));
                    for k in 0..self.width {
                        let t = self.tan_or_zero(a, k);
                        new_args.push(t);
                    }
                }
            }
        }
        new_args
    }

    /// A call to a defined function with differentiated arguments: call its forward derivative.
    /// `indirect`: a call through a function pointer whose possible targets are `targets`; the
    /// derivative called is the one of the target it points to ([`emit::choose_derivative`]).
    fn call_derivative(&mut self, call: Value, targets: &[Value], indirect: bool, args: &[Value]) {
        let keys: Vec<ForwardKey> = targets.iter().map(|&t| self.callee_key(t, args)).collect();
        // The keys differ only in their function: the arguments are the same for every target.
        let new_args = self.derivative_args(&keys[0], args);
        let fty = derivative_type(&keys[0]);
        let df = if indirect {
            // A possible target that cannot be differentiated refuses only if it is called.
            let m = self.module();
            let mut cases = Vec::new();
            for k in &keys {
                let d = match self.engine.try_forward_function(k) {
                    Ok(d) => d,
                    Err(e) => emit::stop_with_message(m, fty, &emit::indirect_stop_text(self.primal, Some((k.function, &e)))),
                };
                cases.push((k.function, d));
            }
            let unknown = emit::stop_with_message(m, fty, &emit::indirect_stop_text(self.primal, None));
            let callee = self.val(call.called_value());
            emit::choose_derivative(&self.b, callee, &cases, unknown)
        } else {
            self.engine.forward_function(&keys[0])
        };
        let result = if call.opcode() == Opcode::LLVMInvoke {
            let ctx = context_of(self.module());
            let here = call.parent_block();
            let normal = call.normal_dest();
            let cont = Block::append(ctx, self.b.insert_block().parent(), "invoke.cont");
            let unwind = self.map.bmap[&call.unwind_dest()];
            let r = self.b.invoke(fty, df, &new_args, cont, unwind);
            self.edge_from.insert((here, call.unwind_dest()), self.b.insert_block());
            self.b.position_at_end(cont);
            self.edge_from.insert((here, normal), cont);
            self.finish_call_result(call, r);
            self.b.br(self.map.bmap[&normal]);
            return;
        } else {
            self.b.call(fty, df, &new_args)
        };
        self.finish_call_result(call, result);
    }

    fn finish_call_result(&mut self, call: Value, r: Value) {
        if call.ty().is_void() {
            self.map.vmap.insert(call, r);
            return;
        }
        let p = self.b.extract_value(r, 0);
        self.map.vmap.insert(call, p);
        if self.activity.is_active(call) {
            let lanes = (0..self.width).map(|k| Some(self.b.extract_value(r, 1 + k as u32))).collect();
            self.set_tangents(call, lanes);
        }
    }
}

fn is_dbg_intrinsic(call: Value) -> bool {
    call.called_function().is_some_and(|f| f.name().starts_with("llvm.dbg."))
}
