//! Cache policy: how a forward value the reversal needs gets there (recomputed, kept in a stack slot, or pushed on the tape).

use super::*;

impl Gen<'_> {
    /// The forward value `fv` (already mapped into the forward function) inside the reversal of
    /// the current block.
    pub(super) fn fetch(&mut self, fv: Value) -> Value {
        if fv.is_constant() || fv.is_function() || fv.is_global_variable() || fv.is_metadata() {
            return fv;
        }
        if let Some(v) = self.free_argument(fv) {
            return v;
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
        if let Some(v) = self.from_iteration_count(fv) {
            self.fetched.insert((b, fv), v);
            return v;
        }
        if self.should_recompute(fv) {
            let ops: Vec<(u32, Value)> = (0..fv.num_operands())
                .filter_map(|i| {
                    let op = fv.operand(i);
                    (!op.is_null() && !op.is_basic_block()).then(|| (i, self.fetch(op)))
                })
                .collect();
            let c = clone_with(&self.hb, fv, ops);
            if c.opcode() == Opcode::LLVMLoad {
                self.tag(c, &[Space::Primal]);
            }
            self.stats.recomputed += 1;
            self.fetched.insert((b, fv), c);
            return c;
        }
        if self.cyclic.contains(&b) {
            if let Some(v) = self.fetch_once(fv).or_else(|| self.fetch_per_loop(fv)) {
                self.fetched.insert((b, fv), v);
                return v;
            }
        }
        let m = self.module();
        let (v, carrier) = if self.shape == Shape::Combined && !self.cyclic.contains(&b) {
            let slot = self.fwd_slots_b.alloca(fv.ty());
            self.stats.slots += 1;
            (self.hb.load(fv.ty(), slot), Carrier::Slot(slot))
        } else if let Some(&li) = self.buffered_in.get(&b) {
            let (load, at, size) = self.fetch_buffered(li, fv);
            self.stats.buffered += 1;
            self.stats.looped.push((b, Some(fv), fv.print().trim().to_string(), size, true));
            (load, Carrier::Buffer(li, at))
        } else {
            self.stats.taped += 1;
            if self.cyclic.contains(&b) {
                let size = tape::entry_size(m, fv.ty());
                self.stats.tape_bytes += size;
                self.stats.looped.push((b, Some(fv), fv.print().trim().to_string(), size, false));
            }
            (self.tape_tag(tape::pop(m, &self.hb, self.rev_local, fv.ty())), Carrier::Tape)
        };
        self.saves.entry(b).or_default().push((fv, carrier));
        self.fetched.insert((b, fv), v);
        v
    }

    /// A parameter of the forward function as the reversal sees it, for nothing: the same
    /// value in a combined derivative, the reverse function's copy of it in a split one.
    fn free_argument(&self, fv: Value) -> Option<Value> {
        if !fv.is_argument() {
            return None;
        }
        match self.shape {
            Shape::Combined => Some(fv),
            Shape::Split => self.rev_params.get(&fv).copied(),
        }
    }

    /// A value defined outside every loop, needed in the reversal of a loop: kept once per
    /// call instead of once per iteration. The forward sweep stores it in a stack slot where it
    /// is defined; a combined derivative's reversal reads that slot, a split one gets the slots
    /// on the tape once, at its entry ([`Gen::push_frame`]).
    pub(super) fn fetch_once(&mut self, fv: Value) -> Option<Value> {
        if !self.keepable_once(fv) {
            return None;
        }
        let home = self.origin[&fv];
        let slot = match self.once.get(&fv) {
            Some(&s) => s,
            None => {
                let fwd_slot = self.fwd_slots_b.alloca(fv.ty());
                self.saves.entry(home).or_default().push((fv, Carrier::Slot(fwd_slot)));
                let s = match self.shape {
                    Shape::Combined => fwd_slot,
                    Shape::Split => {
                        let r = self.slots_b.alloca(fv.ty());
                        self.frame.push((fwd_slot, r, fv.ty()));
                        r
                    }
                };
                self.stats.slots += 1;
                self.once.insert(fv, s);
                s
            }
        };
        Some(self.hb.load(fv.ty(), slot))
    }

    /// The outermost counted loop around the block being reversed whose every iteration (of
    /// one execution) sees the same forward value `fv`: defined before the loop, or a load the
    /// loop cannot change ([`crate::modref::ModRef::invariant_within`]).
    pub(super) fn per_loop(&self, fv: Value) -> Option<usize> {
        let b = self.current?;
        let home = *self.origin.get(&fv)?;
        if !self.save_point.contains_key(&home) {
            return None;
        }
        let invariant_in = self.loop_invariant_loads.get(&fv);
        self.loops
            .iter()
            .enumerate()
            .filter(|(li, l)| l.body.contains(&b) && (!l.body.contains(&home) || invariant_in.is_some_and(|v| v.contains(li))))
            .max_by_key(|(_, l)| l.body.len())
            .map(|(li, _)| li)
    }

    /// A value the loop around the block being reversed does not change, kept once per
    /// execution of the loop: its definition stores it in a forward slot; the exits of the loop
    /// hand the slot to the reversal (on the tape, or by a copy on an edge that runs at most
    /// once), which fills a reverse slot when it enters the loop ([`Gen::hand_over_loop_keeps`]).
    pub(super) fn fetch_per_loop(&mut self, fv: Value) -> Option<Value> {
        let li = self.per_loop(fv)?;
        let fs = match self.loop_keep_fwd.get(&fv) {
            Some(&s) => s,
            None => {
                let s = self.fwd_slots_b.alloca(fv.ty());
                let home = self.origin[&fv];
                self.saves.entry(home).or_default().push((fv, Carrier::Slot(s)));
                self.loop_keep_fwd.insert(fv, s);
                s
            }
        };
        let rs = match self.loop_kept[li].iter().find(|k| k.0 == fv) {
            Some(k) => k.2,
            None => {
                let rs = self.slots_b.alloca(fv.ty());
                self.loop_kept[li].push((fv, fs, rs));
                self.stats.loop_kept += 1;
                rs
            }
        };
        Some(self.hb.load(fv.ty(), rs))
    }

    /// After the sweeps: the values each loop keeps go onto the tape on its exit edges (after
    /// the induction variables) and come off where the reversal takes those edges back (before
    /// the induction variables), into the reverse slots the loop's reversal reads.
    pub(super) fn hand_over_loop_keeps(&mut self) {
        let m = self.module();
        for ((x, o), rev_block) in std::mem::take(&mut self.exit_reversals) {
            let exits = self.loop_exits.get(&(x, o)).cloned().unwrap_or_default();
            // Per loop left: whether the edge hands over through slots, and what it keeps.
            let kept: Vec<(bool, Vec<LoopKeep>)> =
                exits.iter().map(|&(li, how)| (matches!(how, ExitIv::Slots(..)), self.loop_kept[li].clone())).collect();
            if kept.iter().all(|(_, k)| k.is_empty()) {
                continue;
            }
            // Forward: the split exit edge ends in its branch.
            let e = self.edge_from[&(x, o)];
            self.b.position_before(e.terminator().expect("a split exit edge ends in its branch"));
            let mut pushes = Vec::new();
            for (by_slots, list) in &kept {
                if !by_slots {
                    for &(fv, fs, _) in list {
                        // A loop buffer's address is kept under a null stand-in.
                        let what = if fv.is_constant() { "a loop buffer's address" } else { "a value an inner loop keeps per execution" };
                        self.note_exit_push(o, what, fv);
                        pushes.push(self.b.load(fv.ty(), fs));
                    }
                }
            }
            self.tape_tags(tape::push(m, &self.b, self.fwd_local, &pushes));
            // Reverse: before the induction variables come off.
            match rev_block.first_instruction() {
                Some(i) => self.b.position_before(i),
                None => self.b.position_at_end(rev_block),
            }
            for (by_slots, list) in kept.iter().rev() {
                for &(fv, fs, rs) in list.iter().rev() {
                    let v = if *by_slots { self.b.load(fv.ty(), fs) } else { self.tape_tag(tape::pop(m, &self.b, self.rev_local, fv.ty())) };
                    self.b.store(v, rs);
                }
            }
        }
    }

    /// After the sweeps, before the saves are emitted: a value a block's reversal pops from the
    /// tape is recomputed instead when everything its recomputation needs reaches that reversal
    /// anyway — values the block carries for other uses, or that cost nothing to get there
    /// ([`Gen::recompute_leaves`]). [`Gen::fetch`] decides value by value in the order the
    /// reversal asks, so it taped `sign·a` before the sign and the column it is computed
    /// from were asked for (det's minors: 32 → 24 bytes per iteration). A popped value used
    /// by other loads or recomputations at the start of the reversal keeps the tape (the
    /// recomputation goes after them).
    pub(super) fn recompute_from_carried(&mut self) {
        let m = self.module();
        let blocks: Vec<Block> = self.saves.keys().copied().collect();
        for b in blocks {
            // Saves of a block whose reversal was dropped hold only values kept once.
            let Some(&head) = self.rhead.get(&b) else { continue };
            let Some(term) = head.terminator() else { continue };
            let taped: Vec<Value> = self.saves[&b].iter().filter(|(_, c)| matches!(c, Carrier::Tape)).map(|&(fv, _)| fv).collect();
            for fv in taped {
                let Some(&popped) = self.fetched.get(&(b, fv)) else { continue };
                if !fv.is_instruction() || !self.recomputable_op(fv) || popped.users().iter().any(|u| u.parent_block() == head) {
                    continue;
                }
                self.current = Some(b);
                self.fetched.remove(&(b, fv));
                if !self.operand_leaves(fv).is_empty() {
                    self.fetched.insert((b, fv), popped);
                    self.current = None;
                    continue;
                }
                self.hb.position_before(term);
                let v = self.fetch(fv);
                self.current = None;
                popped.replace_all_uses_with(v);
                let at = popped.operand(0);
                self.tagged.retain(|(t, _)| *t != popped);
                popped.erase();
                at.erase();
                self.saves.get_mut(&b).expect("listed").retain(|(s, _)| *s != fv);
                self.stats.taped -= 1;
                if self.cyclic.contains(&b) {
                    let size = tape::entry_size(m, fv.ty());
                    self.stats.tape_bytes -= size;
                    if let Some(i) = self.stats.looped.iter().position(|&(lb, v, _, _, buffered)| lb == b && v == Some(fv) && !buffered) {
                        self.stats.looped.remove(i);
                    }
                }
            }
        }
    }

    /// Whether `fv` comes from a primal block outside every loop ([`Gen::fetch_once`]).
    pub(super) fn keepable_once(&self, fv: Value) -> bool {
        self.origin.get(&fv).is_some_and(|home| !self.cyclic.contains(home) && self.save_point.contains_key(home))
    }

    /// Split, forward function: before each `ret`, the values kept once go on the tape (after
    /// the returning block's own saves and the index of the return taken).
    pub(super) fn push_frame(&mut self) {
        if self.frame.is_empty() {
            return;
        }
        let m = self.module();
        let rets: Vec<Value> = self.fwd_fn.blocks().into_iter().filter_map(|b| b.terminator()).filter(|t| t.opcode() == Opcode::LLVMRet).collect();
        for t in rets {
            self.b.position_before(t);
            let values: Vec<Value> = self.frame.iter().rev().map(|&(f, _, ty)| self.b.load(ty, f)).collect();
            self.tape_tags(tape::push(m, &self.b, self.fwd_local, &values));
        }
    }

    /// Split, reverse function entry: the values kept once come off the tape into the slots
    /// the reversal reads.
    pub(super) fn pop_frame(&mut self) {
        let m = self.module();
        for (_, r, ty) in self.frame.clone() {
            let v = self.tape_tag(tape::pop(m, &self.b, self.rev_local, ty));
            self.b.store(v, r);
        }
    }

    /// Whether the reversal should recompute the forward value `fv` from its operands instead of
    /// carrying it: when that needs at most one value not carried already (so it never costs
    /// more tape or slots) and only cheap pure instructions, or loads of memory nothing writes
    /// while the derivative runs. In a block whose values go into a loop buffer, where a value
    /// takes its own size, a value narrower than the one it would carry is kept itself: a
    /// running maximum's comparison takes a byte per iteration, the previous maximum eight.
    pub(super) fn should_recompute(&self, fv: Value) -> bool {
        if !fv.is_instruction() || !self.recomputable_op(fv) {
            return false;
        }
        match self.operand_leaves(fv)[..] {
            [] => true,
            // A field is kept rather than the aggregate it comes from.
            [leaf] if leaf.ty().is_aggregate() && !fv.ty().is_aggregate() => false,
            [leaf] => {
                let m = self.module();
                let buffered = self.current.is_some_and(|b| self.buffered_in.contains_key(&b));
                !buffered || abi_size(m, fv.ty()) >= abi_size(m, leaf.ty())
            }
            _ => false,
        }
    }

    pub(super) fn recomputable_op(&self, v: Value) -> bool {
        use Opcode::*;
        match v.opcode() {
            LLVMGetElementPtr | LLVMBitCast | LLVMAddrSpaceCast | LLVMIntToPtr | LLVMPtrToInt | LLVMZExt | LLVMSExt
            | LLVMTrunc | LLVMSIToFP | LLVMUIToFP | LLVMFPExt | LLVMFPTrunc | LLVMAdd | LLVMSub | LLVMMul | LLVMShl
            | LLVMAnd | LLVMOr | LLVMXor | LLVMICmp | LLVMFCmp | LLVMSelect | LLVMFAdd | LLVMFSub | LLVMFMul
            | LLVMFNeg | LLVMExtractValue => true,
            LLVMLoad => {
                self.invariant_loads.contains(&v)
            }
            _ => false,
        }
    }

    /// The values recomputing `fv` from its operands would have to carry, once each.
    fn operand_leaves(&self, fv: Value) -> Vec<Value> {
        let mut leaves = Vec::new();
        for i in 0..fv.num_operands() {
            let op = fv.operand(i);
            if !op.is_null() && !op.is_basic_block() {
                self.recompute_leaves(op, 6, &mut leaves);
            }
        }
        leaves.sort();
        leaves.dedup();
        leaves
    }

    /// Values that recomputing `v` would have to carry (not free and not carried already).
    pub(super) fn recompute_leaves(&self, v: Value, depth: u32, out: &mut Vec<Value>) {
        if v.is_constant() || v.is_function() || v.is_global_variable() || v.is_metadata() || v.is_basic_block() {
            return;
        }
        if self.free_argument(v).is_some() {
            return;
        }
        if self.fetched.contains_key(&(self.current.unwrap(), v)) || self.live_induction_variable(v).is_some() {
            return;
        }
        // Inside a loop's reversal, a value from outside every loop is kept once per call, one
        // the loop does not change once per execution of the loop.
        if self.cyclic.contains(&self.current.unwrap()) && (self.keepable_once(v) || self.per_loop(v).is_some()) {
            return;
        }
        if self.live_computed_induction(v).is_some() || self.live_flip(v).is_some() {
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
    pub(super) fn primal_at(&mut self, v: Value) -> Value {
        let fv = self.val(v);
        self.fetch(fv)
    }

    pub(super) fn shadow_at(&mut self, v: Value, k: usize) -> Option<Value> {
        let s = self.shadow(v, k)?;
        Some(self.fetch(s))
    }

    /// Emits, at the end of each forward block, the saves its reversal fetched (in reverse order,
    /// so that the pops in the reversal's head come out in fetch order).
    pub(super) fn emit_saves(&mut self) {
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
                    Carrier::Buffer(li, at) => self.store_buffered(li, at, fv),
                    Carrier::Tape => pushes.push(fv),
                }
            }
            self.tape_tags(tape::push(m, &self.b, self.fwd_local, &pushes));
        }
    }

    /// `-Z autodiff=PrintPerf`: what the tape holds per iteration of each loop, innermost loop
    /// of the block whose reversal needs it, loops in primal order.
    pub(super) fn loop_report(&self) -> Vec<String> {
        let order: Vec<Block> = self.primal.blocks();
        // Loops by header: counted ones from `self.loops`, other cycles under their block.
        let innermost = |b: Block| -> Option<&CountedLoop> {
            self.loops.iter().filter(|l| l.body.contains(&b)).min_by_key(|l| l.body.len())
        };
        let depth = |b: Block| self.loops.iter().filter(|l| l.body.contains(&b)).count();
        // Per loop: header, counted, depth, bytes buffered and taped per iteration, values.
        type Group<'a> = (Block, bool, usize, [u64; 2], Vec<(&'a str, bool)>);
        let mut groups: Vec<Group> = Vec::new();
        for (b, _, text, size, buffered) in &self.stats.looped {
            let (key, counted, d) = match innermost(*b) {
                Some(l) => (l.header, true, depth(*b)),
                None => (*b, false, depth(*b) + 1),
            };
            let g = match groups.iter().position(|g| g.0 == key) {
                Some(i) => &mut groups[i],
                None => {
                    groups.push((key, counted, d, [0, 0], Vec::new()));
                    groups.last_mut().unwrap()
                }
            };
            g.3[usize::from(!buffered)] += size;
            g.4.push((text, *buffered));
        }
        groups.sort_by_key(|g| order.iter().position(|&b| b == g.0));
        let mut out = Vec::new();
        for (header, counted, d, [buffered, bytes], values) in groups {
            let place = header
                .instructions()
                .into_iter()
                .find_map(|i| i.debug_loc())
                .map(|(f, l, c)| format!(" at {f}:{l}:{c}"))
                .unwrap_or_default();
            let kind = if counted { "loop" } else { "cycle without a counted induction variable" };
            out.push(format!(
                "  {kind} at depth {d}{place}: {buffered} bytes per iteration in a buffer sized by its trip count, {bytes} bytes taped per iteration"
            ));
            for (v, in_buffer) in values {
                let how = if in_buffer { "buffered per iteration" } else { "taped per pass through a loop" };
                out.push(format!("    {how}: {v}"));
            }
        }
        out
    }
}

/// A copy of the instruction `inst`, inserted by `b`, with the operands `ops` (index, value)
/// in place of its own: a value computed again, in the reversal or in a forward block.
pub(super) fn clone_with(b: &Builder, inst: Value, ops: Vec<(u32, Value)>) -> Value {
    let c = inst.clone_instruction();
    b.insert(c);
    for (i, v) in ops {
        c.set_operand(i, v);
    }
    c.set_debug_loc_none();
    c
}
