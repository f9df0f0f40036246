//! Module registry: module name → `evaluate(function, input)`.
//!
//! Each module parses its input (untimed), runs the requested function under the `Runs` loop
//! (timed: only the computation) and encodes the output (untimed). Unknown functions are errors.

use crate::protocol::Evaluation;
use serde_json::Value;

pub mod ba;
pub mod det;
pub mod gmm;
pub mod hello;
pub mod ht;
pub mod kmeans;
pub mod llsq;
pub mod lse;
pub mod lstm;
pub mod ode;
pub mod particle;
pub mod saddle;
mod solver;

/// The modules this tool implements, in the order of shared/docs/GRADBENCH.md.
pub const MODULES: &[&str] = &["hello", "gmm", "ba", "lstm", "ode", "lse", "llsq", "det", "kmeans", "ht", "particle", "saddle"];

pub fn defined(module: &str) -> bool {
    MODULES.contains(&module)
}

pub fn evaluate(module: &str, function: &str, input: &Value) -> Evaluation {
    match module {
        "hello" => hello::evaluate(function, input),
        "gmm" => gmm::evaluate(function, input),
        "ba" => ba::evaluate(function, input),
        "lstm" => lstm::evaluate(function, input),
        "ode" => ode::evaluate(function, input),
        "lse" => lse::evaluate(function, input),
        "llsq" => llsq::evaluate(function, input),
        "det" => det::evaluate(function, input),
        "kmeans" => kmeans::evaluate(function, input),
        "ht" => ht::evaluate(function, input),
        "particle" => particle::evaluate(function, input),
        "saddle" => saddle::evaluate(function, input),
        _ => Err(format!("unknown module {module}")),
    }
}

/// The error for a function a module does not have.
pub(crate) fn unknown_function(module: &str, function: &str) -> String {
    format!("unknown function {function} in module {module}")
}
