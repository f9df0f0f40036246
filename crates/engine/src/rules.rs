//! The derivative rules: one declarative table shared by every mode.
//!
//! Each row names a primitive (LLVM float instructions, intrinsic base names and libm names) and
//! gives, per operand, the partial derivative ∂result/∂operand as a small expression over the
//! operands (`X(i)`) and the primal result (`Y`). Forward mode computes `ṫ = Σ ∂y/∂xᵢ · ẋᵢ`;
//! reverse mode computes `x̄ᵢ += ∂y/∂xᵢ · ȳ` from the very same rows (both through
//! `emit::Apply`, which also simplifies: a partial of `1` or `-1` multiplies nothing,
//! partials that are quotients over one denominator divide once). Operands that carry no
//! derivative (an integer exponent, a rounding mode) are `Inactive`. Piecewise-constant
//! functions (and a `select`'s condition) have `Zero` partials.

/// A comparison used inside rule expressions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

/// An expression for a partial derivative. Every value has the float type of the rule's result.
#[derive(Debug, PartialEq)]
pub enum E {
    /// Operand `i` of the primitive.
    X(u8),
    /// Integer operand `i`, converted to the result's float type (`powi`'s exponent).
    IntX(u8),
    /// The primal result.
    Y,
    /// A constant.
    C(f64),
    Neg(&'static E),
    Add(&'static E, &'static E),
    Sub(&'static E, &'static E),
    Mul(&'static E, &'static E),
    Div(&'static E, &'static E),
    /// A unary intrinsic applied to an expression (`llvm.<name>`), e.g. `Un("cos", X(0))`.
    Un(&'static str, &'static E),
    /// A binary intrinsic, e.g. `Bin("pow", X(0), X(1))`, `Bin("powi", ..)` takes an int operand.
    Bin(&'static str, &'static E, &'static E),
    /// `powi(base, n - 1)` for the integer operand `n` (operand index given).
    PowiMinus1(&'static E, u8),
    /// `if a <cmp> b { t } else { f }`.
    Select(Cmp, &'static E, &'static E, &'static E, &'static E),
    /// `if xᵢ { t } else { f }` for the flag operand `i` (an `i1` or a vector of them: `select`).
    If(u8, &'static E, &'static E),
}

/// The partial derivative with respect to one operand.
#[derive(Debug)]
pub enum Partial {
    /// Not differentiable (integer or control operand): must be inactive.
    Inactive,
    /// Always zero (rounding functions).
    Zero,
    D(E),
    /// The result is the sum of the lanes of this (vector) operand, added in order: its tangent
    /// is the sum of the operand tangent's lanes, the operand's adjoint is the result's in every
    /// lane (`llvm.vector.reduce.fadd`).
    LaneSum,
}

/// One primitive.
#[derive(Debug)]
pub struct Rule {
    /// LLVM intrinsic base names (`llvm.sin`) and C library names (`sin`, `sinf`).
    pub names: &'static [&'static str],
    pub partials: &'static [Partial],
}

use oxidase_llvm::Opcode;
use E::*;
use Partial::{Inactive, LaneSum, Zero, D};

const ONE: E = C(1.0);
const LN2: f64 = std::f64::consts::LN_2;
const LN10: f64 = std::f64::consts::LN_10;
const TWO_OVER_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;

const ZERO: E = C(0.0);

/// The table. Keep rows sorted by topic; the lookup is by name ([`lookup`] for calls,
/// [`instruction`] for instructions).
pub static RULES: &[Rule] = &[
    // ---- float instructions (named by their LLVM mnemonic, see `INSTRUCTIONS`) ----
    Rule { names: &["fadd"], partials: &[D(ONE), D(ONE)] },
    Rule { names: &["fsub"], partials: &[D(ONE), D(C(-1.0))] },
    Rule { names: &["fmul"], partials: &[D(X(1)), D(X(0))] },
    Rule { names: &["fdiv"], partials: &[D(Div(&ONE, &X(1))), D(Neg(&Div(&Y, &X(1))))] },
    // a - trunc(a/b)·b
    Rule { names: &["frem"], partials: &[D(ONE), D(Neg(&Un("trunc", &Div(&X(0), &X(1)))))] },
    Rule { names: &["fneg"], partials: &[D(C(-1.0))] },
    // The seed is converted to the other precision.
    Rule { names: &["fpext", "fptrunc"], partials: &[D(ONE)] },
    Rule { names: &["select"], partials: &[Zero, D(If(0, &ONE, &ZERO)), D(If(0, &ZERO, &ONE))] },
    // ---- reductions ----
    Rule { names: &["llvm.vector.reduce.fadd"], partials: &[D(ONE), LaneSum] },
    // ---- roots and powers ----
    Rule { names: &["llvm.sqrt", "sqrt", "sqrtf"], partials: &[D(Div(&C(0.5), &Y))] },
    Rule { names: &["cbrt", "cbrtf"], partials: &[D(Div(&Y, &Mul(&C(3.0), &X(0))))] },
    Rule {
        names: &["llvm.pow", "pow", "powf"],
        partials: &[
            D(Mul(&X(1), &Bin("pow", &X(0), &Sub(&X(1), &ONE)))),
            D(Select(Cmp::Le, &X(0), &C(0.0), &C(0.0), &Mul(&Y, &Un("log", &X(0))))),
        ],
    },
    Rule { names: &["llvm.powi"], partials: &[D(Mul(&IntX(1), &PowiMinus1(&X(0), 1))), Inactive] },
    Rule {
        names: &["hypot", "hypotf"],
        partials: &[D(Div(&X(0), &Y)), D(Div(&X(1), &Y))],
    },
    // ---- exponentials and logarithms ----
    Rule { names: &["llvm.exp", "exp", "expf"], partials: &[D(Y)] },
    Rule { names: &["llvm.exp2", "exp2", "exp2f"], partials: &[D(Mul(&Y, &C(LN2)))] },
    Rule { names: &["llvm.exp10", "exp10", "exp10f"], partials: &[D(Mul(&Y, &C(LN10)))] },
    Rule { names: &["expm1", "expm1f"], partials: &[D(Add(&Y, &ONE))] },
    Rule { names: &["llvm.log", "log", "logf"], partials: &[D(Div(&ONE, &X(0)))] },
    Rule { names: &["llvm.log2", "log2", "log2f"], partials: &[D(Div(&ONE, &Mul(&X(0), &C(LN2))))] },
    Rule { names: &["llvm.log10", "log10", "log10f"], partials: &[D(Div(&ONE, &Mul(&X(0), &C(LN10))))] },
    Rule { names: &["log1p", "log1pf"], partials: &[D(Div(&ONE, &Add(&X(0), &ONE)))] },
    // ---- trigonometric and hyperbolic ----
    Rule { names: &["llvm.sin", "sin", "sinf"], partials: &[D(Un("cos", &X(0)))] },
    Rule { names: &["llvm.cos", "cos", "cosf"], partials: &[D(Neg(&Un("sin", &X(0))))] },
    Rule { names: &["llvm.tan", "tan", "tanf"], partials: &[D(Add(&ONE, &Mul(&Y, &Y)))] },
    Rule {
        names: &["llvm.asin", "asin", "asinf"],
        partials: &[D(Div(&ONE, &Un("sqrt", &Sub(&ONE, &Mul(&X(0), &X(0))))))],
    },
    Rule {
        names: &["llvm.acos", "acos", "acosf"],
        partials: &[D(Neg(&Div(&ONE, &Un("sqrt", &Sub(&ONE, &Mul(&X(0), &X(0)))))))],
    },
    Rule { names: &["llvm.atan", "atan", "atanf"], partials: &[D(Div(&ONE, &Add(&ONE, &Mul(&X(0), &X(0)))))] },
    Rule {
        names: &["llvm.atan2", "atan2", "atan2f"],
        partials: &[
            D(Div(&X(1), &Add(&Mul(&X(0), &X(0)), &Mul(&X(1), &X(1))))),
            D(Neg(&Div(&X(0), &Add(&Mul(&X(0), &X(0)), &Mul(&X(1), &X(1)))))),
        ],
    },
    Rule { names: &["llvm.sinh", "sinh", "sinhf"], partials: &[D(Un("cosh", &X(0)))] },
    Rule { names: &["llvm.cosh", "cosh", "coshf"], partials: &[D(Un("sinh", &X(0)))] },
    Rule { names: &["llvm.tanh", "tanh", "tanhf"], partials: &[D(Sub(&ONE, &Mul(&Y, &Y)))] },
    Rule { names: &["asinh", "asinhf"], partials: &[D(Div(&ONE, &Un("sqrt", &Add(&Mul(&X(0), &X(0)), &ONE))))] },
    Rule { names: &["acosh", "acoshf"], partials: &[D(Div(&ONE, &Un("sqrt", &Sub(&Mul(&X(0), &X(0)), &ONE))))] },
    Rule { names: &["atanh", "atanhf"], partials: &[D(Div(&ONE, &Sub(&ONE, &Mul(&X(0), &X(0)))))] },
    // ---- special functions ----
    Rule {
        names: &["erf", "erff"],
        partials: &[D(Mul(&C(TWO_OVER_SQRT_PI), &Un("exp", &Neg(&Mul(&X(0), &X(0))))))],
    },
    Rule {
        names: &["erfc", "erfcf"],
        partials: &[D(Mul(&C(-TWO_OVER_SQRT_PI), &Un("exp", &Neg(&Mul(&X(0), &X(0))))))],
    },
    // ---- sign, magnitude, selection ----
    Rule { names: &["llvm.fabs", "fabs", "fabsf"], partials: &[D(Select(Cmp::Lt, &X(0), &C(0.0), &C(-1.0), &ONE))] },
    Rule {
        names: &["llvm.copysign", "copysign", "copysignf"],
        partials: &[
            D(Mul(&Bin("copysign", &ONE, &X(0)), &Bin("copysign", &ONE, &X(1)))),
            Zero,
        ],
    },
    Rule {
        names: &[
            "llvm.maxnum",
            "llvm.maximum",
            "llvm.maximumnum",
            "fmax",
            "fmaxf",
        ],
        partials: &[
            D(Select(Cmp::Lt, &X(0), &X(1), &C(0.0), &ONE)),
            D(Select(Cmp::Lt, &X(0), &X(1), &ONE, &C(0.0))),
        ],
    },
    Rule {
        names: &[
            "llvm.minnum",
            "llvm.minimum",
            "llvm.minimumnum",
            "fmin",
            "fminf",
        ],
        partials: &[
            D(Select(Cmp::Gt, &X(0), &X(1), &C(0.0), &ONE)),
            D(Select(Cmp::Gt, &X(0), &X(1), &ONE, &C(0.0))),
        ],
    },
    // ---- fused arithmetic ----
    Rule { names: &["llvm.fma", "llvm.fmuladd", "fma", "fmaf"], partials: &[D(X(1)), D(X(0)), D(ONE)] },
    // ---- rounding: piecewise constant ----
    Rule {
        names: &[
            "llvm.floor",
            "llvm.ceil",
            "llvm.trunc",
            "llvm.round",
            "llvm.roundeven",
            "llvm.rint",
            "llvm.nearbyint",
            "floor",
            "floorf",
            "ceil",
            "ceilf",
            "trunc",
            "truncf",
            "round",
            "roundf",
            "rint",
            "rintf",
            "nearbyint",
            "nearbyintf",
        ],
        partials: &[Zero],
    },
];

/// The instructions that have rows, by their LLVM mnemonic.
const INSTRUCTIONS: &[(Opcode, &str)] = &[
    (Opcode::LLVMFAdd, "fadd"),
    (Opcode::LLVMFSub, "fsub"),
    (Opcode::LLVMFMul, "fmul"),
    (Opcode::LLVMFDiv, "fdiv"),
    (Opcode::LLVMFRem, "frem"),
    (Opcode::LLVMFNeg, "fneg"),
    (Opcode::LLVMFPExt, "fpext"),
    (Opcode::LLVMFPTrunc, "fptrunc"),
    (Opcode::LLVMSelect, "select"),
];

/// Finds the rule for an intrinsic base name or a C library function name (never an
/// instruction's row: a C function may be called `fadd`).
pub fn lookup(name: &str) -> Option<&'static Rule> {
    if INSTRUCTIONS.iter().any(|(_, n)| *n == name) {
        return None;
    }
    find(name)
}

/// The rule of a float instruction (`fadd` … `frem`, `fneg`, `fpext`, `fptrunc`, `select`).
pub fn instruction(op: Opcode) -> Option<&'static Rule> {
    let name = INSTRUCTIONS.iter().find(|(o, _)| *o == op)?.1;
    find(name)
}

fn find(name: &str) -> Option<&'static Rule> {
    #[cfg(feature = "fault-injection")]
    if let Some(r) = fault::lookup(name) {
        return Some(r);
    }
    RULES.iter().find(|r| r.names.contains(&name))
}

/// Test aid (`--features fault-injection`): deliberately wrong rules, used when the environment
/// variable `OXIDASE_FAULT_RULE` names the primitive (`sin`, `exp`, ...; without `llvm.`), to show
/// that the differential tester (`tests/differential.rs`) catches a wrong rule.
#[cfg(feature = "fault-injection")]
mod fault {
    use super::*;

    static WRONG: &[Rule] = &[
        // sin' = sin (should be cos)
        Rule { names: &["llvm.sin", "sin", "sinf"], partials: &[D(Un("sin", &X(0)))] },
        // cos' = sin (sign lost)
        Rule { names: &["llvm.cos", "cos", "cosf"], partials: &[D(Un("sin", &X(0)))] },
        // exp' = 1.001 exp (slightly off)
        Rule { names: &["llvm.exp", "exp", "expf"], partials: &[D(Mul(&C(1.001), &Y))] },
        // log' = 1/(x+1)
        Rule { names: &["llvm.log", "log", "logf"], partials: &[D(Div(&ONE, &Add(&X(0), &ONE)))] },
        // sqrt' = 1/y (factor 2)
        Rule { names: &["llvm.sqrt", "sqrt", "sqrtf"], partials: &[D(Div(&ONE, &Y))] },
        // pow: the exponent partial uses log2 instead of ln
        Rule {
            names: &["llvm.pow", "pow", "powf"],
            partials: &[
                D(Mul(&X(1), &Bin("pow", &X(0), &Sub(&X(1), &ONE)))),
                D(Mul(&Y, &Un("log2", &X(0)))),
            ],
        },
        // tanh' = 1 + y² (sign)
        Rule { names: &["llvm.tanh", "tanh", "tanhf"], partials: &[D(Add(&ONE, &Mul(&Y, &Y)))] },
        // atan' = 1/(1 + x)
        Rule { names: &["llvm.atan", "atan", "atanf"], partials: &[D(Div(&ONE, &Add(&ONE, &X(0))))] },
        // fma: operands' partials swapped with the addend's
        Rule { names: &["llvm.fma", "llvm.fmuladd", "fma", "fmaf"], partials: &[D(X(1)), D(ONE), D(X(0))] },
        // fdiv: the divisor's partial lost its sign
        Rule { names: &["fdiv"], partials: &[D(Div(&ONE, &X(1))), D(Div(&Y, &X(1)))] },
        // fmul: partials swapped
        Rule { names: &["fmul"], partials: &[D(X(0)), D(X(1))] },
    ];

    pub fn lookup(name: &str) -> Option<&'static Rule> {
        let target = std::env::var("OXIDASE_FAULT_RULE").ok()?;
        let target = target.trim().trim_start_matches("llvm.");
        WRONG
            .iter()
            .find(|r| r.names.contains(&name) && r.names.iter().any(|n| n.trim_start_matches("llvm.") == target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for r in RULES {
            for n in r.names {
                assert!(seen.insert(*n), "{n} appears in two rules");
            }
        }
    }

    #[test]
    fn every_rule_has_a_differentiable_operand_or_is_constant() {
        for r in RULES {
            assert!(!r.partials.is_empty(), "{:?}", r.names);
        }
        assert!(lookup("llvm.sin").is_some());
        assert!(lookup("tanh").is_some());
        assert!(lookup("llvm.memcpy").is_none());
        assert!(lookup("fadd").is_none(), "a C function called `fadd` is not the instruction");
        for (op, name) in INSTRUCTIONS {
            assert!(instruction(*op).is_some_and(|r| r.names.contains(name)), "{name}");
        }
    }
}
