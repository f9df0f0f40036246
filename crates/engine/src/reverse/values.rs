//! Lookups shared by both sweeps: a primal value's copy, its shadows, whether it has an adjoint, and cloning primal instructions with remapped operands.

use super::*;

impl Gen<'_> {
    pub(super) fn val(&self, v: Value) -> Value {
        self.map.val(v)
    }

    /// The shadow of `v` in lane `k` ([`Mapping::shadow`]); an integer that carries no pointer
    /// (it is not joined with pointers carried as integers) is a sentinel address, its own
    /// shadow.
    pub(super) fn shadow(&mut self, v: Value, k: usize) -> Option<Value> {
        if let Some(s) = self.map.shadow(self.engine, &self.activity, v, k) {
            return Some(s);
        }
        if v.ty().is_int() && !self.activity.pointer_ints.contains(&v) {
            return Some(self.val(v));
        }
        None
    }

    /// The shadow of a pointer that must have one. A pointer without a shadow here would make
    /// the derivative read or write through null: refuse instead (an inconsistency between
    /// activity analysis and this transformation, reported as an internal error).
    pub(super) fn shadow_or_null(&mut self, v: Value, k: usize) -> Value {
        if let Some(s) = self.shadow(v, k) {
            return s;
        }
        if v.ty().contains_pointer() && !v.is_constant() {
            self.error(
                v,
                format!("no shadow is known for the pointer `{}` (internal error)", describe(v)),
                "please report this program",
            );
        }
        v.ty().zero()
    }

    /// The shadow of a value placed into a shadowed aggregate (an operand of `insertvalue` or
    /// `select`), emitted at the builder's position: a pointer's shadow; a number as it is; an
    /// aggregate that carries no derivative itself but was built field by field
    /// (`insertvalue { i64, ptr } poison, i64 %n, 0` before the pointer goes in) rebuilt from
    /// the shadows of its fields.
    pub(super) fn field_shadow(&mut self, op: Value, k: usize) -> Value {
        if !(op.ty().contains_pointer() || self.activity.pointer_ints.contains(&op)) {
            return self.val(op);
        }
        if op.is_instruction() && op.opcode() == Opcode::LLVMInsertValue && !self.map.smap.contains_key(&op) && !self.activity.is_active(op) {
            let agg = self.field_shadow(op.operand(0), k);
            let field = self.field_shadow(op.operand(1), k);
            return self.emit_shadow_like(op, &[(0, agg), (1, field)]);
        }
        self.shadow_or_null(op, k)
    }

    /// Whether `v` carries an adjoint.
    pub(super) fn has_adjoint(&self, v: Value) -> bool {
        self.adjoint_type(v).is_some()
    }

    /// The type of `v`'s adjoint: its own type when it holds floats; for an integer carrying
    /// float bits ([`crate::bits`]), the float type the bits stand for.
    pub(super) fn adjoint_type(&self, v: Value) -> Option<Type> {
        if !(v.is_instruction() || v.is_argument()) || !self.activity.is_active(v) {
            return None;
        }
        if v.ty().contains_float() {
            return Some(v.ty());
        }
        self.activity.bits.float_view(v)
    }

    /// Whether `v` (a pointer, pointer aggregate, or an integer carrying a pointer) has shadows.
    pub(super) fn has_shadow(&self, v: Value) -> bool {
        (v.ty().contains_pointer() || self.activity.pointer_ints.contains(&v)) && self.activity.is_active(v)
    }

    // ---- forward sweep ----

    pub(super) fn emit_like(&mut self, inst: Value, overrides: &[(u32, Value)]) -> Value {
        self.map.emit_like(&self.b, inst, overrides)
    }

    pub(super) fn emit_shadow_like(&mut self, inst: Value, overrides: &[(u32, Value)]) -> Value {
        self.map.emit_shadow_like(&self.b, inst, overrides)
    }

    pub(super) fn copy_primal(&mut self, inst: Value) -> Value {
        self.map.copy_primal(&self.b, inst)
    }
}
