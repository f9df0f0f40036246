//! Skipping the reversal of a loop whose incoming adjoints are all zero.
//!
//! The reversal of a counted loop that writes no differentiated memory and calls nothing but
//! rules is a linear map of the adjoints of the values the loop hands out (defined inside, used
//! after it): each adjoint it adds to a value or to shadow memory is one of those times a
//! partial. When they are all zero it adds only zeros, so the reversal jumps from the loop's
//! exit straight to the reversal of its preheader, popping the loop's buffer on the way. The
//! test is [`crate::zero_test`]'s, which a derivative of this derivative turns into the right
//! test for itself (tangents included, or never skipping).
//!
//! What the loop keeps per execution is handed over before the test (it comes off the tape
//! either way); a loop that pushes on the tape inside (an inner cycle without a counted
//! variable, no buffer for its rows) is not skipped, since its pops would be left behind.
//! An exit edge offers the skip while the reversal is generated ([`Gen::offer_skip`]); whether
//! the loop qualifies is known once every reversal has fetched its values
//! ([`Gen::finish_skips`]).

use super::*;

/// A reversal of a loop exit offering to skip the loop: (loop, the branch into the reversal,
/// the block going on into it, the block going around it).
pub(super) type SkipOffer = (usize, Value, Block, Block);

impl Gen<'_> {
    /// On the reversal of an exit edge of loop `li`, after the adjoints reaching the loop are
    /// accumulated: a branch around the loop's reversal, decided by [`Gen::finish_skips`].
    pub(super) fn offer_skip(&mut self, li: usize) {
        if !self.may_skip(li) {
            return;
        }
        let ctx = context_of(self.module());
        let run = Block::append(ctx, self.rev_fn, "rev.loop.run");
        let around = Block::append(ctx, self.rev_fn, "rev.loop.skip");
        let br = self.b.cond_br(Type::i1(ctx).const_int(1), run, around);
        self.b.position_at_end(run);
        self.skips.push((li, br, run, around));
    }

    /// Whether loop `li`'s reversal can be a linear map of the adjoints it receives: no inner
    /// loop, no calls other than rules, no stores or copies into differentiated memory, no
    /// stack slots, and no other loop's exit into its header.
    fn may_skip(&self, li: usize) -> bool {
        let l = &self.loops[li];
        if self.loops.iter().enumerate().any(|(j, o)| j != li && l.body.contains(&o.header)) || self.loop_exits.contains_key(&(l.preheader, l.header)) {
            return false;
        }
        l.body.iter().flat_map(|b| b.instructions()).all(|i| match i.opcode() {
            Opcode::LLVMCall => {
                crate::zero_test::is_zero_test(i) || matches!(classify(i, &self.subst), CallKind::Ignored | CallKind::IntegerOnly | CallKind::Rule(_))
            }
            Opcode::LLVMStore => !self.activity.is_active(i.operand(1)),
            Opcode::LLVMInvoke | Opcode::LLVMAlloca | Opcode::LLVMAtomicRMW | Opcode::LLVMAtomicCmpXchg | Opcode::LLVMFence => false,
            _ => true,
        })
    }

    /// Once every value the reversal needs has its carrier: each offer becomes the test of the
    /// adjoints of the loop's values used after it, or, for a loop whose reversal pops the tape
    /// or that hands out no adjoint, the plain branch into the reversal.
    pub(super) fn finish_skips(&mut self) {
        let ctx = context_of(self.module());
        for (li, br, run, around) in std::mem::take(&mut self.skips) {
            let b = Builder::new(ctx);
            b.position_before(br);
            let slots = self.skip_inputs(li);
            match slots {
                Some(slots) if !slots.is_empty() => {
                    let xs: Vec<Value> = slots.iter().map(|&(s, ty)| b.load(ty, s)).collect();
                    let c = crate::zero_test::test_any(self.module(), &b, xs[0], &xs[1..]);
                    br.set_operand(0, c);
                    b.position_at_end(around);
                    b.br(self.rhead[&self.loops[li].preheader]);
                    self.note_buffer_leave(li, around);
                    self.stats.zero_skips += 1;
                }
                _ => {
                    b.br(run);
                    br.erase();
                    around.delete();
                }
            }
        }
    }

    /// The adjoint slots (with their types) of loop `li`'s values used after it, if its
    /// reversal pops nothing from the tape inside and every such adjoint is a float or a
    /// vector of floats.
    fn skip_inputs(&self, li: usize) -> Option<Vec<(Value, Type)>> {
        let l = &self.loops[li];
        let taped = l.body.iter().any(|b| self.saves.get(b).is_some_and(|s| s.iter().any(|(_, c)| matches!(c, Carrier::Tape))));
        if taped {
            return None;
        }
        let mut slots = Vec::new();
        for &b in &l.body {
            for v in b.instructions() {
                let Some(s) = self.adj.get(&v) else { continue };
                if !v.users().into_iter().any(|u| u.is_instruction() && !l.body.contains(&u.parent_block())) {
                    continue;
                }
                let ty = self.adjoint_type(v)?;
                if !ty.is_float_or_float_vector() {
                    return None;
                }
                slots.extend(s.iter().map(|&s| (s, ty)));
            }
        }
        Some(slots)
    }
}
