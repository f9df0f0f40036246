//! Reversal of calls: rules-table intrinsics, copies and sets of memory, split derivatives of defined callees (direct or chosen among indirect targets).

use super::*;

/// `void oxidase.adjoint.move.<ty>(ptr dst_shadow, ptr src_shadow, i64 bytes)`: the reversal of
/// copying floats: `src_shadow[i] += dst_shadow[i]; dst_shadow[i] = 0` (no `src_shadow` when
/// it is null: the source was constant).
pub(super) fn adjoint_mover(m: LLVMModuleRef, ty: Type) -> Value {
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

impl Gen<'_> {
    pub(super) fn reverse_call(&mut self, call: Value) {
        let kind = classify(call, &self.subst);
        let args = call.call_args();
        match kind {
            CallKind::Defined(f) if self.call_touches_shadow(call, kind, &args) => self.reverse_defined_call(call, &[f], false, &args),
            CallKind::Indirect if self.call_touches_shadow(call, kind, &args) && !indirect_candidates(call).is_empty() =>
            {
                self.reverse_defined_call(call, &indirect_candidates(call), true, &args)
            }
            CallKind::Rule(rule) => self.apply_rule(call, rule, &args),
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

    /// The reversal of a [`Contents::Mixed`] copy: each float part's adjoint moves from the
    /// destination's shadow to the source's.
    pub(super) fn mixed_copy_reverse(&mut self, call: Value, args: &[Value]) {
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
    pub(super) fn mixed_parts(&mut self, d: Value, layout: &[(u64, u64, Type)], floats: bool, mut each: impl FnMut(&mut Self, u64, Value, Value)) {
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
    pub(super) fn choose_split(&mut self, callee: Value, call: Value, targets: &[Value], args: &[Value], which: usize) -> Value {
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
    pub(super) fn reverse_defined_call(&mut self, call: Value, targets: &[Value], indirect: bool, args: &[Value]) {
        let key = self.callee_key(targets[0], call, args);
        let callee = indirect.then(|| self.primal_at(call.called_value()));
        let rev = match callee {
            Some(callee) => self.choose_split(callee, call, targets, args, 1),
            None => self.engine.split_functions(&key).1,
        };
        // The arguments of the augmented call again; those the reverse function never reads
        // (known once its body is complete: not in a recursion) need not reach this reversal.
        let unread: Vec<bool> = match callee.is_none() && self.engine.body_complete(rev) {
            true => rev.params().iter().skip(1).map(|p| p.users().is_empty()).collect(),
            false => Vec::new(),
        };
        let mut new_args = vec![self.rev_tape];
        for (i, a) in self.aug_args[&call].clone().into_iter().enumerate() {
            let v = if unread.get(i).copied().unwrap_or(false) { a.ty().poison() } else { self.fetch(a) };
            new_args.push(v);
        }
        if takes_seed(&key) {
            let ds = self.take_adjoint(call);
            new_args.extend(ds);
        }
        tape::sync(self.module(), &self.b, self.rev_local, self.rev_tape);
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
