//! Lookups shared by both sweeps: a primal value's copy, its shadows, whether it has an adjoint, and cloning primal instructions with remapped operands.

use super::*;

impl Gen<'_> {
    pub(super) fn val(&self, v: Value) -> Value {
        if v.is_basic_block() {
            return self.bmap[&v.as_block()].as_value();
        }
        self.vmap.get(&v).copied().unwrap_or(v)
    }

    pub(super) fn shadow(&mut self, v: Value, k: usize) -> Option<Value> {
        if let Some(s) = self.smap.get(&v) {
            return Some(s[k]);
        }
        if self.activity.shadow_globals.contains(&v) {
            return Some(self.engine.shadow_global(v, true, k));
        }
        if v.is_function()
            || (v.is_constant() && v.ty().is_pointer() && (v.is_null_constant() || v.is_undef()))
        {
            return Some(v);
        }
        // A field taken out of a constant aggregate (a dev build's `extractvalue { ptr, i64 }
        // { ptr inttoptr (i64 8 to ptr), i64 0 }, 0`): a null or dangling address is its own
        // shadow.
        if v.is_instruction() && v.opcode() == Opcode::LLVMExtractValue && v.operand(0).is_constant_aggregate() {
            let field = v.indices().iter().try_fold(v.operand(0), |c, &i| c.is_constant_aggregate().then(|| c.operand(i)));
            if field.is_some_and(|f| f.is_null_constant() || f.is_undef() || f.is_int_to_ptr()) {
                return Some(self.val(v));
            }
        }
        if activity::is_sentinel(v) && !self.activity.is_active(v) {
            // A sentinel address made from an integer is its own shadow (activity.rs).
            return Some(self.val(v));
        }
        if v.ty().is_int() && !self.activity.pointer_ints.contains(&v) {
            // An integer joined with pointers carried as integers: a sentinel address.
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
        if op.is_instruction() && op.opcode() == Opcode::LLVMInsertValue && !self.smap.contains_key(&op) && !self.activity.is_active(op) {
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
        emit::clone_at(&self.b, inst, |v| self.val(v), overrides)
    }

    pub(super) fn emit_shadow_like(&mut self, inst: Value, overrides: &[(u32, Value)]) -> Value {
        let c = self.emit_like(inst, overrides);
        emit::strip_primal_facts(c);
        c
    }

    pub(super) fn copy_primal(&mut self, inst: Value) -> Value {
        let c = self.emit_like(inst, &[]);
        self.vmap.insert(inst, c);
        c
    }
}
