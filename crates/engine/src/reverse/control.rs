//! Control-flow reversal: `choice` phis, counted loops run backwards by their induction variable, reverse blocks and the exits of both sweeps.

use super::*;

pub(super) fn is_return(b: Block) -> bool {
    b.terminator().is_some_and(|t| t.opcode() == Opcode::LLVMRet)
}

impl Gen<'_> {
    /// Unique reachable predecessors of `b` that need a reversal, in a fixed order.
    pub(super) fn unique_preds(&self, b: Block) -> Vec<Block> {
        let mut out: Vec<Block> = Vec::new();
        for &p in self.preds.get(&b).into_iter().flatten() {
            if self.activity.returning.contains(&p) && !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }

    pub(super) fn add_choice(&mut self, b: Block) {
        if !self.activity.returning.contains(&b) || self.unique_preds(b).len() < 2 || self.counted_header(b).is_some() {
            return;
        }
        let ctx = context_of(self.module());
        let phi = self.b.phi(Type::i32(ctx));
        self.choice.insert(b, phi);
    }

    /// The counted loop `b` heads, if any.
    pub(super) fn counted_header(&self, b: Block) -> Option<usize> {
        self.loops.iter().position(|l| l.header == b)
    }

    /// The counted loop whose induction variable is the forward value `fv` and whose body holds
    /// the block being reversed: the reversal has that variable's current value.
    pub(super) fn live_induction_variable(&self, fv: Value) -> Option<usize> {
        let b = self.current?;
        self.loops.iter().position(|l| self.map.vmap.get(&l.iv) == Some(&fv) && l.body.contains(&b))
    }

    /// The counted loop, around the block being reversed, of which the forward value `fv` is an
    /// induction variable the reversal computes: a secondary one (`Some(k)`: the `k`-th of
    /// [`CountedLoop::others`]), or the shadow (lane `Some(lane)`) of a pointer one, primary
    /// (`None`) or secondary. A shadow of a pointer induction variable steps like it (its
    /// `getelementptr` mirrors the primal's), from the shadow of its start.
    pub(super) fn live_computed_induction(&self, fv: Value) -> Option<(usize, Option<usize>, Option<usize>)> {
        let b = self.current?;
        self.loops.iter().enumerate().filter(|(_, l)| l.body.contains(&b)).find_map(|(li, l)| {
            if let Some(k) = l.others.iter().position(|o| self.map.vmap.get(&o.0) == Some(&fv)) {
                return Some((li, Some(k), None));
            }
            let lane = |phi: Value| self.map.smap.get(&phi).and_then(|s| s.iter().position(|&x| x == fv));
            if l.iv.ty().is_pointer() {
                if let Some(lane) = lane(l.iv) {
                    return Some((li, None, Some(lane)));
                }
            }
            l.others.iter().enumerate().filter(|(_, o)| o.0.ty().is_pointer()).find_map(|(k, o)| lane(o.0).map(|lane| (li, Some(k), Some(lane))))
        })
    }

    /// The forward value `fv` computed in the reversal from the iteration count of a counted
    /// loop around the block being reversed: a secondary or pointer-shadow induction variable
    /// ([`Gen::live_computed_induction`]), or a flipping sign ([`Gen::live_flip`]).
    pub(super) fn from_iteration_count(&mut self, fv: Value) -> Option<Value> {
        if let Some((li, which, lane)) = self.live_computed_induction(fv) {
            return Some(self.computed_induction(li, which, lane));
        }
        let (li, k) = self.live_flip(fv)?;
        Some(self.computed_flip(li, k))
    }

    /// The counted loop around the block being reversed, and the index in its
    /// [`CountedLoop::flips`], of which the forward value `fv` is a phi negated each iteration.
    pub(super) fn live_flip(&self, fv: Value) -> Option<(usize, usize)> {
        let b = self.current?;
        self.loops.iter().enumerate().filter(|(_, l)| l.body.contains(&b)).find_map(|(li, l)| {
            l.flips.iter().position(|f| self.map.vmap.get(&f.0) == Some(&fv)).map(|k| (li, k))
        })
    }

    /// A phi of loop `li` negated each iteration, in the reversal ([`Gen::live_flip`]): its start,
    /// negated when the iterations done (from the loop's own variable) are odd. Exact: negation
    /// only flips the sign bit.
    fn computed_flip(&mut self, li: usize, k: usize) -> Value {
        let (_, start) = self.loops[li].flips[k];
        let count = self.iteration_count(&self.hb, li, false);
        let start = self.fetch(self.val(start));
        let odd = self.hb.cast(Opcode::LLVMTrunc, count, Type::int(context_of(self.module()), 1));
        let neg = self.hb.fneg(start);
        self.hb.select(odd, neg, start)
    }

    /// An induction variable of loop `li` in the reversal ([`Gen::live_computed_induction`]):
    /// its start (or its start's shadow) plus the iterations done (from the loop's own
    /// variable) times its step.
    pub(super) fn computed_induction(&mut self, li: usize, which: Option<usize>, lane: Option<usize>) -> Value {
        let l = self.loops[li].clone();
        let (phi, start, step) = match which {
            Some(k) => l.others[k],
            None => (l.iv, l.start, l.step),
        };
        // Iterations done, from the loop's own variable.
        let count = self.iteration_count(&self.hb, li, false);
        let base = match lane {
            Some(k) => {
                let s = self.shadow_or_null(start, k);
                self.fetch(s)
            }
            None => self.fetch(self.val(start)),
        };
        self.steps_from(&self.hb, phi.ty(), step, base, count)
    }

    /// Splits each exit edge of the counted loops in the forward function (its induction
    /// variable is saved there once the reversal is planned: [`Gen::save_loop_exits`]), and
    /// makes the reversal's slots for the variables.
    pub(super) fn split_loop_exits(&mut self) {
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
                if !split.contains_key(&(x, o)) {
                    let target = self.map.bmap[&o];
                    let e = self.split_forward_edge(x, target, "loop.exit");
                    self.b.br(target);
                    split.insert((x, o), e);
                    self.edge_from.insert((x, o), e);
                }
                self.loop_exits.entry((x, o)).or_default().push((li, ExitIv::Tape));
            }
        }
    }

    /// Once the reversal is planned: on the exit edges of each loop it runs backwards
    /// (`reversed[li]`), the forward sweep saves the induction variable (and a non-constant
    /// start); a loop whose reversal does nothing saves nothing and is not entered backwards.
    /// An edge that runs at most once (combined) saves them in stack slots; the exit of a test
    /// bounding the loop saves nothing when the reversal can compute them
    /// ([`Gen::exit_from_bound`]).
    pub(super) fn save_loop_exits(&mut self, cfg: &Cfg, reversed: &[bool]) {
        let m = self.module();
        for (li, l) in self.loops.clone().into_iter().enumerate() {
            let rstart = self.loop_slots[li].1;
            for &(x, o) in &l.exits {
                let Some(exits) = self.loop_exits.get_mut(&(x, o)) else { continue };
                if !reversed[li] {
                    exits.retain(|(k, _)| *k != li);
                    continue;
                }
                let e = self.edge_from[&(x, o)];
                self.b.position_before(e.terminator().expect("a split edge ends in its branch"));
                let mut vals = vec![self.val(l.iv)];
                if rstart.is_some() {
                    vals.push(self.val(l.start));
                }
                // An edge into a block on no cycle runs at most once: a stack slot suffices.
                let how = if self.shape == Shape::Combined && !self.cyclic.contains(&o) {
                    let s: Vec<Value> = vals.iter().map(|v| self.fwd_slots_b.alloca(v.ty())).collect();
                    for (v, slot) in vals.iter().zip(&s) {
                        self.b.store(*v, *slot);
                    }
                    ExitIv::Slots(s[0], s.get(1).copied())
                } else if let Some(trip) = self.bounding_exit(cfg, li, (x, o)) {
                    self.stats.exits_from_bound += 1;
                    ExitIv::Bound(trip)
                } else {
                    for &v in &vals {
                        self.note_exit_push(o, "an inner loop's induction variable or start", v);
                    }
                    self.tape_tags(tape::push(m, &self.b, self.fwd_local, &vals));
                    ExitIv::Tape
                };
                let exits = self.loop_exits.get_mut(&(x, o)).expect("listed above");
                if let Some(entry) = exits.iter_mut().find(|(k, _)| *k == li) {
                    entry.1 = how;
                }
            }
        }
        self.loop_exits.retain(|_, exits| !exits.is_empty());
    }

    /// `-Z autodiff=PrintPerf`: `v` goes on the tape on an exit edge into `o`; when `o` lies on
    /// a cycle, that is once per pass through the loop around it, and the report counts it there.
    pub(super) fn note_exit_push(&mut self, o: Block, what: &str, v: Value) {
        if self.cyclic.contains(&o) {
            let size = tape::entry_size(self.module(), v.ty());
            self.stats.tape_bytes += size;
            let text = if v.is_constant() { what.to_string() } else { format!("{what}: {}", v.print().trim()) };
            self.stats.looped.push((o, None, format!("on leaving it, {text}"), size, false));
        }
    }

    /// The test bounding loop `li` whose exit is `edge`, when the reversal can tell from it the
    /// induction variable the loop leaves with: the test compares the loop's own variable, and
    /// the loop's start and the bound are defined before the block the edge leads to (the
    /// reversal of that block fetches them). Not in that block itself: it defines them anew
    /// when it runs after the edge (an inner loop leaving into the outer loop's header, which
    /// computes the next inner bound).
    fn bounding_exit(&self, cfg: &Cfg, li: usize, edge: (Block, Block)) -> Option<TripBound> {
        let l = &self.loops[li];
        let trip = l.trips.iter().find(|t| t.exit == edge && t.iv.0 == l.iv)?;
        let there = |v: Value| !v.is_instruction() || v.parent_block() != edge.1 && cfg.dominates(v.parent_block(), edge.1);
        (there(l.start) && there(trip.bound)).then_some(*trip)
    }

    /// In the reversal of the block an exit of loop `li` leads to, on the way back into the
    /// loop: the induction variable and start (fetched) the loop had when it left through the
    /// exit of `trip` ([`Gen::last_iv`]; for a longer step, which does not wrap, after the
    /// iterations the bound allows, [`Gen::visits`], exact for the exit that ends them).
    fn exit_from_bound(&mut self, li: usize, trip: &TripBound) -> (Value, Value) {
        let i64t = Type::i64(context_of(self.module()));
        let start = self.fetch(self.val(self.loops[li].start));
        let bound = self.fetch(self.val(trip.bound));
        let iv = match self.last_iv(&self.b, trip, start, bound) {
            Some(iv) => iv,
            None => {
                let runs = self.visits(&self.b, trip, start, bound);
                self.steps_from(&self.b, trip.iv.0.ty(), trip.iv.2, start, self.b.sub(runs, i64t.const_int(1)))
            }
        };
        (iv, start)
    }

    /// A new forward block on the edge from primal block `x` (its terminator) to the forward
    /// block `target`, with the builder at its end (its branch to `target` is the caller's).
    pub(super) fn split_forward_edge(&mut self, x: Block, target: Block, name: &str) -> Block {
        let t = self.save_point[&x];
        let e = Block::append(context_of(self.module()), self.fwd_fn, name);
        for i in 0..t.successors().len() as u32 {
            if t.successors()[i as usize] == target {
                t.set_successor(i, e);
            }
        }
        self.b.position_at_end(e);
        e
    }

    pub(super) fn fill_phis(&mut self, cfg: &Cfg) {
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
            if let Some(d) = self.decision(cfg, b, &uniq) {
                // The choice follows from branch conditions: values the reversal can usually
                // recompute, where a phi would be kept per pass.
                let first = self.map.bmap[&b].instructions().into_iter().find(|i| i.opcode() != Opcode::LLVMPHI);
                let bld = Builder::new(ctx);
                match first {
                    Some(i) => bld.position_before(i),
                    None => bld.position_at_end(self.map.bmap[&b]),
                }
                let sel = self.emit_decision(cfg, &bld, b, &d, &mut HashMap::new());
                phi.erase();
                self.choice.insert(b, sel);
                continue;
            }
            for &p in self.preds.get(&b).into_iter().flatten() {
                let Some(&from) = self.edge_from.get(&(p, b)) else { continue };
                let idx = uniq.iter().position(|&u| u == p).map(|i| i as u64).unwrap_or(0);
                phi.add_incoming(Type::i32(ctx).const_int(idx), from);
            }
        }
    }

    /// How the predecessor `b` was entered from follows from the last runs of branches: `b`'s
    /// immediate dominator `g` ends in a conditional branch or a switch, and each of its
    /// successors reaches one of `b`'s predecessors, or none, or several told apart in the same
    /// way by the successor's own terminator (without passing `g` or a terminator tested
    /// already, or `b`), and `b` cannot come round to itself without passing `g`. A loop guard
    /// (`for r in col + 1..d` entered or skipped) and early returns (`if n == 1 { return … }`)
    /// are the common cases. Tests below `g` read conditions the forward copy of `b` can
    /// compute again ([`Gen::can_recompute_at`]).
    fn decision(&self, cfg: &Cfg, b: Block, uniq: &[Block]) -> Option<Decision> {
        if uniq.len() < 2 {
            return None;
        }
        let g = cfg.idom(b)?;
        // `b` again without `g` in between would be entered from wherever the loop came back.
        if reachable_avoiding(crate::fold::live_successors(b), &[g]).contains(&b) {
            return None;
        }
        let mut budget = 16;
        self.decide(cfg, g, b, uniq, &mut vec![g, b], &mut budget)
    }

    /// The part of [`Gen::decision`] decided at `at`'s last run; `stop`: `b` and the blocks
    /// tested on the way here.
    fn decide(&self, cfg: &Cfg, at: Block, b: Block, uniq: &[Block], stop: &mut Vec<Block>, budget: &mut u32) -> Option<Decision> {
        *budget = budget.checked_sub(1)?;
        let t = at.terminator()?;
        let succ = t.successors();
        let nested = stop.len() > 2;
        let here = |v: Value| !nested || can_recompute_at(cfg, v, b, 3);
        let arms: Vec<(Option<Test>, Block)> = match t.opcode() {
            Opcode::LLVMBr if t.num_operands() == 3 && crate::fold::live_successors(at).len() == 2 && here(t.operand(0)) => {
                vec![(Some(Test::True(t.operand(0))), succ[0]), (None, succ[1])]
            }
            Opcode::LLVMSwitch if here(t.operand(0)) => {
                let v = t.operand(0);
                let mut arms: Vec<(Option<Test>, Block)> = (1..succ.len()).map(|i| (Some(Test::Equals(v, t.switch_case_value(i as u32))), succ[i])).collect();
                arms.push((None, succ[0]));
                arms
            }
            _ => return None,
        };
        let mut out = Vec::new();
        for (test, s) in arms {
            let reached: Vec<usize> = if s == b {
                vec![uniq.iter().position(|&u| u == at)?]
            } else {
                let seen = reachable_avoiding(vec![s], stop);
                (0..uniq.len()).filter(|&i| seen.contains(&uniq[i])).collect()
            };
            let d = match reached[..] {
                // Never on to `b` from here without `at` running again.
                [] => continue,
                [i] => Decision::Pred(i),
                _ => {
                    stop.push(s);
                    let d = self.decide(cfg, s, b, uniq, stop, budget);
                    stop.pop();
                    d?
                }
            };
            out.push((test, d));
        }
        match out.len() {
            0 => None,
            1 => out.pop().map(|(_, d)| d),
            _ => Some(Decision::Tests(out)),
        }
    }

    /// The index [`Gen::decision`] describes, computed in the forward copy of `b` by `bld`.
    fn emit_decision(&mut self, cfg: &Cfg, bld: &Builder, b: Block, d: &Decision, made: &mut HashMap<Value, Value>) -> Value {
        let i32t = Type::i32(context_of(self.module()));
        match d {
            Decision::Pred(i) => i32t.const_int(*i as u64),
            Decision::Tests(arms) => {
                let (_, last) = arms.last().expect("a test has arms");
                let mut acc = self.emit_decision(cfg, bld, b, last, made);
                for (test, d) in arms[..arms.len() - 1].iter().rev() {
                    let c = match *test.as_ref().expect("only the last arm is untested") {
                        Test::True(c) => self.recompute_at(cfg, bld, c, b, made),
                        Test::Equals(v, k) => {
                            let v = self.recompute_at(cfg, bld, v, b, made);
                            bld.icmp(IntPredicate::LLVMIntEQ, v, k)
                        }
                    };
                    let x = self.emit_decision(cfg, bld, b, d, made);
                    acc = bld.select(c, x, acc);
                }
                acc
            }
        }
    }

    /// The primal value `v` in the forward copy of `b` ([`can_recompute_at`]).
    fn recompute_at(&mut self, cfg: &Cfg, bld: &Builder, v: Value, b: Block, made: &mut HashMap<Value, Value>) -> Value {
        if !v.is_instruction() || strictly_dominates(cfg, v.parent_block(), b) {
            return self.val(v);
        }
        if let Some(&c) = made.get(&v) {
            return c;
        }
        let ops: Vec<(u32, Value)> = (0..v.num_operands()).map(|i| (i, self.recompute_at(cfg, bld, v.operand(i), b, made))).collect();
        let c = cache::clone_with(bld, v, ops);
        made.insert(v, c);
        c
    }

    // ---- value lookup ----

    /// First pass over a block: the reversal of its instructions (phis aside), into its reverse
    /// blocks. Whether that emitted anything decides if the block is reversed at all
    /// ([`Gen::plan_reversal`]).
    pub(super) fn reverse_instructions(&mut self, b: Block) {
        self.current = Some(b);
        self.hb.position_at_end(self.rhead[&b]);
        self.b.position_at_end(self.rbody[&b]);
        for inst in b.instructions().into_iter().rev() {
            if inst.opcode() == Opcode::LLVMPHI || self.fused.contains(&inst) {
                continue;
            }
            self.reverse_inst(inst);
            if !self.errors.is_empty() {
                return;
            }
        }
        self.current = None;
    }

    /// Whether the reversal of `b` does something: its instructions' reversal emitted code, or
    /// it hands adjoints of phis to their incoming values.
    pub(super) fn reversal_works(&self, b: Block) -> bool {
        self.rhead[&b].first_instruction().is_some()
            || self.rbody[&b].first_instruction().is_some()
            || b.instructions().into_iter().any(|i| i.opcode() == Opcode::LLVMPHI && self.has_adjoint(i))
    }

    /// The reversed blocks the reversal of `b` can go on to: the last reversed block run before
    /// `b`, over paths through blocks that are not reversed. When every unique predecessor is
    /// reversed, exactly those, in their order (the `choice` phi's indices).
    pub(super) fn reverse_preds(&self, b: Block, reversed: &HashSet<Block>) -> Vec<Block> {
        let preds = self.unique_preds(b);
        if preds.iter().all(|p| reversed.contains(p)) {
            return preds;
        }
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut work = preds;
        work.reverse();
        while let Some(p) = work.pop() {
            if !seen.insert(p) {
                continue;
            }
            if reversed.contains(&p) {
                if !out.contains(&p) {
                    out.push(p);
                }
            } else {
                let mut more = self.unique_preds(p);
                more.reverse();
                work.extend(more);
            }
        }
        out
    }

    /// Which returning blocks are reversed. A block whose reversal does nothing (integer
    /// bookkeeping, a loop that only fills an index table, the branches around such code) is
    /// skipped: the reversal of the next reversed block goes straight to that of the previous
    /// one, and nothing is recorded for the skipped blocks (no `choice`, no loop counter, no
    /// buffer rows). Reversed besides the blocks with work: the entry and the returns; the
    /// predecessors of a block with phi adjoints (each incoming value gets its own); the
    /// predecessors of a block that could be reached from several reversed blocks (its
    /// `choice` tells them apart); and, for a counted loop with anything reversed inside, its
    /// header, latch, preheader and both ends of its exits (its reversal runs by its counter).
    pub(super) fn plan_reversal(&self, rev_order: &[Block]) -> HashSet<Block> {
        let returning = |b: &Block| self.activity.returning.contains(b);
        let mut reversed: HashSet<Block> = rev_order.iter().copied().filter(|&b| self.reversal_works(b) || is_return(b)).collect();
        if let Some(&entry) = rev_order.first() {
            if self.primal.blocks().first() == Some(&entry) {
                reversed.insert(entry);
            }
        }
        loop {
            let mut add: Vec<Block> = Vec::new();
            for &b in rev_order.iter().filter(|b| reversed.contains(b)) {
                let phis = b.instructions().into_iter().any(|i| i.opcode() == Opcode::LLVMPHI && self.has_adjoint(i));
                if phis || self.reverse_preds(b, &reversed).len() > 1 {
                    add.extend(self.unique_preds(b));
                }
            }
            for l in &self.loops {
                if !l.body.iter().any(|b| reversed.contains(b)) {
                    continue;
                }
                add.extend([l.header, l.latch, l.preheader]);
                for &(x, o) in &l.exits {
                    if returning(&o) {
                        add.extend([x, o]);
                    }
                }
            }
            let before = reversed.len();
            reversed.extend(add.into_iter().filter(returning));
            if reversed.len() == before {
                return reversed;
            }
        }
    }

    /// Second pass over a reversed block: its phis' adjoints, then the jump to the reversal of
    /// the block that ran before it (`preds`: [`Gen::reverse_preds`]).
    pub(super) fn reverse_control(&mut self, b: Block, exit: Block, preds: Vec<Block>) {
        self.current = Some(b);
        let (head, body) = (self.rhead[&b], self.rbody[&b]);
        self.hb.position_at_end(head);
        self.b.position_at_end(body);
        let insts = b.instructions();
        // Phis: read their adjoints, then hand them to the incoming values on the way out.
        let phis: Vec<Value> = insts.iter().copied().filter(|i| i.opcode() == Opcode::LLVMPHI && self.has_adjoint(*i)).collect();
        let phi_adj: Vec<(Value, Vec<Value>)> = phis.iter().map(|&p| (p, self.take_adjoint(p))).collect();
        let ctx = context_of(self.module());
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
            self.note_buffer_leave(li, to_pre);
            self.phi_edge(b, l.preheader, &phi_adj);
            self.b.br(self.rhead[&l.preheader]);
        } else if preds.is_empty() {
            self.b.br(exit);
        } else if preds.len() == 1 {
            self.phi_edge(b, preds[0], &phi_adj);
            self.b.br(self.rhead[&preds[0]]);
        } else {
            debug_assert_eq!(preds, self.unique_preds(b), "a choice tells immediate predecessors apart");
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

    pub(super) fn phi_edge(&mut self, b: Block, pred: Block, phi_adj: &[(Value, Vec<Value>)]) {
        // Entering counted loops' reversals: their induction variables as the loops left them,
        // popped in the reverse of the order they were saved in.
        let exits = self.loop_exits.get(&(pred, b)).cloned().unwrap_or_default();
        if !exits.is_empty() {
            // What the loops keep per execution comes off first, at this block's start
            // ([`Gen::hand_over_loop_keeps`], once every reversal has asked for its values).
            let keep = Block::append(context_of(self.module()), self.rev_fn, "rev.loop.keep");
            self.b.br(keep);
            self.b.position_at_end(keep);
            self.exit_reversals.push(((pred, b), keep));
        }
        for &(li, how) in exits.iter().rev() {
            let m = self.module();
            let (riv, rstart) = self.loop_slots[li];
            let ty = self.loops[li].iv.ty();
            let (iv, start) = match how {
                ExitIv::Slots(siv, sstart) => (self.b.load(ty, siv), sstart.map(|s| self.b.load(ty, s))),
                ExitIv::Tape => {
                    let start = rstart.map(|_| tape::pop(m, &self.b, self.rev_local, ty));
                    if let Some(v) = start {
                        self.tag(v, &[Space::Tape]);
                    }
                    (self.tape_tag(tape::pop(m, &self.b, self.rev_local, ty)), start)
                }
                ExitIv::Bound(trip) => {
                    let (iv, start) = self.exit_from_bound(li, &trip);
                    (iv, Some(start))
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
        // Into the reversal of one loop: around it when the adjoints it receives are zero.
        if let [(li, _)] = exits[..] {
            self.offer_skip(li);
        }
    }

    pub(super) fn finish_exit(&mut self, exit: Block) {
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
                // The release in a block of its own: dropped when nothing used the tape.
                let ctx = context_of(self.module());
                let release = Block::append(ctx, self.rev_fn, "rev.release");
                let done = Block::append(ctx, self.rev_fn, "rev.return");
                let to_release = self.b.br(release);
                self.b.position_at_end(release);
                tape::sync(self.module(), &self.b, self.rev_local, self.tape);
                if !self.engine.options.tape_arena {
                    tape::release(self.module(), &self.b, self.tape);
                }
                self.b.br(done);
                self.b.position_at_end(done);
                self.release = Some((to_release, release, done));
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
}

/// Whether the forward copy of `b` can compute the primal value `v` again with the value it
/// had at any point since the last run of `b`'s immediate dominator: `v` is defined where it
/// dominates `b` (nothing defines it again in between), or computed without memory from
/// such values (`depth` levels deep).
fn can_recompute_at(cfg: &Cfg, v: Value, b: Block, depth: u32) -> bool {
    if !v.is_instruction() {
        return v.is_constant() || v.is_argument();
    }
    if strictly_dominates(cfg, v.parent_block(), b) {
        return true;
    }
    use Opcode::*;
    let pure = matches!(
        v.opcode(),
        LLVMICmp | LLVMFCmp | LLVMAnd | LLVMOr | LLVMXor | LLVMAdd | LLVMSub | LLVMMul | LLVMShl | LLVMLShr | LLVMAShr
            | LLVMTrunc | LLVMZExt | LLVMSExt | LLVMSelect
    );
    pure && depth > 0 && (0..v.num_operands()).all(|i| can_recompute_at(cfg, v.operand(i), b, depth - 1))
}

/// Whether block `a` strictly dominates `b`.
fn strictly_dominates(cfg: &Cfg, a: Block, b: Block) -> bool {
    a != b && cfg.dominates(a, b)
}

/// How a `choice` follows from branch conditions ([`Gen::decision`]).
enum Decision {
    /// The predecessor with this index among the unique ones.
    Pred(usize),
    /// A terminator's arms, tested in order: the test under which each is taken (none for the
    /// last, taken when the others are not) and what follows.
    Tests(Vec<(Option<Test>, Decision)>),
}

/// When an arm of a terminator is taken.
#[derive(Clone, Copy)]
enum Test {
    /// `br i1 c` to its first successor.
    True(Value),
    /// `switch v` to the case `k`.
    Equals(Value, Value),
}

/// The blocks control can reach from `start` (included) without entering a block of `stop`.
fn reachable_avoiding(start: Vec<Block>, stop: &[Block]) -> HashSet<Block> {
    let mut seen: HashSet<Block> = HashSet::new();
    let mut work = start;
    while let Some(x) = work.pop() {
        if stop.contains(&x) || !seen.insert(x) {
            continue;
        }
        work.extend(crate::fold::live_successors(x));
    }
    seen
}
