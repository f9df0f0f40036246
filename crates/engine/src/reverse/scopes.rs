//! Alias scopes of the memory a reverse derivative touches: the tape, primal memory, and the
//! shadow of each object [`crate::modref`] can name. The reversal's loads and stores of shadows
//! say which shadow they touch, so that LLVM keeps an adjoint accumulated in a loop in a
//! register and vectorizes reversed loops even where the shadows came through the tape (a
//! split derivative) or the stable route's argument tuple hides the parameters' `noalias`.
//!
//! Why the spaces are disjoint: the tape is a buffer of its own; a shadow is never primal
//! memory (guarded accesses, where a shadow may be the primal itself, are not tagged); the
//! shadow of a fresh heap block or stack slot is a block or slot of its own, kept until the
//! derivative ends; the shadows of `&mut` parameters are as distinct as the parameters (and
//! from the shadows of `&T` ones, which share one space since two `&T` may be one object); a
//! pointer read out of a `&T` parameter (a field of the stable route's argument tuple) is the
//! caller's, so its shadow joins the `&T` parameters' space.

use super::*;
use crate::modref::Root;

/// What memory an access touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Space {
    Tape,
    Primal,
    /// The shadow of a fresh heap block or of a stack slot (the allocating instruction).
    ShadowOf(Value),
    /// The shadow of `&mut` parameter `i`.
    ShadowOfArg(u32),
    /// The shadows of every `&T` parameter.
    ShadowOfSharedArgs,
}

impl Gen<'_> {
    /// The spaces the shadow of primal pointer `p` may point into, when every object `p` may
    /// point into has a shadow space.
    pub(super) fn shadow_spaces(&self, p: Value) -> Option<Vec<Space>> {
        if self.runtime || self.guarded(p) {
            return None;
        }
        let roots = self.modref.roots(p)?;
        let mut out = Vec::new();
        for r in roots {
            let s = match r {
                // Null or a dangling address: nothing is accessed there.
                Root::Constant => continue,
                Root::Fresh(v) | Root::Local(v) => Space::ShadowOf(v),
                Root::Arg(i) if !self.self_shadowed.contains(&(i as usize)) => match self.modref.exclusive_arg(i)? {
                    true => Space::ShadowOfArg(i),
                    false => Space::ShadowOfSharedArgs,
                },
                // A pointer read out of a `&T` parameter (the stable route's argument tuple):
                // the caller's pointer, since nothing may write that memory during the call; its
                // shadow may be any caller object a `&T` reaches, like a shared parameter's.
                Root::Loaded(l) if self.loaded_from_shared_arg(l) => Space::ShadowOfSharedArgs,
                _ => return None,
            };
            if !out.contains(&s) {
                out.push(s);
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// Whether `load` reads a pointer straight out of `noalias readonly` parameters (not their
    /// own shadows): memory the caller owns and nobody writes while the derivative runs, so
    /// the pointer is one the caller put there, never a local object's or the tape's.
    fn loaded_from_shared_arg(&self, load: Value) -> bool {
        if !load.is_instruction() || load.opcode() != Opcode::LLVMLoad {
            return false;
        }
        let Some(roots) = self.modref.roots(load.operand(0)) else {
            return false;
        };
        !roots.is_empty()
            && roots.iter().all(|r| {
                matches!(*r, Root::Arg(j) if !self.self_shadowed.contains(&(j as usize)) && self.modref.exclusive_arg(j) == Some(false))
            })
    }

    /// Records that the memory access `inst` touches only `spaces`.
    pub(super) fn tag(&mut self, inst: Value, spaces: &[Space]) {
        self.tagged.push((inst, spaces.to_vec()));
    }

    /// A tape entry read: in the tape's space.
    pub(super) fn tape_tag(&mut self, load: Value) -> Value {
        self.tag(load, &[Space::Tape]);
        load
    }

    /// Tape entries written.
    pub(super) fn tape_tags(&mut self, stores: Vec<Value>) {
        self.tape_used |= !stores.is_empty();
        for s in stores {
            self.tag(s, &[Space::Tape]);
        }
    }

    /// Accesses of the shadow of primal pointer `p`, where its spaces are known.
    pub(super) fn tag_shadow_access(&mut self, p: Value, insts: &[Value]) {
        if let Some(spaces) = self.shadow_spaces(p) {
            for &i in insts {
                self.tag(i, &spaces);
            }
        }
    }

    /// After the sweeps: one scope per space in a domain of this derivative; each tagged
    /// access is in its spaces' scopes and `noalias` with every other.
    pub(super) fn attach_scopes(&mut self) {
        let tagged = std::mem::take(&mut self.tagged);
        if tagged.is_empty() {
            return;
        }
        let ctx = context_of(self.module());
        let name = crate::error::demangle(&self.primal.name());
        let domain = oxidase_llvm::new_alias_scope(ctx, None, &format!("oxidase: {name}"));
        let mut scopes: Vec<(Space, Value)> = Vec::new();
        for (_, spaces) in &tagged {
            for &s in spaces {
                if !scopes.iter().any(|(x, _)| *x == s) {
                    let text = match s {
                        Space::Tape => "tape".to_string(),
                        Space::Primal => "primal memory".to_string(),
                        Space::ShadowOf(_) => format!("shadow of object {}", scopes.len()),
                        Space::ShadowOfArg(i) => format!("shadow of parameter {i}"),
                        Space::ShadowOfSharedArgs => "shadows of shared parameters".to_string(),
                    };
                    let scope = oxidase_llvm::new_alias_scope(ctx, Some(domain), &text);
                    scopes.push((s, scope));
                }
            }
        }
        if scopes.len() < 2 {
            return;
        }
        for (inst, spaces) in tagged {
            let own: Vec<Value> = scopes.iter().filter(|(s, _)| spaces.contains(s)).map(|x| x.1).collect();
            let others: Vec<Value> = scopes.iter().filter(|(s, _)| !spaces.contains(s)).map(|x| x.1).collect();
            inst.add_scopes("alias.scope", &own);
            inst.add_scopes("noalias", &others);
        }
    }
}
