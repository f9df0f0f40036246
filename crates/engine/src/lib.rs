//! The oxidase AD engine: derivatives of LLVM IR functions.
//!
//! * [`activity`] — which values carry derivatives (analysis; changes nothing);
//! * [`calls`] — what each call site means for differentiation;
//! * [`rules`] — the declarative table of derivative rules shared by all modes;
//! * [`forward`] — forward (tangent) mode with batch width, the transformation;
//! * [`error`] — diagnostics in the user's terms.
//!
//! An [`Engine`] works on one module. It memoizes every derivative it generates by a complete
//! key ([`ForwardKey`]: function, per-parameter activity, width), which also makes recursion work:
//! a derivative is declared before its body is generated, so a recursive call finds it.

pub mod activity;
pub mod calls;
pub mod error;
pub mod forward;
pub mod rules;

pub use error::AdError;

use oxidase_llvm::module::{self, add_function, add_global, context_of, set_global_constant, set_initializer};
use oxidase_llvm::llvm_sys::prelude::{LLVMContextRef, LLVMModuleRef};
use oxidase_llvm::{Linkage, Value};
use std::collections::HashMap;

/// How one parameter of a function is treated by a derivative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgActivity {
    /// Not differentiated; passed as is.
    Const,
    /// Not differentiated, and known to be this constant (a function pointer): the derivative is
    /// specialized on it and the parameter is dropped from its signature.
    Constant(Value),
    /// Differentiated: followed by `width` shadows (tangents, or shadow pointers) of its type.
    Dual,
}

/// Identifies a forward derivative completely (the memoization key).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ForwardKey {
    pub function: Value,
    pub args: Vec<ArgActivity>,
    pub width: u32,
}

/// How one parameter of a function is treated by a reverse-mode derivative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RevArg {
    /// Not differentiated; passed as is.
    Const,
    /// Not differentiated and known to be this constant (a function pointer); dropped from the
    /// derivative's signature.
    Constant(Value),
    /// A float scalar (or vector/aggregate of floats) passed by value whose adjoint is returned.
    Active,
    /// A pointer followed by `width` shadow pointers; adjoints are *accumulated* into the shadow
    /// memory (inputs) and the shadows of overwritten memory are consumed and zeroed (outputs),
    /// per SEMANTICS.md §5.
    Duplicated,
}

/// How the return value of a reverse-mode derivative is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RevRet {
    /// Not differentiated (also used for a `void` primal): no seed parameter.
    Const,
    /// Differentiated: the derivative takes a seed `dret` of the return type, applied to every lane.
    Active,
}

/// Identifies a reverse derivative completely (the memoization key).
///
/// Calling convention of the generated function (`<name>.oxidase.revN`):
/// * parameters: each primal parameter in order (a `Constant` one is dropped), a `Duplicated`
///   one followed by `width` shadow pointers; then, if `ret` is `Active`, the seed `dret`
///   (the primal's return type);
/// * result: the literal struct `{ primal result (if not void), adjoint of each Active parameter
///   in order (its own type) }`, or `void` when that struct would be empty.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReverseKey {
    pub function: Value,
    pub args: Vec<RevArg>,
    pub ret: RevRet,
    pub width: u32,
}

/// What the user asked the engine to report (`-Z autodiff=Print…`).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Print the activity of every value of differentiated functions.
    pub print_activity: bool,
    /// Print each derivative generated (`PrintSteps`).
    pub print_steps: bool,
    /// Restrict reports to functions whose demangled name contains this.
    pub function_filter: Option<String>,
}

/// The engine, bound to one module.
pub struct Engine {
    pub module: LLVMModuleRef,
    pub options: Options,
    /// Text reports requested through [`Options`], in generation order.
    pub report: Vec<String>,
    forward_cache: HashMap<ForwardKey, Value>,
    /// Derivatives declared but whose bodies are not generated yet.
    pending: Vec<(ForwardKey, Value)>,
    /// Derivatives generated for the request in progress (undone if it fails).
    in_request: Vec<(ForwardKey, Value)>,
    shadow_globals: HashMap<Value, Value>,
    /// Memoized interprocedural requirements (see [`activity::Activity::required_params`]).
    requirements: HashMap<(Value, Vec<bool>), Vec<usize>>,
}

impl Engine {
    pub fn new(module: LLVMModuleRef, options: Options) -> Engine {
        Engine {
            module,
            options,
            report: Vec::new(),
            forward_cache: HashMap::new(),
            pending: Vec::new(),
            in_request: Vec::new(),
            shadow_globals: HashMap::new(),
            requirements: HashMap::new(),
        }
    }

    /// The forward derivative for `key`, generating it (and everything it calls) on demand.
    ///
    /// Calling convention: see [`forward`]. On error nothing generated by this request is left
    /// in the module.
    pub fn forward(&mut self, key: &ForwardKey) -> Result<Value, Vec<AdError>> {
        if let Some(err) = check_key(key) {
            return Err(vec![err]);
        }
        let f = self.forward_function(key);
        let mut errors = Vec::new();
        while let Some((k, df)) = self.pending.pop() {
            if let Err(mut e) = forward::generate(self, &k, df) {
                errors.append(&mut e);
                break;
            }
            if self.options.print_steps && self.wants_report(k.function) {
                self.report.push(format!(
                    "oxidase: forward derivative of {} (width {}, args {:?})",
                    error::demangle(&k.function.name()),
                    k.width,
                    k.args
                ));
            }
        }
        if errors.is_empty() {
            // Never hand out IR the verifier rejects: that would surface as a crash in codegen.
            if let Some((k, _)) = self.in_request.iter().find(|(_, df)| !module::function_is_valid(*df)) {
                errors.push(AdError::new(
                    k.function,
                    "oxidase generated an invalid derivative (internal error)",
                    "please report this program; as a workaround mark the function #[inline] or simplify it",
                ));
            }
        }
        if errors.is_empty() {
            self.in_request.clear();
            Ok(f)
        } else {
            self.undo_request();
            Err(errors)
        }
    }

    /// Declares (or finds) the derivative for `key`; its body is generated later.
    pub(crate) fn forward_function(&mut self, key: &ForwardKey) -> Value {
        if let Some(&f) = self.forward_cache.get(key) {
            return f;
        }
        let name = format!("{}.oxidase.fwd{}", key.function.name(), self.forward_cache.len());
        let df = add_function(self.module, &name, forward::derivative_type(key));
        df.set_linkage(Linkage::LLVMInternalLinkage);
        self.forward_cache.insert(key.clone(), df);
        self.pending.push((key.clone(), df));
        self.in_request.push((key.clone(), df));
        df
    }

    /// Which inactive parameters of `f` need shadow memory when its parameters are active as in
    /// `active`. Recursion is cut by assuming "none" for a query already in progress, then
    /// iterating until the answer is stable.
    pub(crate) fn param_requirements(&mut self, f: Value, active: &[bool]) -> Vec<usize> {
        let key = (f, active.to_vec());
        if let Some(r) = self.requirements.get(&key) {
            return r.clone();
        }
        self.requirements.insert(key.clone(), Vec::new());
        let subst = HashMap::new();
        loop {
            let result = {
                let mut callees = |c: Value, a: &[bool]| self.param_requirements(c, a);
                activity::analyze(f, active, &subst, &mut callees)
            };
            // Errors surface when the derivative itself is generated; here they mean "nothing".
            let req = result.map(|a| a.required_params).unwrap_or_default();
            let previous = self.requirements.insert(key.clone(), req.clone());
            if previous.as_ref() == Some(&req) {
                return req;
            }
        }
    }

    /// A zero-initialized constant shadow for a constant global (its data has no derivative).
    pub(crate) fn shadow_global(&mut self, g: Value) -> Value {
        if let Some(&s) = self.shadow_globals.get(&g) {
            return s;
        }
        let ty = g.global_value_type();
        let s = add_global(self.module, ty, &format!("{}.oxidase.shadow", g.name()));
        set_initializer(s, ty.zero());
        set_global_constant(s, true);
        s.set_linkage(Linkage::LLVMInternalLinkage);
        self.shadow_globals.insert(g, s);
        s
    }

    pub(crate) fn wants_report(&self, f: Value) -> bool {
        match &self.options.function_filter {
            None => true,
            Some(filter) => error::demangle(&f.name()).contains(filter.as_str()) || f.name().contains(filter.as_str()),
        }
    }

    /// Removes every function generated by the failed request.
    fn undo_request(&mut self) {
        let created = std::mem::take(&mut self.in_request);
        self.pending.clear();
        for (k, f) in &created {
            self.forward_cache.remove(k);
            for b in f.blocks() {
                for i in b.instructions() {
                    if !i.ty().is_void() {
                        i.replace_all_uses_with(i.ty().poison());
                    }
                }
            }
            for b in f.blocks() {
                b.delete();
            }
        }
        for (_, f) in created {
            if f.users().is_empty() {
                f.delete_function();
            } else {
                // Still referenced from outside (should not happen): leave an empty declaration.
                f.set_linkage(Linkage::LLVMExternalLinkage);
            }
        }
    }

    /// The reverse (gradient) derivative for `key`, generating it and everything it calls on
    /// demand. Calling convention: see [`ReverseKey`]. On error nothing generated by this request
    /// is left in the module.
    pub fn reverse(&mut self, key: &ReverseKey) -> Result<Value, Vec<AdError>> {
        Err(vec![AdError::new(key.function, "reverse mode is not implemented yet", "use forward mode")])
    }

    pub fn context(&self) -> LLVMContextRef {
        context_of(self.module)
    }

    /// Verifies the module (debug aid for tests and `PrintSteps`).
    pub fn verify(&self) -> Result<(), String> {
        module::verify_module(self.module)
    }
}

/// Rejects requests that do not fit the function.
fn check_key(key: &ForwardKey) -> Option<AdError> {
    let f = key.function;
    if f.is_declaration() {
        return Some(AdError::new(f, "the function has no body in this program", "differentiate a function defined in Rust"));
    }
    let n = f.function_type().param_types().len();
    if key.args.len() != n {
        return Some(AdError::new(
            f,
            format!("{} activities were given for {} parameters", key.args.len(), n),
            "this is a bug in the caller of the engine",
        ));
    }
    if key.width == 0 {
        return Some(AdError::new(f, "width 0", "the width must be at least 1"));
    }
    None
}
