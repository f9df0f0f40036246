//! Calls in the forward sweep: allocations and their shadows, deferred frees, `realloc`, copies of mixed layouts, and calls of augmented forward functions.

use super::*;

impl Gen<'_> {
    pub(super) fn visit_call(&mut self, call: Value) {
        if crate::zero_test::is_zero_test(call) {
            self.map.vmap.insert(call, crate::zero_test::reverse_copy(self.module()));
            return;
        }
        let kind = classify(call, &self.subst);
        let args = call.call_args();
        let is_invoke = call.opcode() == Opcode::LLVMInvoke;
        let touches = self.call_touches_shadow(call, kind, &args);
        match kind {
            CallKind::Defined(f) if touches => {
                if !self.call_fused(call, f, &args) {
                    self.call_augmented(call, &[f], false, &args)
                }
            }
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
            CallKind::Ignored | CallKind::IntegerOnly | CallKind::Rule(_) => {
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
                                let guarded = self.guarded(args[0]);
                                if let (Some(s), true) = (s, guarded) {
                                    // Constant memory that is its own shadow keeps its bytes;
                                    // pointers with shadows of their own copied there would
                                    // lose them.
                                    let (pd, ps) = (self.val(args[0]), self.val(args[1]));
                                    let eq = runtime_activity::same(&self.b, d, pd);
                                    let lost = self.b.and(eq, runtime_activity::differs(&self.b, s, ps));
                                    let lost = runtime_activity::when_copying(&self.b, lost, self.val(args[2]));
                                    runtime_activity::check(self.module(), &self.b, lost, &self.engine.lost_derivative_text(self.primal));
                                }
                                // Copied from memory without a shadow (constant data): its
                                // pointers have no shadows, never the primal's own.
                                self.map.shadow_memcpy(&self.b, call, d, s, guarded);
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
                                let guarded = self.guarded(args[0]);
                                self.map.shadow_memset(&self.b, call, d, None, guarded);
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
                    self.map.smap.insert(call, lanes);
                }
            }
            CallKind::Allocation(alloc) => {
                self.copy_primal(call);
                if self.has_shadow(call) {
                    self.shadow_allocation(call, alloc, &args);
                }
            }
            CallKind::Deallocation => {
                if self.modref.deferred_free(call) {
                    // The reversal may read the block again: freed with the tape.
                    let m = self.module();
                    let i64t = Type::i64(context_of(m));
                    let dealloc = self.val(call.called_value());
                    let (size, align) = if args.len() == 3 { (self.val(args[1]), self.val(args[2])) } else { (i64t.zero(), i64t.zero()) };
                    self.defer_free(call, dealloc, self.val(args[0]), size, align);
                } else {
                    self.copy_primal(call);
                }
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
    pub(super) fn shadow_allocation(&mut self, call: Value, alloc: Alloc, args: &[Value]) {
        let m = self.module();
        let lanes = (0..self.width).map(|_| self.map.heap_shadow(m, &self.b, call, alloc, args)).collect();
        self.map.smap.insert(call, lanes);
    }

    /// `realloc` of differentiated memory: the shadow moves to a fresh zeroed block holding a
    /// copy of the old shadow ([`Mapping::moved_shadow`]); the old shadow stays alive for the
    /// reverse sweep (its free is deferred). The reversal copies the adjoints back.
    pub(super) fn shadow_realloc(&mut self, call: Value, args: &[Value]) {
        let m = self.module();
        self.copy_primal(call);
        let guarded = self.guarded(args[0]);
        let mut lanes = Vec::new();
        for k in 0..self.width {
            let old = self.shadow_or_null(args[0], k);
            let moved = match self.map.moved_shadow(m, &self.b, call, old, guarded) {
                Ok(moved) => moved,
                Err(construct) => return self.error(call, construct, shadows::REALLOC_HINT),
            };
            self.defer_free(call, moved.dealloc, moved.old, moved.size, moved.align);
            lanes.push(moved.new);
        }
        self.map.smap.insert(call, lanes);
    }

    /// Defers `dealloc(ptr, size, align)` to the release of the tape (refused in arena mode,
    /// whose caches never allocate).
    fn defer_free(&mut self, call: Value, dealloc: Value, ptr: Value, size: Value, align: Value) {
        if self.engine.options.tape_arena {
            self.error(
                call,
                "a block the primal frees while the reversal still needs it (arena mode: its shadow would be freed at the end of the call)".into(),
                "in arena mode (GPU kernels) a derivative keeps nothing on the heap: allocate the block outside the differentiated function",
            );
            return;
        }
        self.tape_used = true;
        tape::defer_free(self.module(), &self.b, self.tape, dealloc, ptr, size, align);
    }

    /// The primal frees a block whose shadow the reverse sweep still needs: the shadow's free
    /// runs when the tape is released.
    pub(super) fn defer_shadow_free(&mut self, call: Value, args: &[Value]) {
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
            self.defer_free(call, dealloc, s, size, align);
        }
    }

    pub(super) fn call_touches_shadow(&self, call: Value, kind: CallKind, args: &[Value]) -> bool {
        shadows::call_touches_shadow(&self.activity, call, kind, args)
    }

    pub(super) fn callee_key(&self, f: Value, call: Value, args: &[Value]) -> ReverseKey {
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
            preserved: self.modref.preserved_args(call),
            // Called from a loop (here or further up): its frees are not deferred.
            repeated: self.key.repeated || self.cyclic.contains(&call.parent_block()),
        }
    }

    /// A call of a defined function on differentiated data: its augmented forward function now,
    /// its reverse function in the reversal. `indirect`: a call through a function pointer whose
    /// possible targets are `targets`; the one called is chosen by the pointer
    /// ([`emit::choose_derivative`]).
    pub(super) fn call_augmented(&mut self, call: Value, targets: &[Value], indirect: bool, args: &[Value]) {
        let key = self.callee_key(targets[0], call, args);
        if let Some(i) = mixed_argument(&key, args) {
            self.error(call, format!("argument {i} of `{}` mixes pointers and differentiated floats in one value", describe(call)), "pass them as separate arguments");
            return;
        }
        let mut new_args = self.derivative_args(args, &key);
        self.aug_args.insert(call, new_args.iter().copied().filter(|a| passed_again(a.ty())).collect());
        self.tape_used = true;
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
            let unwind = self.map.bmap[&call.unwind_dest()];
            let r = self.b.invoke(fty, aug, &new_args, cont, unwind);
            self.edge_from.insert((here, call.unwind_dest()), self.b.insert_block());
            self.b.position_at_end(cont);
            tape::sync(self.module(), &self.b, self.tape, self.fwd_local);
            self.finish_call_result(call, r, &key);
            let br = self.b.br(self.map.bmap[&normal]);
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

    /// A call whose reversal would come right after it: the last thing a block that runs at
    /// most once does before returning, its result only stored (into memory that exists before
    /// the call) or returned. Nothing runs between the call and its reversal but the reversal
    /// of that store (or the return), which only reads the result's adjoint: that adjoint is
    /// read now, and the callee's combined derivative runs in place of the call, the primal and
    /// its reversal in one (the callee keeps what its reversal needs in registers, not on the
    /// tape). The stable route's shim, which calls the user's function and stores its result,
    /// differentiates as the function itself. Not where the callee may free memory it did not
    /// allocate ([`crate::modref::frees_only_own_blocks`]) unless the caller's reversal
    /// touches nothing the callee can reach ([`Gen::reversal_out_of_reach`]).
    ///
    /// Whether it applied; otherwise nothing was emitted.
    pub(super) fn call_fused(&mut self, call: Value, f: Value, args: &[Value]) -> bool {
        let Some(store) = self.fusion_site(call) else { return false };
        // The caller's reversal may still read what the callee frees: its split derivative
        // keeps it (and its shadow) until the tape is released, a combined one only until it
        // returns. (The caller's own scan first: it is the cheaper one.)
        if !self.reversal_out_of_reach(call, store) && !crate::modref::frees_only_own_blocks(f) {
            return false;
        }
        let key = ReverseKey { preserved: Vec::new(), ..self.callee_key(f, call, args) };
        // Mixed values are left to the augmented call, which reports them.
        if matches!(key.ret, RevRet::FloatBits(_)) || self.has_shadow(call) || mixed_argument(&key, args).is_some() {
            return false;
        }
        let mut new_args = self.derivative_args(args, &key);
        // Then the result's adjoint: what the return seeds, and what the store's destination
        // holds (taken, as the store's reversal would: the memory is overwritten).
        let ty = call.ty();
        let returned = call.users().into_iter().any(|u| u.opcode() == Opcode::LLVMRet);
        let mut d = (returned && self.key.ret == RevRet::Active).then(|| self.seeds.first().copied()).flatten();
        if let Some(p) = store.map(|st| st.operand(1)).filter(|&p| self.activity.is_active(p)) {
            if let Some(sp) = self.shadow(p, 0) {
                let held = self.take_shadow(p, sp, ty, true);
                d = Some(match d {
                    Some(d) => add_adjoints(&self.b, d, held),
                    None => held,
                });
            }
        }
        if key.ret == RevRet::Active {
            new_args.push(d.unwrap_or_else(|| ty.zero()));
        }
        let derivative = self.engine.reverse_functions(&key, Shape::Combined)[0];
        let r = self.b.call(combined_type(&key, false), derivative, &new_args);
        let mut i = 0;
        if ty.is_void() {
            self.map.vmap.insert(call, r);
        } else {
            let p = self.b.extract_value(r, 0);
            self.map.vmap.insert(call, p);
            i = 1;
        }
        for (&a, act) in args.iter().zip(&key.args) {
            if *act == RevArg::Active {
                let d = self.b.extract_value(r, i);
                i += 1;
                self.accumulate(a, 0, d);
            }
        }
        self.fused.insert(call);
        self.fused.extend(store);
        self.stats.fused += 1;
        true
    }

    /// Where `call` may be fused ([`Gen::call_fused`]): `Some(store of its result)` (or
    /// `Some(None)`: returned or unused) when it is a plain call, the last thing its block does
    /// before returning, that block runs at most once, and the result is only returned or
    /// stored as a float into memory that exists before the call.
    fn fusion_site(&self, call: Value) -> Option<Option<Value>> {
        use Opcode::*;
        // One seed per lane would need a combined derivative per lane; an arena derivative
        // takes the arena; guarded shadows check every access.
        if self.shape != Shape::Combined || self.runtime || self.width != 1 || self.engine.options.tape_arena {
            return None;
        }
        let b = call.parent_block();
        if call.opcode() != LLVMCall || self.cyclic.contains(&b) {
            return None;
        }
        let insts = b.instructions();
        let after = &insts[insts.iter().position(|&i| i == call)? + 1..];
        let mut store = None;
        for &i in after {
            match i.opcode() {
                LLVMRet => {}
                LLVMStore if i.operand(0) == call && store.is_none() && !i.is_volatile() => store = Some(i),
                LLVMCall if matches!(classify(i, &self.subst), CallKind::Ignored) && !i.call_args().contains(&call) => {}
                _ => return None,
            }
        }
        if after.last().map(|t| t.opcode()) != Some(LLVMRet) || !call.users().into_iter().all(|u| Some(u) == store || u.opcode() == LLVMRet) {
            return None;
        }
        if let Some(st) = store {
            let (p, ty) = (st.operand(1), call.ty());
            let defined_after = p.is_instruction() && after.contains(&p);
            if defined_after || self.guarded(p) || !ty.contains_float() || ty.contains_pointer() {
                return None;
            }
        }
        Some(store)
    }

    /// Whether the reversal of everything but `call` (and the `store` of its result) touches
    /// only memory `call` cannot reach: every other access of the function is a load from
    /// objects private to it ([`crate::modref::ModRef::points_to_private`]), as the stable
    /// route's shim reads its argument tuples.
    fn reversal_out_of_reach(&self, call: Value, store: Option<Value>) -> bool {
        use Opcode::*;
        self.primal.blocks().into_iter().flat_map(|b| b.instructions()).all(|i| {
            if i == call || Some(i) == store {
                return true;
            }
            match i.opcode() {
                LLVMLoad => !i.is_volatile() && self.modref.points_to_private(i.operand(0)),
                LLVMStore | LLVMAtomicRMW | LLVMAtomicCmpXchg | LLVMFence | LLVMVAArg => false,
                LLVMCall | LLVMInvoke | LLVMCallBr => matches!(classify(i, &self.subst), CallKind::Ignored),
                _ => true,
            }
        })
    }

    /// The arguments of a callee's derivative for `key`: each primal argument (a `Constant` one
    /// dropped), a `Duplicated` one followed by its shadows.
    fn derivative_args(&mut self, args: &[Value], key: &ReverseKey) -> Vec<Value> {
        let mut out = Vec::new();
        for (&a, act) in args.iter().zip(&key.args) {
            match act {
                RevArg::Constant(_) => {}
                RevArg::Const | RevArg::Active => out.push(self.val(a)),
                RevArg::Duplicated => {
                    out.push(self.val(a));
                    for k in 0..self.width {
                        let s = self.shadow_or_null(a, k);
                        out.push(s);
                    }
                }
            }
        }
        out
    }

    pub(super) fn finish_call_result(&mut self, call: Value, r: Value, key: &ReverseKey) {
        if call.ty().is_void() {
            self.map.vmap.insert(call, r);
            return;
        }
        let p = self.b.extract_value(r, 0);
        self.map.vmap.insert(call, p);
        if returns_shadow(key) {
            let lanes = (0..self.width).map(|k| self.b.extract_value(r, 1 + k as u32)).collect();
            self.map.smap.insert(call, lanes);
        }
    }

    // ---- reverse sweep ----

    /// The forward sweep of a copy of floats beside pointers ([`Contents::Mixed`]): the shadow of
    /// each part that is not a float is copied (pointers' shadows, integers), or zeroed when
    /// the source has no shadow; the floats' shadows hold adjoints, moved by the reversal.
    pub(super) fn mixed_copy_forward(&mut self, call: Value, args: &[Value]) {
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
}

/// The first argument of a call whose activity in `key` mixes pointers and differentiated floats
/// in one value (a `Duplicated` non-pointer, an `Active` value holding a pointer).
fn mixed_argument(key: &ReverseKey, args: &[Value]) -> Option<usize> {
    key.args.iter().zip(args).position(|(act, a)| {
        let ty = a.ty();
        *act == RevArg::Duplicated && !ty.is_pointer() || *act == RevArg::Active && ty.contains_pointer()
    })
}
