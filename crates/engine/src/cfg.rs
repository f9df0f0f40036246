//! Control-flow facts about a primal function: predecessors, blocks on cycles, dominators, and
//! simple counted loops whose induction variable the reverse sweep can run backwards instead of
//! recording it. Analysis only; changes nothing.

use oxidase_llvm::{Block, IntPredicate, Opcode, Value};
use std::collections::{HashMap, HashSet};

/// The blocks reachable from the entry (reverse post-order) and their predecessor lists (with
/// duplicates for repeated edges, as phis see them).
pub struct Cfg {
    pub order: Vec<Block>,
    pub preds: HashMap<Block, Vec<Block>>,
    index: HashMap<Block, usize>,
    /// Immediate dominator of each block, by index in `order` (the entry is its own).
    idom: Vec<usize>,
}

impl Cfg {
    pub fn new(order: Vec<Block>) -> Cfg {
        let index: HashMap<Block, usize> = order.iter().enumerate().map(|(i, &b)| (b, i)).collect();
        let mut preds: HashMap<Block, Vec<Block>> = HashMap::new();
        for &b in &order {
            for s in crate::fold::live_successors(b) {
                preds.entry(s).or_default().push(b);
            }
        }
        let idom = dominators(&order, &index, &preds);
        Cfg { order, preds, index, idom }
    }

    /// The immediate dominator of `b` (none for the entry or an unreachable block).
    pub fn idom(&self, b: Block) -> Option<Block> {
        let &i = self.index.get(&b)?;
        let d = self.idom[i];
        (i != 0 && d != usize::MAX).then(|| self.order[d])
    }

    /// Whether `a` dominates `b` (both reachable).
    pub fn dominates(&self, a: Block, b: Block) -> bool {
        let (Some(&a), Some(&b)) = (self.index.get(&a), self.index.get(&b)) else {
            return false;
        };
        // Immediate dominators come earlier in reverse post-order, so this walk ends.
        let mut b = b;
        loop {
            if a == b {
                return true;
            }
            if b == 0 || self.idom[b] == usize::MAX {
                return false;
            }
            b = self.idom[b];
        }
    }

    /// Blocks from which a `ret` can be reached. Code elsewhere ends in a panic, an abort or an
    /// endless loop: the function never returns from there, so no derivative computed there is
    /// ever used, and both modes only run the primal there.
    pub fn returning_blocks(&self) -> HashSet<Block> {
        let mut out = HashSet::new();
        let mut work: Vec<Block> = self
            .order
            .iter()
            .copied()
            .filter(|b| b.terminator().is_some_and(|t| t.opcode() == Opcode::LLVMRet))
            .collect();
        while let Some(b) = work.pop() {
            if out.insert(b) {
                work.extend(self.preds_of(b).iter().copied());
            }
        }
        out
    }

    pub fn preds_of(&self, b: Block) -> &[Block] {
        self.preds.get(&b).map_or(&[], |v| v.as_slice())
    }

    /// Blocks on a cycle (members of a non-trivial strongly connected component, or self-loops).
    pub fn cyclic_blocks(&self) -> HashSet<Block> {
        let n = self.order.len();
        let succ: Vec<Vec<usize>> = self
            .order
            .iter()
            .map(|b| {
                crate::fold::live_successors(*b)
                    .iter()
                    .filter_map(|s| self.index.get(s).copied())
                    .collect()
            })
            .collect();
        // Iterative Tarjan.
        let mut index = vec![usize::MAX; n];
        let mut low = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut next = 0;
        let mut out = HashSet::new();
        for root in 0..n {
            if index[root] != usize::MAX {
                continue;
            }
            let mut work = vec![(root, 0usize)];
            index[root] = next;
            low[root] = next;
            next += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (v, ref mut i)) = work.last_mut() {
                if *i < succ[v].len() {
                    let w = succ[v][*i];
                    *i += 1;
                    if index[w] == usize::MAX {
                        index[w] = next;
                        low[w] = next;
                        next += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        work.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                } else {
                    work.pop();
                    if let Some(&(u, _)) = work.last() {
                        low[u] = low[u].min(low[v]);
                    }
                    if low[v] == index[v] {
                        let mut comp = Vec::new();
                        loop {
                            let w = stack.pop().unwrap();
                            on_stack[w] = false;
                            comp.push(w);
                            if w == v {
                                break;
                            }
                        }
                        if comp.len() > 1 || succ[v].contains(&v) {
                            out.extend(comp.into_iter().map(|k| self.order[k]));
                        }
                    }
                }
            }
        }
        out
    }

    /// Natural loops with one entering block, one latch and an induction variable stepping by
    /// a constant: an integer `iv = phi [start, preheader], [iv ± C, latch]`, or a pointer
    /// `p = phi [start, preheader], [getelementptr T, p, C, latch]` (Rust's slice iterators).
    pub fn counted_loops(&self) -> Vec<CountedLoop> {
        let mut out = Vec::new();
        for &h in &self.order {
            let preds = self.preds_of(h);
            let mut latches: Vec<Block> = preds.iter().copied().filter(|&p| self.dominates(h, p)).collect();
            latches.dedup();
            let mut entering: Vec<Block> = preds.iter().copied().filter(|&p| !self.dominates(h, p)).collect();
            entering.dedup();
            if latches.len() != 1 || entering.len() != 1 || preds.len() != 2 {
                continue;
            }
            let (latch, preheader) = (latches[0], entering[0]);
            let body = self.loop_body(h, latch);
            let mut ivs = induction_variables(h, preheader, latch);
            if ivs.is_empty() {
                continue;
            }
            let (iv, start, step) = ivs.remove(0);
            let others = ivs;
            // Exits must be plain branches (an invoke's edge has no room for saving values).
            let exits: Vec<(Block, Block)> = body
                .iter()
                .flat_map(|&b| {
                    crate::fold::live_successors(b)
                        .into_iter()
                        .filter(|s| !body.contains(s))
                        .map(move |s| (b, s))
                })
                .collect();
            // ... and reach their target once (one phi entry per edge).
            let plain = exits.iter().all(|&(b, o)| {
                b.terminator()
                    .is_some_and(|t| matches!(t.opcode(), Opcode::LLVMBr | Opcode::LLVMSwitch))
                    && crate::fold::live_successors(b)
                        .iter()
                        .filter(|&&s| s == o)
                        .count()
                        == 1
            });
            if !plain {
                continue;
            }
            let mut all = vec![(iv, start, step)];
            all.extend(others.iter().copied());
            let trips = exits
                .iter()
                .filter_map(|&e| self.trip_bound(e, latch, &body, &all))
                .collect();
            // Floats whose sign flips each iteration (`sign = -sign`, alternating series).
            let flips = h
                .instructions()
                .into_iter()
                .take_while(|i| i.opcode() == Opcode::LLVMPHI)
                .filter_map(|p| {
                    let inc = p.incoming();
                    let from = |b: Block| inc.iter().find(|(_, x)| *x == b).map(|(v, _)| *v);
                    let (start, next) = (from(preheader)?, from(latch)?);
                    let flips = next.is_instruction() && next.opcode() == Opcode::LLVMFNeg && next.operand(0) == p;
                    (flips && inc.len() == 2).then_some((p, start))
                })
                .collect();
            out.push(CountedLoop { header: h, preheader, latch, body, iv, start, step, others, flips, exits, trips });
        }
        out
    }

    /// The bound the exit edge `exit` of a loop puts on its iterations, if its test runs in
    /// every iteration (its block dominates the latch) and compares one of the induction
    /// variables `ivs` (or its value for the next iteration) with a value defined outside the
    /// loop, in a way that rules out wrapping around: a strict or inclusive comparison
    /// stepping by a `nuw`/`nsw` increment (an `inbounds` step for a pointer) or by one, in the
    /// direction the loop goes on, or an inequality.
    fn trip_bound(&self, exit: (Block, Block), latch: Block, body: &HashSet<Block>, ivs: &[(Value, Value, i64)]) -> Option<TripBound> {
        use IntPredicate::*;
        let (x, o) = exit;
        if !self.dominates(x, latch) {
            return None;
        }
        let t = x.terminator()?;
        if t.opcode() != Opcode::LLVMBr || t.num_operands() != 3 {
            return None;
        }
        let cond = t.operand(0);
        if !cond.is_instruction() || cond.opcode() != Opcode::LLVMICmp {
            return None;
        }
        let succ = t.successors();
        // The predicate under which the loop goes on.
        let mut pred = cond.icmp_predicate();
        if succ[0] == o {
            pred = inverse(pred);
        } else if succ[1] != o {
            return None;
        }
        let inside = |v: Value| v.is_instruction() && body.contains(&v.parent_block());
        let (a, bnd) = (cond.operand(0), cond.operand(1));
        let (v, bound) = if !inside(bnd) {
            (a, bnd)
        } else if !inside(a) {
            pred = swapped(pred);
            (bnd, a)
        } else {
            return None;
        };
        let next_of = |phi: Value| phi.incoming().into_iter().find(|(_, b)| *b == latch).map(|(n, _)| n);
        let (&(phi, start, step), next) = ivs.iter().find_map(|iv| {
            if v == iv.0 {
                Some((iv, false))
            } else if next_of(iv.0) == Some(v) {
                Some((iv, true))
            } else {
                None
            }
        })?;
        let inc = next_of(phi)?;
        let pointer = phi.ty().is_pointer();
        let no_wrap = |signed: bool| {
            if pointer {
                inc.is_in_bounds() && !signed
            } else if signed {
                inc.has_no_signed_wrap()
            } else {
                (inc.opcode() == Opcode::LLVMAdd && step > 0 || inc.opcode() == Opcode::LLVMSub && step < 0) && inc.has_no_unsigned_wrap()
            }
        };
        let test = match (pred, step > 0) {
            (LLVMIntULT, true) | (LLVMIntUGT, false) => TripTest::Before { signed: false },
            (LLVMIntSLT, true) | (LLVMIntSGT, false) => TripTest::Before { signed: true },
            (LLVMIntULE, true) | (LLVMIntUGE, false) => TripTest::UpTo { signed: false },
            (LLVMIntSLE, true) | (LLVMIntSGE, false) => TripTest::UpTo { signed: true },
            // A narrower variable stepping by more than one meets the bound after wrapping
            // around, in a count the buffer could not be sized for.
            (LLVMIntNE, _) if pointer || step.abs() == 1 || phi.ty().int_width() >= 64 => TripTest::Differs,
            _ => return None,
        };
        // An ordered test on a variable that may wrap around: stepping by one, it meets the
        // bound before wrapping, unless it starts at the end of its range (see `may_wrap`).
        let may_wrap = match test {
            TripTest::Before { signed } | TripTest::UpTo { signed } => !no_wrap(signed),
            TripTest::Differs => false,
        };
        if may_wrap && (step.abs() != 1 || pointer) {
            return None;
        }
        Some(TripBound { exit, iv: (phi, start, step), next, bound, test, may_wrap })
    }

    /// The natural loop of the back edge `latch → header`.
    fn loop_body(&self, header: Block, latch: Block) -> HashSet<Block> {
        let mut body = HashSet::from([header]);
        let mut work = vec![latch];
        while let Some(b) = work.pop() {
            if body.insert(b) {
                work.extend(self.preds_of(b).iter().copied().filter(|p| self.index.contains_key(p)));
            }
        }
        body
    }
}

/// A loop the reverse sweep runs backwards by its induction variable (see [`Cfg::counted_loops`]).
#[derive(Clone, Debug)]
pub struct CountedLoop {
    pub header: Block,
    pub preheader: Block,
    pub latch: Block,
    pub body: HashSet<Block>,
    /// The induction variable (a phi in `header`), its value on entry, and its step (in bytes
    /// for a pointer).
    pub iv: Value,
    pub start: Value,
    pub step: i64,
    /// The header's other induction variables (same shape as `iv`): the reversal computes them
    /// from `iv`'s iteration count and their start instead of carrying them.
    pub others: Vec<(Value, Value, i64)>,
    /// The header's float phis negated each iteration, `p = phi [start, preheader], [fneg p,
    /// latch]`, with their start: the reversal computes them from the parity of `iv`'s
    /// iteration count.
    pub flips: Vec<(Value, Value)>,
    /// Edges leaving the loop: (block in the loop, block outside).
    pub exits: Vec<(Block, Block)>,
    /// The exits whose test bounds the number of iterations ([`TripBound`]).
    pub trips: Vec<TripBound>,
}

/// How the test of a counting exit compares an induction variable with its bound, stated as
/// the condition under which the loop goes on (see [`Cfg::counted_loops`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TripTest {
    /// Strictly before the bound in the direction of the step (`<` stepping up, `>` down).
    Before { signed: bool },
    /// Before or at the bound.
    UpTo { signed: bool },
    /// Not equal to the bound: the loop meets it when the distance is a multiple of the step,
    /// and otherwise runs until the variable wraps around (as good as forever).
    Differs,
}

/// An upper bound, known when a loop is entered, on how many times one execution of it runs
/// its header: an exit whose test runs in every iteration and compares an induction variable
/// (or, `next`, its value for the next iteration) with `bound`, a value defined before the
/// loop. Other exits only end the loop sooner.
#[derive(Clone, Copy, Debug)]
pub struct TripBound {
    pub exit: (Block, Block),
    /// The induction variable compared: (phi, start, step), as in [`CountedLoop`].
    pub iv: (Value, Value, i64),
    pub next: bool,
    pub bound: Value,
    pub test: TripTest,
    /// An ordered test on an integer stepping by ±1 without a no-wrap flag: a start at the end
    /// of the range (the largest value stepping up) wraps around past the bound and the loop
    /// runs for the whole range.
    pub may_wrap: bool,
}

fn inverse(p: IntPredicate) -> IntPredicate {
    use IntPredicate::*;
    match p {
        LLVMIntEQ => LLVMIntNE,
        LLVMIntNE => LLVMIntEQ,
        LLVMIntUGT => LLVMIntULE,
        LLVMIntUGE => LLVMIntULT,
        LLVMIntULT => LLVMIntUGE,
        LLVMIntULE => LLVMIntUGT,
        LLVMIntSGT => LLVMIntSLE,
        LLVMIntSGE => LLVMIntSLT,
        LLVMIntSLT => LLVMIntSGE,
        LLVMIntSLE => LLVMIntSGT,
    }
}

/// The predicate with its operands swapped (`a < b` ⇔ `b > a`).
fn swapped(p: IntPredicate) -> IntPredicate {
    use IntPredicate::*;
    match p {
        LLVMIntUGT => LLVMIntULT,
        LLVMIntUGE => LLVMIntULE,
        LLVMIntULT => LLVMIntUGT,
        LLVMIntULE => LLVMIntUGE,
        LLVMIntSGT => LLVMIntSLT,
        LLVMIntSGE => LLVMIntSLE,
        LLVMIntSLT => LLVMIntSGT,
        LLVMIntSLE => LLVMIntSGE,
        eq_or_ne => eq_or_ne,
    }
}

/// Every `iv = phi [start, preheader], [iv + C, latch]` (or `iv - C`, or for a pointer
/// `getelementptr T, iv, C`) among the header's phis. Integer induction variables come first:
/// when a loop has both, the reversal steps the (first) integer one.
fn induction_variables(h: Block, preheader: Block, latch: Block) -> Vec<(Value, Value, i64)> {
    let phis: Vec<Value> = h.instructions().into_iter().take_while(|i| i.opcode() == Opcode::LLVMPHI).collect();
    let ints = phis.iter().filter(|p| p.ty().is_int());
    let pointers = phis.iter().filter(|p| p.ty().is_pointer());
    let mut out = Vec::new();
    for &phi in ints.chain(pointers) {
        let inc = phi.incoming();
        let Some(start) = inc.iter().find(|(_, b)| *b == preheader).map(|(v, _)| *v) else { return Vec::new() };
        let Some(next) = inc.iter().find(|(_, b)| *b == latch).map(|(v, _)| *v) else { continue };
        if !next.is_instruction() || next.num_operands() != 2 || next.operand(0) != phi {
            continue;
        }
        let Some(c) = next.operand(1).const_int_value() else { continue };
        let step = match next.opcode() {
            Opcode::LLVMAdd if phi.ty().is_int() => c,
            Opcode::LLVMSub if phi.ty().is_int() => c.wrapping_neg(),
            Opcode::LLVMGetElementPtr => match element_bytes(next.gep_source_type()) {
                Some(size) => c.wrapping_mul(size),
                None => continue,
            },
            _ => continue,
        };
        if step != 0 {
            out.push((phi, start, step));
        }
    }
    out
}

/// The size of a GEP's element type when it is a scalar (what optimized IR uses for pointer
/// induction variables: `i8`, or the element's own type).
fn element_bytes(ty: oxidase_llvm::Type) -> Option<i64> {
    use oxidase_llvm::TypeKind::*;
    match ty.kind() {
        LLVMIntegerTypeKind if ty.int_width() % 8 == 0 => Some(i64::from(ty.int_width() / 8)),
        LLVMFloatTypeKind => Some(4),
        LLVMDoubleTypeKind => Some(8),
        _ => None,
    }
}

/// Immediate dominators (Cooper, Harvey, Kennedy: "A Simple, Fast Dominance Algorithm").
fn dominators(order: &[Block], index: &HashMap<Block, usize>, preds: &HashMap<Block, Vec<Block>>) -> Vec<usize> {
    let n = order.len();
    let mut idom = vec![usize::MAX; n];
    if n == 0 {
        return idom;
    }
    idom[0] = 0;
    let mut changed = true;
    while changed {
        changed = false;
        for b in 1..n {
            let mut new = usize::MAX;
            for p in preds.get(&order[b]).into_iter().flatten() {
                let Some(&p) = index.get(p) else { continue };
                if idom[p] == usize::MAX {
                    continue;
                }
                new = if new == usize::MAX { p } else { intersect(&idom, p, new) };
            }
            if new != usize::MAX && idom[b] != new {
                idom[b] = new;
                changed = true;
            }
        }
    }
    idom
}

fn intersect(idom: &[usize], mut a: usize, mut b: usize) -> usize {
    while a != b {
        while a > b {
            a = idom[a];
        }
        while b > a {
            b = idom[b];
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::reverse_post_order;
    use oxidase_llvm::module::{self, Context};

    /// A nest: an integer-counted outer loop around a pointer-stepped inner loop, an early
    /// exit from the inner loop, and a `while` whose latch branches on a load (not counted:
    /// two latches).
    const NEST: &str = r#"
define i64 @nest(ptr %p, i64 %n, ptr %end) {
entry:
  br label %outer
outer:
  %i = phi i64 [ 0, %entry ], [ %i1, %outer.latch ]
  br label %inner
inner:
  %q = phi ptr [ %p, %outer ], [ %q1, %inner.latch ]
  %v = load i64, ptr %q
  %hit = icmp eq i64 %v, 0
  br i1 %hit, label %found, label %inner.latch
inner.latch:
  %q1 = getelementptr i8, ptr %q, i64 8
  %more = icmp ne ptr %q1, %end
  br i1 %more, label %inner, label %outer.latch
outer.latch:
  %i1 = add i64 %i, 2
  %go = icmp slt i64 %i1, %n
  br i1 %go, label %outer, label %spin
spin:
  %w = load i64, ptr %p
  %z = icmp eq i64 %w, 7
  br i1 %z, label %spin, label %spin2
spin2:
  %w2 = load i64, ptr %end
  %z2 = icmp eq i64 %w2, 1
  br i1 %z2, label %spin, label %done
found:
  ret i64 %i
done:
  ret i64 -1
}
"#;

    #[test]
    fn counted_loops_dominators_and_cycles() {
        let ctx = Context::new();
        let owned = ctx.parse_ir(NEST, "t").unwrap();
        let f = module::get_function(owned.raw(), "nest").unwrap();
        let cfg = Cfg::new(reverse_post_order(f));
        let block = |name: &str| cfg.order.iter().copied().find(|b| b.name() == name).unwrap();
        let name = |b: Block| b.name();
        assert!(cfg.dominates(block("outer"), block("inner.latch")));
        assert!(!cfg.dominates(block("inner.latch"), block("found")));
        let cyclic = cfg.cyclic_blocks();
        for b in ["outer", "inner", "inner.latch", "outer.latch", "spin", "spin2"] {
            assert!(cyclic.contains(&block(b)), "{b} is on a cycle");
        }
        assert!(!cyclic.contains(&block("entry")) && !cyclic.contains(&block("found")));
        let returning = cfg.returning_blocks();
        assert!(returning.contains(&block("spin")) && returning.contains(&block("entry")));

        let mut loops = cfg.counted_loops();
        loops.sort_by_key(|l| name(l.header));
        let headers: Vec<String> = loops.iter().map(|l| name(l.header)).collect();
        assert_eq!(headers, ["inner", "outer"], "`spin` has two latches: not counted");
        let (inner, outer) = (&loops[0], &loops[1]);
        assert_eq!((inner.step, name(inner.latch), name(inner.preheader)), (8, "inner.latch".into(), "outer".into()));
        assert_eq!(inner.iv.name(), "q");
        assert_eq!(inner.start.name(), "p");
        let mut exits: Vec<(String, String)> = inner.exits.iter().map(|&(a, b)| (name(a), name(b))).collect();
        exits.sort();
        assert_eq!(exits, [("inner".into(), "found".into()), ("inner.latch".into(), "outer.latch".into())]);
        assert_eq!((outer.step, outer.iv.name()), (2, "i".into()));
        assert_eq!(outer.start.const_int_value(), Some(0));
        assert_eq!(outer.body.len(), 4);
        let mut exits: Vec<(String, String)> = outer.exits.iter().map(|&(a, b)| (name(a), name(b))).collect();
        exits.sort();
        assert_eq!(exits, [("inner".into(), "found".into()), ("outer.latch".into(), "spin".into())]);

        // Trip bounds: the inner loop's pointer meets `%end` (its early exit tests data); the
        // outer loop steps by 2 without `nsw` under a signed test: it could wrap, no bound.
        assert_eq!(inner.trips.len(), 1);
        let t = inner.trips[0];
        assert_eq!((name(t.exit.0), t.test, t.next, t.bound.name()), ("inner.latch".into(), TripTest::Differs, true, "end".into()));
        assert!(outer.trips.is_empty());
    }

    /// Counting exits in the shapes rustc and LLVM leave: down by one while `i > 0` (`nsw`),
    /// `n > i` with the operands swapped (`nuw`), an equality leaving on the true edge, and an
    /// inclusive test.
    const TRIPS: &str = r#"
define void @trips(i64 %n, i32 %m) {
entry:
  br label %down
down:
  %d = phi i64 [ %n, %entry ], [ %d1, %down ]
  %d1 = add nsw i64 %d, -1
  %dc = icmp sgt i64 %d, 0
  br i1 %dc, label %down, label %up
up:
  %u = phi i64 [ 0, %down ], [ %u1, %up ]
  %u1 = add nuw i64 %u, 3
  %uc = icmp ugt i64 %n, %u1
  br i1 %uc, label %up, label %eq
eq:
  %e = phi i64 [ 0, %up ], [ %e1, %eq ]
  %e1 = add i64 %e, 1
  %ec = icmp eq i64 %e1, %n
  br i1 %ec, label %incl, label %eq
incl:
  %k = phi i32 [ 0, %eq ], [ %k1, %incl ]
  %k1 = add nsw i32 %k, 2
  %kc = icmp sle i32 %k1, %m
  br i1 %kc, label %incl, label %done
done:
  ret void
}
"#;

    #[test]
    fn trip_bounds() {
        let ctx = Context::new();
        let owned = ctx.parse_ir(TRIPS, "t").unwrap();
        let f = module::get_function(owned.raw(), "trips").unwrap();
        let cfg = Cfg::new(reverse_post_order(f));
        let loops = cfg.counted_loops();
        let trip = |h: &str| {
            let l = loops.iter().find(|l| l.header.name() == h).unwrap();
            assert_eq!(l.trips.len(), 1, "{h}");
            let t = l.trips[0];
            (t.test, t.next, t.iv.2, t.may_wrap)
        };
        assert_eq!(trip("down"), (TripTest::Before { signed: true }, false, -1, false));
        assert_eq!(trip("up"), (TripTest::Before { signed: false }, true, 3, false));
        assert_eq!(trip("eq"), (TripTest::Differs, true, 1, false));
        assert_eq!(trip("incl"), (TripTest::UpTo { signed: true }, true, 2, false));
    }
}
