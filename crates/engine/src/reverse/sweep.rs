//! The forward sweep: the primal copied instruction by instruction, with shadow memory for stack slots and pointers mirrored into shadowed memory.

use super::*;

/// `shadow` with its float leaves taken from `old` (what shadow memory held) and its integer
/// leaves from `primal`: the value to store into shadow memory when `primal` is stored.
pub(super) fn mirror_value(b: &Builder, old: Value, primal: Value, shadow: Option<Value>) -> Value {
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
    /// An instruction of a block that cannot reach a return: copied without derivative work.
    pub(super) fn visit_primal_only(&mut self, inst: Value) {
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

    pub(super) fn visit(&mut self, inst: Value) {
        use Opcode::*;
        match inst.opcode() {
            LLVMPHI => {
                let new = self.b.phi(inst.ty());
                self.map.vmap.insert(inst, new);
                let mut shadows = Vec::new();
                if self.has_shadow(inst) {
                    for _ in 0..self.width {
                        shadows.push(self.b.phi(inst.ty()));
                    }
                    self.map.smap.insert(inst, shadows.clone());
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
                    self.map.smap.insert(inst, lanes);
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
    pub(super) fn shadow_through_operand0(&mut self, inst: Value) {
        if !self.has_shadow(inst) {
            return;
        }
        let lanes: Vec<Value> = (0..self.width)
            .map(|k| {
                let s = self.shadow_or_null(inst.operand(0), k);
                self.emit_shadow_like(inst, &[(0, s)])
            })
            .collect();
        self.map.smap.insert(inst, lanes);
    }

    pub(super) fn visit_terminator(&mut self, inst: Value) {
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
            let c = self.b.br(self.map.bmap[&live]);
            self.map.vmap.insert(inst, c);
            c
        } else {
            let c = self.emit_like(inst, &[]);
            self.map.vmap.insert(inst, c);
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
    pub(super) fn mirror_store(&mut self, store: Value) {
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
    pub(super) fn guarded(&self, p: Value) -> bool {
        self.runtime && runtime_activity::may_alias(p, &self.subst)
    }

    /// `len`, or zero when `p`'s shadow `s` is `p` itself (guarded accesses only): the length
    /// of a shadow `memcpy`/`memset` that must not touch constant memory. `p` and `len` are
    /// values of the function being emitted.
    pub(super) fn len_unless_same(&self, s: Value, p: Value, len: Value) -> Value {
        let eq = runtime_activity::same(&self.b, s, p);
        self.b.select(eq, len.ty().zero(), len)
    }

    /// Whether the integers `store` writes land in memory that may hold floats (an enum
    /// payload that is a float in another variant): their shadow is adjoint storage.
    pub(super) fn int_store_into_floats(&self, store: Value) -> bool {
        let (v, p) = (store.operand(0), store.operand(1));
        let m = self.module();
        has_int_leaf(v.ty()) && types::may_hold_floats(m, p, abi_size(m, v.ty()))
    }

    pub(super) fn shadow_alloca(&mut self, inst: Value) {
        let m = self.module();
        let i64t = Type::i64(context_of(m));
        let bytes = self.map.alloca_bytes(m, &self.b, inst);
        let mut lanes = Vec::new();
        for _ in 0..self.width {
            let s = match self.shape {
                Shape::Combined => self.map.stack_shadow(&self.b, inst),
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
            shadows::zero_fill(&self.b, s, bytes, inst.alignment().max(1));
            lanes.push(s);
        }
        self.map.smap.insert(inst, lanes);
    }
}
