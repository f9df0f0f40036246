//! Loop buffers: the values a counted loop's reversal needs from each of its iterations, kept
//! in one block of the tape reserved when the loop is entered.
//!
//! A loop whose trip count is bounded on entry ([`crate::cfg::TripBound`]: an exit test against
//! a value from before the loop, run in every iteration) gets a buffer of `bound × stride`
//! bytes, reserved on the tape on the edge into its header (one growth check per execution of
//! the loop, none per iteration). A block of the loop that runs exactly once per iteration
//! (it dominates the latch and is on no cycle inside the loop) stores each value at
//! `buffer + iteration × stride + slot`, where `iteration` is the primary induction variable's
//! count; the reversal loads it from the same place, with the count it keeps anyway to run the
//! loop backwards (the tape's chunks never move, [`crate::tape`]). The buffer's address is kept
//! once per execution of the loop
//! (handed over on its exits like [`Gen::fetch_per_loop`]'s values), and the reversal pops the
//! buffer, with everything above it, when it leaves the loop through its preheader.
//!
//! Iterations are independent stores and loads at computed addresses: no length updated per
//! iteration, nothing that stops vectorization. Blocks that run in some iterations only (the
//! buffer would hold a row for every iteration), blocks inside an inner cycle without a
//! counted induction variable, loops that call a derivative (whose values go on the tape in
//! every iteration anyway), and loops with an exit to a returning block that is not a
//! counting one (an early `break`/`return`: its bound could be far above what runs) keep the
//! tape.

use super::*;


/// A loop whose per-iteration values go into a buffer.
pub(super) struct LoopBuffer {
    trip: TripBound,
    /// The forward block on the edge into the header: where the buffer is reserved.
    enter: Block,
    /// The buffer's address (on the tape, which never moves it): forward slot, reverse slot.
    fwd_base: Value,
    rev_base: Value,
    /// Bytes of a row so far: values at their natural alignment (a flag takes one byte, not a
    /// tape entry's eight).
    stride: u64,
    /// The largest alignment in a row: rows follow each other at that alignment (a row of
    /// one flag takes one byte).
    align: u64,
    /// Loads in the reversal waiting for their address: (load, byte within an iteration's
    /// row).
    loads: Vec<(Value, u64)>,
    /// Reversal blocks that leave the loop backwards (into its preheader's reversal).
    leaves: Vec<Block>,
}

/// Most bytes a buffer asks for: beyond that the reservation fails (and the tape traps) rather
/// than the size wrapping around.
const MAX_BUFFER_BYTES: u64 = 1 << 62;

impl Gen<'_> {
    /// Before the forward phis are filled: which counted loops get a buffer, and the forward
    /// edge into each such loop's header split to hold the reservation.
    pub(super) fn plan_buffers(&mut self, cfg: &Cfg) {
        let ctx = context_of(self.module());
        self.buffers = (0..self.loops.len()).map(|_| None).collect();
        for li in 0..self.loops.len() {
            let l = &self.loops[li];
            if !self.activity.returning.contains(&l.header) || l.iv.ty().is_int() && l.iv.ty().int_width() > 64 {
                continue;
            }
            // Every exit that can go on to a return is a counting one.
            let returning: Vec<(Block, Block)> = l.exits.iter().copied().filter(|(_, o)| self.activity.returning.contains(o)).collect();
            let Some(trip) = l.trips.iter().find(|t| returning.contains(&t.exit)).copied() else { continue };
            if !returning.iter().all(|e| l.trips.iter().any(|t| t.exit == *e)) {
                continue;
            }
            if trip.iv.0.ty().is_int() && trip.iv.0.ty().int_width() > 64 {
                continue;
            }
            // A loop that calls a derivative keeps the tape: the callee pushes inside every
            // iteration anyway, and its values beside the caller's are what the reversal reads
            // next (det's recursive minors ran 35% slower with the caller's rows apart).
            if self.calls_derivative(l) {
                continue;
            }
            let (pre, header) = (l.preheader, l.header);
            let enter = match self.loop_exits.contains_key(&(pre, header)) {
                // Also the exit of another loop: that edge is split already.
                true => self.edge_from[&(pre, header)],
                false => {
                    let Some(&t) = self.save_point.get(&pre) else { continue };
                    if t.opcode() != Opcode::LLVMBr {
                        continue;
                    }
                    let target = self.map.bmap[&header];
                    let e = self.split_forward_edge(pre, target, "loop.enter");
                    self.b.br(target);
                    self.edge_from.insert((pre, header), e);
                    e
                }
            };
            let fwd_base = self.fwd_slots_b.alloca(Type::ptr(ctx));
            let rev_base = self.slots_b.alloca(Type::ptr(ctx));
            self.buffers[li] = Some(LoopBuffer { trip, enter, fwd_base, rev_base, stride: 0, align: 1, loads: Vec::new(), leaves: Vec::new() });
        }
        // Blocks that run exactly once per iteration of their innermost counted loop (they
        // dominate its latch, and lie on no cycle inside it), when that loop has a buffer. A
        // block that runs only in some iterations keeps the tape: a row in every iteration
        // for it could take far more memory than the iterations that run it (a running
        // minimum updated a handful of times in a thousand iterations).
        for &b in self.map.bmap.keys() {
            let Some((li, l)) = self.loops.iter().enumerate().filter(|(_, l)| l.body.contains(&b)).min_by_key(|(_, l)| l.body.len()) else {
                continue;
            };
            if self.buffers[li].is_some() && cfg.dominates(b, l.latch) && !on_inner_cycle(b, l) {
                self.buffered_in.insert(b, li);
            }
        }
    }

    /// Whether the loop body calls a function that is differentiated (an active call of a
    /// defined function or through a pointer): its split derivative keeps values on the tape.
    fn calls_derivative(&self, l: &CountedLoop) -> bool {
        l.body.iter().flat_map(|b| b.instructions()).any(|i| {
            matches!(i.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke)
                && matches!(classify(i, &self.subst), CallKind::Defined(_) | CallKind::Indirect)
                && (self.activity.is_active(i) || (0..i.num_operands()).any(|k| self.activity.is_active(i.operand(k))))
        })
    }

    /// The reversal of a block in loop `li` needs `fv` from the same iteration: a load from the
    /// loop's buffer, addressed once the row's layout is known ([`Gen::finish_buffers`]).
    /// Returns the load, the value's byte in the row, and its size.
    pub(super) fn fetch_buffered(&mut self, li: usize, fv: Value) -> (Value, u64, u64) {
        let m = self.module();
        let (size, align) = layout(m, fv.ty());
        let buf = self.buffers[li].as_mut().expect("a buffered loop");
        let at = buf.stride.next_multiple_of(align);
        buf.stride = at + size;
        buf.align = buf.align.max(align);
        let load = self.hb.load(fv.ty(), Type::ptr(context_of(m)).undef());
        load.set_alignment(align as u32);
        self.buffers[li].as_mut().unwrap().loads.push((load, at));
        self.tape_tag(load);
        (load, at, size)
    }

    /// The reversal of the header of loop `li` leaves the loop backwards from the block being
    /// built: the buffer comes off there.
    pub(super) fn note_buffer_leave(&mut self, li: usize, at: Block) {
        if let Some(buf) = self.buffers[li].as_mut() {
            buf.leaves.push(at);
        }
    }

    /// The iteration of loop `li` being run (forward) or reversed, from its primary induction
    /// variable: `(iv - start) / step`, as an `i64`.
    pub(super) fn iteration_count(&self, b: &Builder, li: usize, forward: bool) -> Value {
        let ctx = context_of(self.module());
        let i64t = Type::i64(ctx);
        let l = &self.loops[li];
        let (iv, start) = if forward {
            (self.val(l.iv), self.val(l.start))
        } else {
            let (riv, rstart) = self.loop_slots[li];
            (b.load(l.iv.ty(), riv), rstart.map(|rs| b.load(l.iv.ty(), rs)).unwrap_or(l.start))
        };
        let diff = if l.iv.ty().is_pointer() {
            let (a, s) = (b.cast(Opcode::LLVMPtrToInt, iv, i64t), b.cast(Opcode::LLVMPtrToInt, start, i64t));
            if l.step > 0 { b.sub(a, s) } else { b.sub(s, a) }
        } else {
            let d = if l.step > 0 { b.sub(iv, start) } else { b.sub(start, iv) };
            match l.iv.ty().int_width() {
                64 => d,
                w if w < 64 => b.cast(Opcode::LLVMZExt, d, i64t),
                _ => b.cast(Opcode::LLVMTrunc, d, i64t),
            }
        };
        match l.step.unsigned_abs() {
            1 => diff,
            // A pointer moves by whole steps, so the distance is a multiple of one (addresses
            // computed from the count then fold back into the distance itself).
            n if l.iv.ty().is_pointer() => b.udiv_exact(diff, i64t.const_int(n)),
            n => b.udiv(diff, i64t.const_int(n)),
        }
    }

    /// Where the value at byte `at` of the current row of loop `li`'s buffer lives.
    fn buffer_address(&self, b: &Builder, li: usize, at: u64, forward: bool) -> Value {
        let m = self.module();
        let ctx = context_of(m);
        let i64t = Type::i64(ctx);
        let buf = self.buffers[li].as_ref().unwrap();
        let slot = if forward { buf.fwd_base } else { buf.rev_base };
        let base = b.load(Type::ptr(ctx), slot);
        let count = self.iteration_count(b, li, forward);
        let row = b.mul(count, i64t.const_int(buf.row_bytes()));
        b.gep(Type::i8(ctx), base, &[b.add(row, i64t.const_int(at))])
    }

    /// The loops whose buffer holds something (a loop whose reversal needs nothing from its
    /// iterations keeps no buffer).
    fn used_buffers(&self) -> Vec<usize> {
        (0..self.buffers.len()).filter(|&li| self.buffers[li].as_ref().is_some_and(|b| b.stride > 0)).collect()
    }

    /// After the reverse sweep, when each buffer's row is complete: the addresses of the
    /// reversal's loads, the pops where the reversal leaves the loops, and the offsets kept
    /// once per execution of the loop (handed over on its exits).
    pub(super) fn finish_buffers(&mut self) {
        let m = self.module();
        let ctx = context_of(m);
        for li in self.used_buffers() {
            let buf = self.buffers[li].as_ref().unwrap();
            let (fwd_base, rev_base) = (buf.fwd_base, buf.rev_base);
            let (loads, leaves) = (buf.loads.clone(), buf.leaves.clone());
            let b = Builder::new(ctx);
            // Reverse: loads addressed by the iteration being reversed.
            for (load, at) in loads {
                b.position_before(load);
                let addr = self.buffer_address(&b, li, at, false);
                load.set_operand(0, addr);
            }
            for leave in leaves {
                match leave.first_instruction() {
                    Some(i) => b.position_before(i),
                    None => b.position_at_end(leave),
                }
                let base = b.load(Type::ptr(ctx), rev_base);
                tape::pop_to(m, &b, self.rev_local, base);
            }
            // The address is kept once per execution of the loop (the type is what counts).
            self.loop_kept[li].push((Type::ptr(ctx).zero(), fwd_base, rev_base));
            self.stats.buffered_loops += 1;
        }
    }

    /// The reservations on the forward edges into the loops with a buffer: `visits × stride`
    /// bytes. After the values kept per loop execution are handed over, so that on an edge
    /// that leaves one loop and enters another, the loop left hands over first and the
    /// reversal, which pops the entered loop's buffer first, finds them right below it.
    pub(super) fn reserve_buffers(&mut self) {
        let m = self.module();
        let ctx = context_of(m);
        let i64t = Type::i64(ctx);
        for li in self.used_buffers() {
            let buf = self.buffers[li].as_ref().unwrap();
            let (trip, enter, fwd_base, stride) = (buf.trip, buf.enter, buf.fwd_base, buf.row_bytes());
            let b = Builder::new(ctx);
            b.position_before(enter.terminator().expect("the edge into a loop ends in its branch"));
            let visits = self.visits(&b, &trip, self.val(trip.iv.1), self.val(trip.bound));
            let most = i64t.const_int(MAX_BUFFER_BYTES / stride);
            let visits = b.select(b.icmp(IntPredicate::LLVMIntULT, visits, most), visits, most);
            // The tape keeps its length a multiple of 8.
            let bytes = b.and(b.add(b.mul(visits, i64t.const_int(stride)), i64t.const_int(7)), i64t.const_int(!7u64));
            let base = tape::reserve_block(m, &b, self.fwd_local, bytes);
            b.store(base, fwd_base);
            self.tape_used = true;
        }
    }

    /// Stores the forward value `fv` into the current row of loop `li`'s buffer, at the save
    /// point of one of its blocks.
    pub(super) fn store_buffered(&mut self, li: usize, at: u64, fv: Value) {
        let addr = self.buffer_address(&self.b, li, at, true);
        let st = self.b.store(fv, addr);
        st.set_alignment(layout(self.module(), fv.ty()).1 as u32);
        self.tag(st, &[Space::Tape]);
    }

    /// An induction variable of type `ty` moved by `n` (an `i64`, possibly negative) steps of
    /// `step` (bytes, for a pointer) from `from`.
    pub(super) fn steps_from(&self, b: &Builder, ty: Type, step: i64, from: Value, n: Value) -> Value {
        let ctx = context_of(self.module());
        if ty.is_pointer() {
            return b.gep(Type::i8(ctx), from, &[b.mul(n, Type::i64(ctx).const_int(step as u64))]);
        }
        let n = match ty.int_width() {
            64 => n,
            w if w < 64 => b.cast(Opcode::LLVMTrunc, n, ty),
            _ => b.cast(Opcode::LLVMSExt, n, ty),
        };
        b.add(from, b.mul(n, ty.const_int(step as u64)))
    }

    /// The value `trip`'s variable has in the last header run of one execution of the loop
    /// that leaves through `trip`'s exit, starting at `start` and tested against `bound`, when
    /// the test says it without counting:
    /// - an inequality leaves when the value it compares meets the bound;
    /// - an ordered test on an integer stepping by ±1 leaves at once when its first test
    ///   fails (the start stays); otherwise the variable passes through every value up to the
    ///   first one the test refuses: the bound itself (`<`, `>`), or one step beyond (`<=`,
    ///   `>=`). This holds for a variable that wraps around too ([`TripBound::may_wrap`]): a
    ///   first step that wraps lands on the near side of the bound and walks up to it.
    pub(super) fn last_iv(&self, b: &Builder, trip: &TripBound, start: Value, bound: Value) -> Option<Value> {
        use IntPredicate::*;
        let i64t = Type::i64(context_of(self.module()));
        let (phi, _, step) = trip.iv;
        let (one, back) = (i64t.const_int(1), i64t.const_int(u64::MAX));
        match trip.test {
            TripTest::Differs if trip.next => Some(self.steps_from(b, phi.ty(), step, bound, back)),
            TripTest::Differs => Some(bound),
            TripTest::Before { signed } | TripTest::UpTo { signed } if step.unsigned_abs() == 1 && phi.ty().is_int() => {
                let strict = matches!(trip.test, TripTest::Before { .. });
                let go_on = match (step > 0, signed, strict) {
                    (true, false, true) => LLVMIntULT,
                    (true, true, true) => LLVMIntSLT,
                    (true, false, false) => LLVMIntULE,
                    (true, true, false) => LLVMIntSLE,
                    (false, false, true) => LLVMIntUGT,
                    (false, true, true) => LLVMIntSGT,
                    (false, false, false) => LLVMIntUGE,
                    (false, true, false) => LLVMIntSGE,
                };
                let first = if trip.next { self.steps_from(b, phi.ty(), step, start, one) } else { start };
                let passes = b.icmp(go_on, first, bound);
                // The first value the test refuses, and the variable when it is compared.
                let refused = if strict { bound } else { self.steps_from(b, phi.ty(), step, bound, one) };
                let last = if trip.next { self.steps_from(b, phi.ty(), step, refused, back) } else { refused };
                Some(b.select(passes, last, start))
            }
            _ => None,
        }
    }

    /// An upper bound on the header runs of one execution of the loop whose variable starts at
    /// `start` and is tested against `bound` (both as the builder's function sees them): exact
    /// when the loop leaves through the exit of `trip`.
    pub(super) fn visits(&self, b: &Builder, trip: &TripBound, start: Value, bound: Value) -> Value {
        let ctx = context_of(self.module());
        let i64t = Type::i64(ctx);
        let (phi, _, step) = trip.iv;
        let ty = phi.ty();
        let up = step > 0;
        let s = step.unsigned_abs();
        // An ordered test stepping by ±1: from the start to where it leaves, modulo the
        // variable's range (it may wrap around); every value of a 64-bit range (a count that
        // wraps to 0) is as good as forever, and the reservation refuses it.
        if matches!(trip.test, TripTest::Before { .. } | TripTest::UpTo { .. }) && s == 1 && ty.is_int() {
            let last = self.last_iv(b, trip, start, bound).expect("an ordered test stepping by one");
            let dist = if up { b.sub(last, start) } else { b.sub(start, last) };
            let dist = match ty.int_width() {
                w if w < 64 => b.cast(Opcode::LLVMZExt, dist, i64t),
                _ => dist,
            };
            let n = b.add(dist, i64t.const_int(1));
            return b.select(b.icmp(IntPredicate::LLVMIntEQ, n, i64t.zero()), i64t.const_int(u64::MAX), n);
        }
        let (mut start, mut bound) = (start, bound);
        if ty.is_pointer() {
            start = b.cast(Opcode::LLVMPtrToInt, start, i64t);
            bound = b.cast(Opcode::LLVMPtrToInt, bound, i64t);
        }
        // The distance from the start to the bound in the direction of the step: clamped at
        // zero for an ordered test, modular for an inequality (which must meet the bound).
        let dist = match trip.test {
            TripTest::Differs => {
                if up { b.sub(bound, start) } else { b.sub(start, bound) }
            }
            TripTest::Before { signed } | TripTest::UpTo { signed } => {
                use IntPredicate::*;
                let p = match (up, signed) {
                    (true, false) => LLVMIntUGT,
                    (true, true) => LLVMIntSGT,
                    (false, false) => LLVMIntULT,
                    (false, true) => LLVMIntSLT,
                };
                let far = b.select(b.icmp(p, bound, start), bound, start);
                if up { b.sub(far, start) } else { b.sub(start, far) }
            }
        };
        // Comparing the next value: the loop leaves after the run whose next value meets the
        // bound, `(dist - s) / s + 1` runs, modular (a start already at the bound never meets
        // it again before wrapping around: a huge count, which the reservation refuses).
        let dist = match (trip.test, trip.next) {
            (TripTest::Differs, true) => b.sub(dist, dist.ty().const_int(s)),
            _ => dist,
        };
        let dist = match ty.is_int().then(|| ty.int_width()) {
            Some(w) if w < 64 => b.cast(Opcode::LLVMZExt, dist, i64t),
            _ => dist,
        };
        match trip.test {
            // `iv != n` at the top: `dist / s` runs that go on and the one that leaves. A
            // distance that is no multiple of the step never meets the bound: the loop would
            // run until the variable wraps around, and the reservation refuses a huge count.
            TripTest::Differs => {
                if s == 1 {
                    return b.add(dist, i64t.const_int(1));
                }
                let n = b.add(b.udiv(dist, i64t.const_int(s)), i64t.const_int(1));
                let exact = b.icmp(IntPredicate::LLVMIntEQ, b.urem(dist, i64t.const_int(s)), i64t.zero());
                b.select(exact, n, i64t.const_int(u64::MAX))
            }
            // Ordered, a longer step (which does not wrap: [`TripBound::may_wrap`]),
            // iteration `j` going on while `start + j·s` (or, testing the next value,
            // `start + (j+1)·s`) is before the bound: strictly, ⌈dist / s⌉ + 1 runs (the
            // next value: ⌈dist / s⌉, at least the first run); or at it, ⌊dist / s⌋ + 2 (the
            // next value: ⌊dist / s⌋ + 1).
            TripTest::Before { .. } | TripTest::UpTo { .. } => {
                let strict = matches!(trip.test, TripTest::Before { .. });
                let n = match strict {
                    true => b.udiv(b.add(dist, i64t.const_int(s - 1)), i64t.const_int(s)),
                    false => b.udiv(dist, i64t.const_int(s)),
                };
                match (strict, trip.next) {
                    (true, true) => b.select(b.icmp(IntPredicate::LLVMIntEQ, n, i64t.zero()), i64t.const_int(1), n),
                    (true, false) | (false, true) => b.add(n, i64t.const_int(1)),
                    (false, false) => b.add(n, i64t.const_int(2)),
                }
            }
        }
    }
}

/// Size and alignment of a value in a buffer row: its store size at its ABI alignment (at most
/// 8, which every row start has).
fn layout(m: LLVMModuleRef, ty: Type) -> (u64, u64) {
    let size = abi_size(m, ty).max(1);
    let align = u64::from(oxidase_llvm::module::abi_alignment(m, ty)).clamp(1, 8);
    (size, align)
}

impl LoopBuffer {
    /// A row's bytes: its values, padded to the alignment of the most aligned one.
    fn row_bytes(&self) -> u64 {
        self.stride.next_multiple_of(self.align)
    }
}

/// Whether `b` can run twice in one iteration of `l`: it lies on a cycle of the loop's body
/// that avoids the header.
fn on_inner_cycle(b: Block, l: &CountedLoop) -> bool {
    if b == l.header {
        return false;
    }
    let mut seen = HashSet::new();
    let mut work: Vec<Block> = crate::fold::live_successors(b);
    while let Some(x) = work.pop() {
        if x == l.header || !l.body.contains(&x) {
            continue;
        }
        if x == b {
            return true;
        }
        if !seen.insert(x) {
            continue;
        }
        work.extend(crate::fold::live_successors(x));
    }
    false
}
