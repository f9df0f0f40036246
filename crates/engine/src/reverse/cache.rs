//! Cache policy: how a forward value the reversal needs gets there (recomputed, kept in a stack slot, or pushed on the tape).

use super::*;

impl Gen<'_> {
    /// The forward value `fv` (already mapped into the forward function) inside the reversal of
    /// the current block.
    pub(super) fn fetch(&mut self, fv: Value) -> Value {
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
        if self.cyclic.contains(&b) {
            if let Some(v) = self.fetch_once(fv) {
                self.fetched.insert((b, fv), v);
                return v;
            }
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
                if self.cyclic.contains(&b) {
                    self.stats.tape_bytes += tape::entry_size(m, fv.ty());
                    self.stats.looped.push(fv.print().trim().to_string());
                }
                tape::pop(m, &self.hb, self.rev_local, fv.ty())
            }
        };
        self.saves.entry(b).or_default().push((fv, carrier));
        self.fetched.insert((b, fv), v);
        v
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
            tape::push(m, &self.b, self.fwd_local, &values);
        }
    }

    /// Split, reverse function entry: the values kept once come off the tape into the slots
    /// the reversal reads.
    pub(super) fn pop_frame(&mut self) {
        let m = self.module();
        for &(_, r, ty) in &self.frame {
            let v = tape::pop(m, &self.b, self.rev_local, ty);
            self.b.store(v, r);
        }
    }

    /// Whether the reversal should recompute the forward value `fv` from its operands instead of
    /// carrying it: when that needs at most one value not carried already (so it never costs
    /// more tape or slots) and only cheap pure instructions, or loads of memory nothing writes
    /// while the derivative runs.
    pub(super) fn should_recompute(&self, fv: Value) -> bool {
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

    /// Values that recomputing `v` would have to carry (not free and not carried already).
    pub(super) fn recompute_leaves(&self, v: Value, depth: u32, out: &mut Vec<Value>) {
        if v.is_constant() || v.is_function() || v.is_global_variable() || v.is_metadata() || v.is_basic_block() {
            return;
        }
        if self.shape == Shape::Combined && v.is_argument() {
            return;
        }
        if self.fetched.contains_key(&(self.current.unwrap(), v)) || self.live_induction_variable(v).is_some() {
            return;
        }
        // Inside a loop's reversal, a value from outside every loop is kept once per call.
        if self.cyclic.contains(&self.current.unwrap()) && self.keepable_once(v) {
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
                    Carrier::Tape => pushes.push(fv),
                }
            }
            tape::push(m, &self.b, self.fwd_local, &pushes);
        }
    }
}
