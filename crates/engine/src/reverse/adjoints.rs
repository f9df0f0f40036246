//! Adjoints: their slots, accumulation, and the reversal of each instruction (rules-table partials, memory, aggregates, vectors).

use super::*;

/// Sum of two adjoints of type `ty` (floats, float vectors, aggregates of them; other leaves are
/// kept from `a`).
///
/// The sum may be reassociated and the sign of a zero ignored (`reassoc nsz`): the order in which
/// the contributions to one adjoint are added is the derivative's own choice, not the primal
/// program's, and leaving it free lets the optimizer vectorize an adjoint accumulated across a
/// loop (Σ_r L[r][c]·dy[r] for the reversal of `y[r] += L[r][c]·x[c]`), which would otherwise be
/// one serial chain of additions; a zero adjoint is a zero of either sign, so `0.0 + d` (a
/// shadow cleared by a store's reversal, then accumulated into) folds to `d`.
pub(crate) fn add_adjoints(b: &Builder, a: Value, d: Value) -> Value {
    let ty = a.ty();
    if ty.is_float_or_float_vector() {
        let s = b.fadd(a, d);
        s.allow_reassoc();
        return s;
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

pub(super) fn has_int_leaf(ty: Type) -> bool {
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

impl Gen<'_> {
    pub(super) fn adjoint_slots(&mut self, v: Value) -> Vec<Value> {
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
    pub(super) fn accumulate(&mut self, v: Value, k: usize, d: Value) {
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
    pub(super) fn take_adjoint(&mut self, v: Value) -> Vec<Value> {
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

    pub(super) fn reverse_inst(&mut self, inst: Value) {
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
                    let st = self.b.store(new, sp);
                    self.tag_shadow_access(p, &[old, st]);
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
            op if rules::instruction(op).is_some() => {
                let rule = rules::instruction(op).unwrap();
                self.apply_rule(inst, rule, &inst.operands());
            }
            LLVMBitCast | LLVMFreeze => {
                let ds = self.take_adjoint(inst);
                let a = inst.operand(0);
                for (k, d) in ds.into_iter().enumerate() {
                    // `accumulate` reinterprets `d` as the operand's adjoint type (same size).
                    self.accumulate(a, k, d);
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
    pub(super) fn shuffle_lanes(&self, inst: Value) -> Option<u32> {
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

    pub(super) fn extract_path(&mut self, agg: Value, idx: &[u32]) -> Value {
        idx.iter().fold(agg, |a, &i| self.b.extract_value(a, i))
    }

    pub(super) fn insert_path(&mut self, agg: Value, v: Value, idx: &[u32]) -> Value {
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

    pub(super) fn reverse_store(&mut self, store: Value) {
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
    pub(super) fn take_shadow(&mut self, p: Value, sp: Value, ty: Type, active: bool) -> Value {
        if !self.guarded(p) {
            let d = self.b.load(ty, sp);
            let cleared = zero_floats(&self.b, d);
            let st = self.b.store(cleared, sp);
            self.tag_shadow_access(p, &[d, st]);
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

    /// A rule's partial derivative in the reversal: carries only the operands it reads.
    /// The adjoints of `inst`'s operands (an instruction or a call of a primitive) from its
    /// row of the rules table: `x̄ᵢ += ∂y/∂xᵢ·ȳ` for each operand with an adjoint.
    pub(super) fn apply_rule(&mut self, inst: Value, rule: &Rule, args: &[Value]) {
        if !self.has_adjoint(inst) {
            return;
        }
        let mut partials = vec![None; args.len()];
        for (i, p) in rule.partials.iter().enumerate() {
            if !self.has_adjoint(args[i]) {
                continue;
            }
            if let Partial::Inactive = p {
                self.error(inst, format!("a differentiated value flows into operand {i} of `{}`, which is not differentiable", describe(inst)), "make that operand independent of the differentiated inputs");
                return;
            }
            partials[i] = Some(p);
        }
        let ds = self.take_adjoint(inst);
        let (mut used, mut uses_y) = (Vec::new(), false);
        for p in partials.iter().flatten() {
            if let Partial::D(e) = p {
                emit::uses(e, &mut used, &mut uses_y);
            }
        }
        let mut xs = vec![None; args.len()];
        for i in used {
            let i = i as usize;
            if xs[i].is_none() {
                xs[i] = Some(self.primal_at(args[i]));
            }
        }
        let y = if uses_y { Some(self.primal_at(inst)) } else { None };
        let types: Vec<Type> = args.iter().map(|&a| self.adjoint_type(a).unwrap_or(a.ty())).collect();
        let ty = self.adjoint_type(inst).unwrap_or(inst.ty());
        for (k, d) in ds.into_iter().enumerate() {
            let apply = emit::Apply { m: self.module(), b: &self.b, xs: &xs, y, ty };
            let adjoints = apply.adjoints(&partials, d, &types);
            for (&a, adj) in args.iter().zip(adjoints) {
                if let Some(adj) = adj {
                    self.accumulate(a, k, adj);
                }
            }
        }
    }
}
