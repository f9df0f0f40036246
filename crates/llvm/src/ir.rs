//! IR handles: types, values, instructions, blocks, functions.

use crate::{cstring, str_from_raw, take_message};
use llvm_sys::core::*;
use llvm_sys::prelude::*;
pub use llvm_sys::{
    LLVMIntPredicate as IntPredicate, LLVMLinkage as Linkage, LLVMOpcode as Opcode,
    LLVMRealPredicate as RealPredicate, LLVMTypeKind as TypeKind,
};
use std::fmt;

/// An LLVM type.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Type(pub LLVMTypeRef);

/// Any LLVM value: constant, argument, instruction, function, global.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value(pub LLVMValueRef);

/// A basic block.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Block(pub LLVMBasicBlockRef);

impl fmt::Debug for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.print())
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.print())
    }
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "block %{}", self.name())
    }
}

impl Type {
    pub fn kind(self) -> TypeKind {
        unsafe { LLVMGetTypeKind(self.0) }
    }
    pub fn context(self) -> LLVMContextRef {
        unsafe { LLVMGetTypeContext(self.0) }
    }
    pub fn print(self) -> String {
        take_message(unsafe { LLVMPrintTypeToString(self.0) })
    }
    /// `half`, `bfloat`, `float`, `double`, `fp128`, `x86_fp80`, `ppc_fp128`.
    pub fn is_float(self) -> bool {
        use TypeKind::*;
        matches!(
            self.kind(),
            LLVMHalfTypeKind
                | LLVMBFloatTypeKind
                | LLVMFloatTypeKind
                | LLVMDoubleTypeKind
                | LLVMFP128TypeKind
                | LLVMX86_FP80TypeKind
                | LLVMPPC_FP128TypeKind
        )
    }
    /// A float scalar or a vector of floats.
    pub fn is_float_or_float_vector(self) -> bool {
        self.is_float() || (self.is_vector() && self.element().is_float())
    }
    pub fn is_int(self) -> bool {
        self.kind() == TypeKind::LLVMIntegerTypeKind
    }
    pub fn is_pointer(self) -> bool {
        self.kind() == TypeKind::LLVMPointerTypeKind
    }
    pub fn is_void(self) -> bool {
        self.kind() == TypeKind::LLVMVoidTypeKind
    }
    pub fn is_vector(self) -> bool {
        matches!(self.kind(), TypeKind::LLVMVectorTypeKind | TypeKind::LLVMScalableVectorTypeKind)
    }
    pub fn is_struct(self) -> bool {
        self.kind() == TypeKind::LLVMStructTypeKind
    }
    pub fn is_array(self) -> bool {
        self.kind() == TypeKind::LLVMArrayTypeKind
    }
    pub fn is_aggregate(self) -> bool {
        self.is_struct() || self.is_array()
    }
    pub fn int_width(self) -> u32 {
        unsafe { LLVMGetIntTypeWidth(self.0) }
    }
    /// Element type of a vector or array.
    pub fn element(self) -> Type {
        Type(unsafe { LLVMGetElementType(self.0) })
    }
    pub fn vector_len(self) -> u32 {
        unsafe { LLVMGetVectorSize(self.0) }
    }
    pub fn array_len(self) -> u64 {
        unsafe { LLVMGetArrayLength2(self.0) }
    }
    pub fn struct_fields(self) -> Vec<Type> {
        let n = unsafe { LLVMCountStructElementTypes(self.0) } as usize;
        let mut out = vec![std::ptr::null_mut(); n];
        unsafe { LLVMGetStructElementTypes(self.0, out.as_mut_ptr()) };
        out.into_iter().map(Type).collect()
    }
    /// The type of element `i` of an aggregate.
    pub fn field(self, i: u32) -> Type {
        if self.is_struct() {
            Type(unsafe { LLVMStructGetTypeAtIndex(self.0, i) })
        } else {
            self.element()
        }
    }
    /// Number of elements of an aggregate (struct fields or array length).
    pub fn aggregate_len(self) -> u32 {
        if self.is_struct() {
            unsafe { LLVMCountStructElementTypes(self.0) }
        } else {
            self.array_len() as u32
        }
    }
    /// Whether a value of this type can carry floating-point data (directly, not through memory).
    pub fn contains_float(self) -> bool {
        if self.is_float() {
            true
        } else if self.is_vector() {
            self.element().is_float()
        } else if self.is_struct() {
            self.struct_fields().into_iter().any(|t| t.contains_float())
        } else if self.is_array() {
            self.element().contains_float()
        } else {
            false
        }
    }
    /// Whether a value of this type can carry a pointer (directly).
    pub fn contains_pointer(self) -> bool {
        if self.is_pointer() {
            true
        } else if self.is_vector() {
            self.element().is_pointer()
        } else if self.is_struct() {
            self.struct_fields().into_iter().any(|t| t.contains_pointer())
        } else if self.is_array() {
            self.element().contains_pointer()
        } else {
            false
        }
    }
    // Constructors.
    pub fn void(ctx: LLVMContextRef) -> Type {
        Type(unsafe { LLVMVoidTypeInContext(ctx) })
    }
    pub fn i1(ctx: LLVMContextRef) -> Type {
        Type(unsafe { LLVMInt1TypeInContext(ctx) })
    }
    pub fn i8(ctx: LLVMContextRef) -> Type {
        Type(unsafe { LLVMInt8TypeInContext(ctx) })
    }
    pub fn i32(ctx: LLVMContextRef) -> Type {
        Type(unsafe { LLVMInt32TypeInContext(ctx) })
    }
    /// The integer type of `bits` bits.
    pub fn int(ctx: LLVMContextRef, bits: u32) -> Type {
        Type(unsafe { LLVMIntTypeInContext(ctx, bits) })
    }
    pub fn i64(ctx: LLVMContextRef) -> Type {
        Type(unsafe { LLVMInt64TypeInContext(ctx) })
    }
    pub fn f64(ctx: LLVMContextRef) -> Type {
        Type(unsafe { LLVMDoubleTypeInContext(ctx) })
    }
    pub fn f32(ctx: LLVMContextRef) -> Type {
        Type(unsafe { LLVMFloatTypeInContext(ctx) })
    }
    pub fn ptr(ctx: LLVMContextRef) -> Type {
        Type(unsafe { LLVMPointerTypeInContext(ctx, 0) })
    }
    pub fn struct_of(ctx: LLVMContextRef, fields: &[Type]) -> Type {
        let mut raw: Vec<_> = fields.iter().map(|t| t.0).collect();
        Type(unsafe { LLVMStructTypeInContext(ctx, raw.as_mut_ptr(), raw.len() as u32, 0) })
    }
    pub fn array_of(elem: Type, n: u64) -> Type {
        Type(unsafe { LLVMArrayType2(elem.0, n) })
    }
    /// The fixed-length vector `<n x elem>`.
    pub fn vector_of(elem: Type, n: u32) -> Type {
        Type(unsafe { LLVMVectorType(elem.0, n) })
    }
    pub fn function(ret: Type, params: &[Type], variadic: bool) -> Type {
        let mut raw: Vec<_> = params.iter().map(|t| t.0).collect();
        Type(unsafe { LLVMFunctionType(ret.0, raw.as_mut_ptr(), raw.len() as u32, variadic as i32) })
    }
    /// Parameter types of a function type.
    pub fn param_types(self) -> Vec<Type> {
        let n = unsafe { LLVMCountParamTypes(self.0) } as usize;
        let mut out = vec![std::ptr::null_mut(); n];
        unsafe { LLVMGetParamTypes(self.0, out.as_mut_ptr()) };
        out.into_iter().map(Type).collect()
    }
    pub fn return_type(self) -> Type {
        Type(unsafe { LLVMGetReturnType(self.0) })
    }
    pub fn is_variadic(self) -> bool {
        unsafe { LLVMIsFunctionVarArg(self.0) != 0 }
    }
    /// The all-zero constant of this type (`0.0`, `null`, `zeroinitializer`).
    pub fn zero(self) -> Value {
        Value(unsafe { LLVMConstNull(self.0) })
    }
    pub fn undef(self) -> Value {
        Value(unsafe { LLVMGetUndef(self.0) })
    }
    pub fn poison(self) -> Value {
        Value(unsafe { LLVMGetPoison(self.0) })
    }
    /// A float constant; for a float vector, the splat of `v`.
    pub fn const_float(self, v: f64) -> Value {
        if self.is_vector() {
            let e = self.element().const_float(v);
            let mut elems = vec![e.0; self.vector_len() as usize];
            Value(unsafe { LLVMConstVector(elems.as_mut_ptr(), elems.len() as u32) })
        } else {
            Value(unsafe { LLVMConstReal(self.0, v) })
        }
    }
    /// The identity of `fadd` for this type: float leaves are `-0.0` (`-0.0 + x == x` for every
    /// `x`, so the optimizer folds the addition away), other leaves are zero.
    pub fn fadd_identity(self) -> Value {
        if self.is_float_or_float_vector() {
            return self.const_float(-0.0);
        }
        if !self.contains_float() {
            return self.zero();
        }
        let mut fields: Vec<LLVMValueRef> = (0..self.aggregate_len()).map(|i| self.field(i).fadd_identity().0).collect();
        unsafe {
            if self.is_array() {
                Value(LLVMConstArray2(self.element().0, fields.as_mut_ptr(), fields.len() as u64))
            } else if !LLVMGetStructName(self.0).is_null() {
                Value(LLVMConstNamedStruct(self.0, fields.as_mut_ptr(), fields.len() as u32))
            } else {
                let packed = LLVMIsPackedStruct(self.0);
                Value(LLVMConstStructInContext(self.context(), fields.as_mut_ptr(), fields.len() as u32, packed))
            }
        }
    }
    pub fn const_int(self, v: u64) -> Value {
        if self.is_vector() {
            let e = self.element().const_int(v);
            let mut elems = vec![e.0; self.vector_len() as usize];
            Value(unsafe { LLVMConstVector(elems.as_mut_ptr(), elems.len() as u32) })
        } else {
            Value(unsafe { LLVMConstInt(self.0, v, 0) })
        }
    }
}

/// What kind of value a `Value` is, coarsely.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueClass {
    Argument,
    Instruction,
    Function,
    GlobalVariable,
    Constant,
    Other,
}

impl Value {
    pub fn is_null(self) -> bool {
        self.0.is_null()
    }
    /// Whether this is a constant null value (`ptr null`, `zeroinitializer`, `0`).
    pub fn is_null_constant(self) -> bool {
        !self.0.is_null() && self.is_constant() && unsafe { LLVMIsNull(self.0) != 0 }
    }
    pub fn ty(self) -> Type {
        Type(unsafe { LLVMTypeOf(self.0) })
    }
    pub fn print(self) -> String {
        take_message(unsafe { LLVMPrintValueToString(self.0) })
    }
    pub fn name(self) -> String {
        let mut len = 0;
        let p = unsafe { LLVMGetValueName2(self.0, &mut len) };
        str_from_raw(p, len)
    }
    pub fn set_name(self, name: &str) {
        unsafe { LLVMSetValueName2(self.0, name.as_ptr() as *const _, name.len()) }
    }
    pub fn class(self) -> ValueClass {
        unsafe {
            if !LLVMIsAArgument(self.0).is_null() {
                ValueClass::Argument
            } else if !LLVMIsAInstruction(self.0).is_null() {
                ValueClass::Instruction
            } else if !LLVMIsAFunction(self.0).is_null() {
                ValueClass::Function
            } else if !LLVMIsAGlobalVariable(self.0).is_null() {
                ValueClass::GlobalVariable
            } else if LLVMIsConstant(self.0) != 0 {
                ValueClass::Constant
            } else {
                ValueClass::Other
            }
        }
    }
    pub fn is_instruction(self) -> bool {
        unsafe { !LLVMIsAInstruction(self.0).is_null() }
    }
    pub fn is_argument(self) -> bool {
        unsafe { !LLVMIsAArgument(self.0).is_null() }
    }
    pub fn is_function(self) -> bool {
        unsafe { !LLVMIsAFunction(self.0).is_null() }
    }
    pub fn is_global_variable(self) -> bool {
        unsafe { !LLVMIsAGlobalVariable(self.0).is_null() }
    }
    /// A constant (including globals and functions, whose addresses are constants).
    pub fn is_constant(self) -> bool {
        unsafe { LLVMIsConstant(self.0) != 0 }
    }
    pub fn is_undef(self) -> bool {
        unsafe { LLVMIsUndef(self.0) != 0 }
    }
    pub fn is_inline_asm(self) -> bool {
        unsafe { !LLVMIsAInlineAsm(self.0).is_null() }
    }
    pub fn is_metadata(self) -> bool {
        unsafe { LLVMGetValueKind(self.0) == llvm_sys::LLVMValueKind::LLVMMetadataAsValueValueKind }
    }
    pub fn is_basic_block(self) -> bool {
        unsafe { LLVMValueIsBasicBlock(self.0) != 0 }
    }
    pub fn as_block(self) -> Block {
        Block(unsafe { LLVMValueAsBasicBlock(self.0) })
    }
    /// The value of a `ConstantFP`, if this is one.
    pub fn const_float_value(self) -> Option<f64> {
        unsafe {
            if LLVMIsAConstantFP(self.0).is_null() {
                return None;
            }
            let mut lossy = 0;
            Some(LLVMConstRealGetDouble(self.0, &mut lossy))
        }
    }
    pub fn const_int_value(self) -> Option<i64> {
        unsafe {
            if LLVMIsAConstantInt(self.0).is_null() {
                return None;
            }
            Some(LLVMConstIntGetSExtValue(self.0))
        }
    }

    // ---- instructions ----
    pub fn opcode(self) -> Opcode {
        unsafe { LLVMGetInstructionOpcode(self.0) }
    }
    /// The opcode of a constant expression (`inttoptr (i64 8 to ptr)`), if `self` is one.
    pub fn const_expr_opcode(self) -> Option<Opcode> {
        unsafe {
            if LLVMIsAConstantExpr(self.0).is_null() {
                None
            } else {
                Some(LLVMGetConstOpcode(self.0))
            }
        }
    }
    /// Whether this is a constant struct or array given field by field (its fields are its
    /// operands), as opposed to zero, undef or packed data.
    pub fn is_constant_aggregate(self) -> bool {
        unsafe { !LLVMIsAConstantStruct(self.0).is_null() || !LLVMIsAConstantArray(self.0).is_null() }
    }
    /// Whether this is a pointer made from an integer (`inttoptr` instruction or constant
    /// expression): a sentinel such as Rust's dangling pointer of an empty `Vec`.
    pub fn is_int_to_ptr(self) -> bool {
        (self.is_instruction() && self.opcode() == Opcode::LLVMIntToPtr)
            || self.const_expr_opcode() == Some(Opcode::LLVMIntToPtr)
    }
    /// Element `i` of a constant aggregate (struct, array, vector, or constant data such as
    /// `c"..."`), if it has one.
    pub fn aggregate_element(self, i: u32) -> Option<Value> {
        let v = unsafe { LLVMGetAggregateElement(self.0, i) };
        (!v.is_null()).then_some(Value(v))
    }
    pub fn num_operands(self) -> u32 {
        unsafe { LLVMGetNumOperands(self.0) as u32 }
    }
    pub fn operand(self, i: u32) -> Value {
        Value(unsafe { LLVMGetOperand(self.0, i) })
    }
    pub fn operands(self) -> Vec<Value> {
        (0..self.num_operands()).map(|i| self.operand(i)).collect()
    }
    pub fn set_operand(self, i: u32, v: Value) {
        unsafe { LLVMSetOperand(self.0, i, v.0) }
    }
    pub fn parent_block(self) -> Block {
        Block(unsafe { LLVMGetInstructionParent(self.0) })
    }
    pub fn next_instruction(self) -> Option<Value> {
        let v = unsafe { LLVMGetNextInstruction(self.0) };
        (!v.is_null()).then_some(Value(v))
    }
    pub fn fcmp_predicate(self) -> RealPredicate {
        unsafe { LLVMGetFCmpPredicate(self.0) }
    }
    pub fn icmp_predicate(self) -> IntPredicate {
        unsafe { LLVMGetICmpPredicate(self.0) }
    }
    /// Whether an `add`/`sub`/`mul`/`shl` carries `nuw`.
    pub fn has_no_unsigned_wrap(self) -> bool {
        unsafe { LLVMGetNUW(self.0) != 0 }
    }
    /// Whether an `add`/`sub`/`mul`/`shl` carries `nsw`.
    pub fn has_no_signed_wrap(self) -> bool {
        unsafe { LLVMGetNSW(self.0) != 0 }
    }
    /// Incoming (value, block) pairs of a phi.
    pub fn incoming(self) -> Vec<(Value, Block)> {
        let n = unsafe { LLVMCountIncoming(self.0) };
        (0..n)
            .map(|i| unsafe { (Value(LLVMGetIncomingValue(self.0, i)), Block(LLVMGetIncomingBlock(self.0, i))) })
            .collect()
    }
    pub fn add_incoming(self, v: Value, b: Block) {
        let mut vs = [v.0];
        let mut bs = [b.0];
        unsafe { LLVMAddIncoming(self.0, vs.as_mut_ptr(), bs.as_mut_ptr(), 1) }
    }
    pub fn successors(self) -> Vec<Block> {
        let n = unsafe { LLVMGetNumSuccessors(self.0) };
        (0..n).map(|i| Block(unsafe { LLVMGetSuccessor(self.0, i) })).collect()
    }
    /// The case value of successor `i` (≥ 1; successor 0 is the default) of a `switch`.
    pub fn switch_case_value(self, i: u32) -> Value {
        Value(unsafe { llvm_sys::core::LLVMGetSwitchCaseValue(self.0, i) })
    }
    pub fn set_successor(self, i: u32, b: Block) {
        unsafe { LLVMSetSuccessor(self.0, i, b.0) }
    }
    /// The allocated type of an `alloca`.
    pub fn allocated_type(self) -> Type {
        Type(unsafe { LLVMGetAllocatedType(self.0) })
    }
    /// Source element type of a GEP.
    pub fn gep_source_type(self) -> Type {
        Type(unsafe { LLVMGetGEPSourceElementType(self.0) })
    }
    pub fn is_in_bounds(self) -> bool {
        unsafe { LLVMIsInBounds(self.0) != 0 }
    }
    pub fn alignment(self) -> u32 {
        unsafe { LLVMGetAlignment(self.0) }
    }
    pub fn set_alignment(self, a: u32) {
        unsafe { LLVMSetAlignment(self.0, a) }
    }
    pub fn is_volatile(self) -> bool {
        unsafe { LLVMGetVolatile(self.0) != 0 }
    }
    /// Indices of `extractvalue` / `insertvalue`.
    pub fn indices(self) -> Vec<u32> {
        let n = unsafe { LLVMGetNumIndices(self.0) } as usize;
        let p = unsafe { LLVMGetIndices(self.0) };
        if n == 0 || p.is_null() {
            return Vec::new();
        }
        unsafe { std::slice::from_raw_parts(p, n) }.to_vec()
    }
    /// Shuffle mask of a `shufflevector` (-1 = undef lane).
    pub fn shuffle_mask(self) -> Vec<i32> {
        let n = unsafe { LLVMGetNumMaskElements(self.0) };
        (0..n).map(|i| unsafe { LLVMGetMaskValue(self.0, i) }).collect()
    }
    // ---- calls ----
    /// The called operand of a call/invoke (a function, or a pointer for indirect calls).
    pub fn called_value(self) -> Value {
        Value(unsafe { LLVMGetCalledValue(self.0) })
    }
    pub fn called_function_type(self) -> Type {
        Type(unsafe { LLVMGetCalledFunctionType(self.0) })
    }
    /// The number of call arguments (operands minus callee and, for invoke, the two destinations).
    pub fn num_call_args(self) -> u32 {
        unsafe { LLVMGetNumArgOperands(self.0) }
    }
    pub fn call_args(self) -> Vec<Value> {
        (0..self.num_call_args()).map(|i| self.operand(i)).collect()
    }
    pub fn is_tail_call(self) -> bool {
        unsafe { LLVMIsTailCall(self.0) != 0 }
    }
    pub fn normal_dest(self) -> Block {
        Block(unsafe { LLVMGetNormalDest(self.0) })
    }
    pub fn unwind_dest(self) -> Block {
        Block(unsafe { LLVMGetUnwindDest(self.0) })
    }
    /// The called function when the callee is a direct function reference.
    pub fn called_function(self) -> Option<Value> {
        let v = self.called_value();
        if v.is_null() {
            return None;
        }
        v.is_function().then_some(v)
    }
    pub fn erase(self) {
        unsafe { LLVMInstructionEraseFromParent(self.0) }
    }
    pub fn remove_from_parent(self) {
        unsafe { LLVMInstructionRemoveFromParent(self.0) }
    }
    pub fn delete_global(self) {
        unsafe { LLVMDeleteGlobal(self.0) }
    }
    pub fn replace_all_uses_with(self, new: Value) {
        unsafe { LLVMReplaceAllUsesWith(self.0, new.0) }
    }
    /// Users of this value (instructions and constants).
    pub fn users(self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut u = unsafe { LLVMGetFirstUse(self.0) };
        while !u.is_null() {
            out.push(Value(unsafe { LLVMGetUser(u) }));
            u = unsafe { LLVMGetNextUse(u) };
        }
        out
    }
    pub fn clone_instruction(self) -> Value {
        Value(unsafe { LLVMInstructionClone(self.0) })
    }
    /// Whether an instruction has the metadata attachment `kind` (e.g. "invariant.load").
    pub fn has_metadata(self, kind: &str) -> bool {
        unsafe {
            let ctx = LLVMGetTypeContext(LLVMTypeOf(self.0));
            let id = LLVMGetMDKindIDInContext(ctx, kind.as_ptr() as *const _, kind.len() as u32);
            !LLVMGetMetadata(self.0, id).is_null()
        }
    }
    /// The operands of the metadata node attached as `kind` (e.g. the scopes of "alias.scope" or
    /// "noalias"), each as a metadata value; empty when there is none. Nodes are uniqued, so
    /// equal scopes compare equal.
    pub fn metadata_operands(self, kind: &str) -> Vec<Value> {
        unsafe {
            let ctx = LLVMGetTypeContext(LLVMTypeOf(self.0));
            let id = LLVMGetMDKindIDInContext(ctx, kind.as_ptr() as *const _, kind.len() as u32);
            let md = LLVMGetMetadata(self.0, id);
            if md.is_null() {
                return Vec::new();
            }
            Value(md).md_node_operands()
        }
    }
    /// The operands of a metadata node given as a value (null operands included as null).
    pub fn md_node_operands(self) -> Vec<Value> {
        unsafe {
            if LLVMIsAMDNode(self.0).is_null() {
                return Vec::new();
            }
            let n = LLVMGetMDNodeNumOperands(self.0) as usize;
            let mut ops = vec![std::ptr::null_mut(); n];
            LLVMGetMDNodeOperands(self.0, ops.as_mut_ptr());
            ops.into_iter().map(Value).collect()
        }
    }
    /// Attaches to an instruction, as `kind` ("alias.scope" or "noalias"), the list of `scopes`
    /// (from [`new_alias_scope`]) together with the scopes of that kind it already has.
    pub fn add_scopes(self, kind: &str, scopes: &[Value]) {
        let mut all = self.metadata_operands(kind);
        for &s in scopes {
            if !all.contains(&s) {
                all.push(s);
            }
        }
        self.set_metadata_values(kind, &all);
    }
    /// Attaches to an instruction, as `kind`, a node holding `values` (constants, or metadata
    /// as values such as alias scopes), replacing any node of that kind;
    /// [`Value::metadata_operands`] reads them back.
    pub fn set_metadata_values(self, kind: &str, values: &[Value]) {
        unsafe {
            let ctx = LLVMGetTypeContext(LLVMTypeOf(self.0));
            let id = LLVMGetMDKindIDInContext(ctx, kind.as_ptr() as *const _, kind.len() as u32);
            let mut ops: Vec<LLVMMetadataRef> = values.iter().map(|v| LLVMValueAsMetadata(v.0)).collect();
            let node = LLVMMDNodeInContext2(ctx, ops.as_mut_ptr(), ops.len());
            LLVMSetMetadata(self.0, id, LLVMMetadataAsValue(ctx, node));
        }
    }
    /// Removes the metadata attachment `kind` (e.g. "range") from an instruction.
    pub fn clear_metadata(self, kind: &str) {
        unsafe {
            let ctx = LLVMGetTypeContext(LLVMTypeOf(self.0));
            let id = LLVMGetMDKindIDInContext(ctx, kind.as_ptr() as *const _, kind.len() as u32);
            LLVMSetMetadata(self.0, id, std::ptr::null_mut());
        }
    }
    /// Gives function `self` the personality function of `other`, if it has one.
    pub fn copy_personality_from(self, other: Value) {
        unsafe {
            if LLVMHasPersonalityFn(other.0) != 0 {
                LLVMSetPersonalityFn(self.0, LLVMGetPersonalityFn(other.0));
            }
        }
    }
    pub fn set_debug_loc_none(self) {
        unsafe { llvm_sys::debuginfo::LLVMInstructionSetDebugLoc(self.0, std::ptr::null_mut()) }
    }
    /// The variables of the debug records attached before this instruction (`#dbg_declare`,
    /// `#dbg_value`): the value each describes and the `DILocalVariable`.
    pub fn debug_variables(self) -> Vec<(Value, crate::debuginfo::DiNode)> {
        self.debug_records().into_iter().map(|r| (r.value, r.variable)).collect()
    }
    /// The variable records (`#dbg_declare`, `#dbg_value`, `#dbg_assign`) attached before this
    /// instruction, with their kind (and their expression, read on demand).
    pub fn debug_records(self) -> Vec<crate::debuginfo::DebugRecord> {
        use llvm_sys::LLVMDbgRecordKind::*;
        let mut out = Vec::new();
        unsafe {
            let ctx = LLVMGetTypeContext(LLVMTypeOf(self.0));
            let mut r = LLVMGetFirstDbgRecord(self.0);
            while !r.is_null() {
                let kind = LLVMDbgRecordGetKind(r);
                if matches!(kind, LLVMDbgRecordDeclare | LLVMDbgRecordValue | LLVMDbgRecordAssign) {
                    let v = LLVMDbgVariableRecordGetValue(r, 0);
                    let var = LLVMDbgVariableRecordGetVariable(r);
                    if !v.is_null() && !var.is_null() {
                        out.push(crate::debuginfo::DebugRecord {
                            value: Value(v),
                            variable: crate::debuginfo::DiNode::new(var, ctx),
                            declare: matches!(kind, LLVMDbgRecordDeclare),
                            expression: crate::debuginfo::DiNode::new(LLVMDbgVariableRecordGetExpression(r), ctx),
                        });
                    }
                }
                r = LLVMGetNextDbgRecord(r);
            }
        }
        out
    }
    /// The `DIGlobalVariable` a global's `!dbg` attachment describes (its name and Rust type).
    pub fn global_debug_variable(self) -> Option<crate::debuginfo::DiNode> {
        unsafe {
            let ctx = LLVMGetTypeContext(LLVMTypeOf(self.0));
            let dbg = LLVMGetMDKindIDInContext(ctx, c"dbg".as_ptr(), 3);
            let mut n = 0usize;
            let entries = LLVMGlobalCopyAllMetadata(self.0, &mut n);
            if entries.is_null() {
                return None;
            }
            let mut found = None;
            for i in 0..n as u32 {
                if LLVMValueMetadataEntriesGetKind(entries, i) == dbg {
                    found = Some(LLVMValueMetadataEntriesGetMetadata(entries, i));
                    break;
                }
            }
            LLVMDisposeValueMetadataEntries(entries);
            // A `DIGlobalVariableExpression`: (variable, expression).
            crate::debuginfo::DiNode::new(found?, ctx).operand(0)
        }
    }
    pub fn debug_loc(self) -> Option<(String, u32, u32)> {
        unsafe {
            let mut len = 0u32;
            let file = llvm_sys::core::LLVMGetDebugLocFilename(self.0, &mut len);
            if file.is_null() || len == 0 {
                return None;
            }
            let f = str_from_raw(file, len as usize);
            let line = llvm_sys::core::LLVMGetDebugLocLine(self.0);
            let col = llvm_sys::core::LLVMGetDebugLocColumn(self.0);
            Some((f, line, col))
        }
    }
    /// Whether the instruction has "fast" / nnan-style flags we may copy; we keep it simple.
    pub fn intrinsic_id(self) -> u32 {
        unsafe { LLVMGetIntrinsicID(self.0) }
    }

    // ---- functions ----
    /// The function a parameter belongs to.
    pub fn parent_function(self) -> Value {
        Value(unsafe { LLVMGetParamParent(self.0) })
    }
    pub fn params(self) -> Vec<Value> {
        let n = unsafe { LLVMCountParams(self.0) };
        (0..n).map(|i| Value(unsafe { LLVMGetParam(self.0, i) })).collect()
    }
    pub fn param(self, i: u32) -> Value {
        Value(unsafe { LLVMGetParam(self.0, i) })
    }
    pub fn blocks(self) -> Vec<Block> {
        let mut out = Vec::new();
        let mut b = unsafe { LLVMGetFirstBasicBlock(self.0) };
        while !b.is_null() {
            out.push(Block(b));
            b = unsafe { LLVMGetNextBasicBlock(b) };
        }
        out
    }
    pub fn entry_block(self) -> Block {
        Block(unsafe { LLVMGetEntryBasicBlock(self.0) })
    }
    pub fn is_declaration(self) -> bool {
        unsafe { LLVMIsDeclaration(self.0) != 0 }
    }
    /// The function type of a function value.
    pub fn function_type(self) -> Type {
        Type(unsafe { LLVMGlobalGetValueType(self.0) })
    }
    pub fn linkage(self) -> Linkage {
        unsafe { LLVMGetLinkage(self.0) }
    }
    pub fn set_linkage(self, l: Linkage) {
        unsafe { LLVMSetLinkage(self.0, l) }
    }
    pub fn is_global_constant(self) -> bool {
        unsafe { LLVMIsGlobalConstant(self.0) != 0 }
    }
    /// Whether the global is `thread_local` (one copy per thread).
    pub fn is_thread_local(self) -> bool {
        unsafe { LLVMIsThreadLocal(self.0) != 0 }
    }
    /// The thread-local storage model of a `thread_local` global.
    pub fn thread_local_mode(self) -> llvm_sys::LLVMThreadLocalMode {
        unsafe { LLVMGetThreadLocalMode(self.0) }
    }
    pub fn initializer(self) -> Option<Value> {
        let v = unsafe { LLVMGetInitializer(self.0) };
        (!v.is_null()).then_some(Value(v))
    }
    pub fn global_value_type(self) -> Type {
        Type(unsafe { LLVMGlobalGetValueType(self.0) })
    }
    /// A function's `DISubprogram` (`!dbg` of its definition).
    pub fn subprogram(self) -> Option<crate::debuginfo::DiNode> {
        unsafe {
            let md = llvm_sys::debuginfo::LLVMGetSubprogram(self.0);
            (!md.is_null()).then(|| crate::debuginfo::DiNode::new(md, LLVMGetTypeContext(LLVMTypeOf(self.0))))
        }
    }
    /// Whether parameter `i` (0-based) carries the enum attribute `name` (e.g. "sret").
    pub fn param_has_attribute(self, i: u32, name: &str) -> bool {
        let kind = attribute_kind(name);
        let a = unsafe { LLVMGetEnumAttributeAtIndex(self.0, i + 1, kind) };
        !a.is_null()
    }
    /// The type argument of a type attribute on parameter `i` (e.g. `sret(T)`).
    pub fn param_type_attribute(self, i: u32, name: &str) -> Option<Type> {
        let kind = attribute_kind(name);
        let a = unsafe { LLVMGetEnumAttributeAtIndex(self.0, i + 1, kind) };
        if a.is_null() {
            return None;
        }
        Some(Type(unsafe { LLVMGetTypeAttributeValue(a) }))
    }
    /// The encoded `memory(...)` effects of a function or of a call site (LLVM's `MemoryEffects`:
    /// two bits per location, 1 = reads, 2 = writes), if given.
    pub fn memory_effects(self) -> Option<u64> {
        let kind = attribute_kind("memory");
        unsafe {
            let a = if LLVMIsACallInst(self.0).is_null() && LLVMIsAInvokeInst(self.0).is_null() {
                LLVMGetEnumAttributeAtIndex(self.0, llvm_sys::LLVMAttributeFunctionIndex, kind)
            } else {
                LLVMGetCallSiteEnumAttribute(self.0, llvm_sys::LLVMAttributeFunctionIndex, kind)
            };
            (!a.is_null()).then(|| LLVMGetEnumAttributeValue(a))
        }
    }
    pub fn has_fn_attribute(self, name: &str) -> bool {
        let kind = attribute_kind(name);
        let a = unsafe { LLVMGetEnumAttributeAtIndex(self.0, llvm_sys::LLVMAttributeFunctionIndex, kind) };
        !a.is_null()
    }
    pub fn add_fn_attribute(self, name: &str) {
        let kind = attribute_kind(name);
        unsafe {
            let ctx = LLVMGetTypeContext(LLVMTypeOf(self.0));
            let a = LLVMCreateEnumAttribute(ctx, kind, 0);
            LLVMAddAttributeAtIndex(self.0, llvm_sys::LLVMAttributeFunctionIndex, a);
        }
    }
    pub fn remove_fn_attribute(self, name: &str) {
        let kind = attribute_kind(name);
        unsafe { LLVMRemoveEnumAttributeAtIndex(self.0, llvm_sys::LLVMAttributeFunctionIndex, kind) }
    }
    /// Lets the optimizer reassociate this floating-point instruction and ignore the sign of a
    /// zero (the `reassoc` and `nsz` fast-math flags, added to those it has); nothing for a
    /// constant or a non-floating-point value.
    pub fn allow_reassoc(self) {
        unsafe {
            if LLVMIsAInstruction(self.0).is_null() || LLVMCanValueUseFastMathFlags(self.0) == 0 {
                return;
            }
            let f = LLVMGetFastMathFlags(self.0);
            LLVMSetFastMathFlags(self.0, f | llvm_sys::LLVMFastMathAllowReassoc | llvm_sys::LLVMFastMathNoSignedZeros);
        }
    }
    /// Adds the enum attribute `name` (e.g. "noalias", "readonly") to parameter `i` (0-based).
    pub fn add_param_attribute(self, i: u32, name: &str) {
        let kind = attribute_kind(name);
        unsafe {
            let ctx = LLVMGetTypeContext(LLVMTypeOf(self.0));
            let a = LLVMCreateEnumAttribute(ctx, kind, 0);
            LLVMAddAttributeAtIndex(self.0, i + 1, a);
        }
    }
    pub fn add_param_type_attribute(self, i: u32, name: &str, ty: Type) {
        let kind = attribute_kind(name);
        unsafe {
            let ctx = LLVMGetTypeContext(LLVMTypeOf(self.0));
            let a = LLVMCreateTypeAttribute(ctx, kind, ty.0);
            LLVMAddAttributeAtIndex(self.0, i + 1, a);
        }
    }
    pub fn set_unnamed_addr(self) {
        unsafe { LLVMSetUnnamedAddress(self.0, llvm_sys::LLVMUnnamedAddr::LLVMGlobalUnnamedAddr) }
    }
    pub fn delete_function(self) {
        unsafe { LLVMDeleteFunction(self.0) }
    }
    pub fn global_parent(self) -> LLVMModuleRef {
        unsafe { LLVMGetGlobalParent(self.0) }
    }
}

/// The attribute kind id for an attribute name.
pub fn attribute_kind(name: &str) -> u32 {
    unsafe { LLVMGetEnumAttributeKindForName(name.as_ptr() as *const _, name.len()) }
}

impl Block {
    pub fn name(self) -> String {
        let p = unsafe { LLVMGetBasicBlockName(self.0) };
        if p.is_null() {
            return String::new();
        }
        unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
    pub fn instructions(self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut i = unsafe { LLVMGetFirstInstruction(self.0) };
        while !i.is_null() {
            out.push(Value(i));
            i = unsafe { LLVMGetNextInstruction(i) };
        }
        out
    }
    pub fn terminator(self) -> Option<Value> {
        let t = unsafe { LLVMGetBasicBlockTerminator(self.0) };
        (!t.is_null()).then_some(Value(t))
    }
    pub fn first_instruction(self) -> Option<Value> {
        let i = unsafe { LLVMGetFirstInstruction(self.0) };
        (!i.is_null()).then_some(Value(i))
    }
    pub fn parent(self) -> Value {
        Value(unsafe { LLVMGetBasicBlockParent(self.0) })
    }
    pub fn as_value(self) -> Value {
        Value(unsafe { LLVMBasicBlockAsValue(self.0) })
    }
    pub fn successors(self) -> Vec<Block> {
        self.terminator().map(|t| t.successors()).unwrap_or_default()
    }
    pub fn append(ctx: LLVMContextRef, func: Value, name: &str) -> Block {
        let n = cstring(name);
        Block(unsafe { LLVMAppendBasicBlockInContext(ctx, func.0, n.as_ptr()) })
    }
    pub fn delete(self) {
        unsafe { LLVMDeleteBasicBlock(self.0) }
    }
}

/// Looks up an intrinsic declaration, mangled for the overloaded types given.
pub fn intrinsic_declaration(module: LLVMModuleRef, name: &str, overloads: &[Type]) -> Option<Value> {
    let id = unsafe { LLVMLookupIntrinsicID(name.as_ptr() as *const _, name.len()) };
    if id == 0 {
        return None;
    }
    let mut tys: Vec<_> = overloads.iter().map(|t| t.0).collect();
    Some(Value(unsafe { LLVMGetIntrinsicDeclaration(module, id, tys.as_mut_ptr(), tys.len()) }))
}

/// The base name of an intrinsic id (e.g. `llvm.sin`).
pub fn intrinsic_name(id: u32) -> String {
    let mut len = 0;
    let p = unsafe { LLVMIntrinsicGetName(id, &mut len) };
    str_from_raw(p, len)
}

/// A new alias scope (as `!alias.scope`/`!noalias` lists name it): a distinct node that refers
/// to itself, with a name for readers, in `domain` (itself made by this function with no
/// domain). Returned as a metadata value.
pub fn new_alias_scope(ctx: LLVMContextRef, domain: Option<Value>, name: &str) -> Value {
    unsafe {
        let temp = llvm_sys::debuginfo::LLVMTemporaryMDNode(ctx, std::ptr::null_mut(), 0);
        let text = LLVMMDStringInContext2(ctx, name.as_ptr() as *const _, name.len());
        // A scope is `!{self, domain, name}`, a domain `!{self, name}`.
        let mut ops = vec![temp];
        if let Some(d) = domain {
            ops.push(LLVMValueAsMetadata(d.0));
        }
        ops.push(text);
        let node = LLVMMDNodeInContext2(ctx, ops.as_mut_ptr(), ops.len());
        llvm_sys::debuginfo::LLVMMetadataReplaceAllUsesWith(temp, node);
        Value(LLVMMetadataAsValue(ctx, node))
    }
}
