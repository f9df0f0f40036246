//! `hello` (§3.1): `square(x) = x²` and `double`, its derivative. The input is a bare number
//! and carries no Runs fields: one run (with one timing) unless the defaults say more.

use crate::protocol::{num, Evaluation, Runs};
#[cfg(not(feature = "nightly"))]
use oxidase::autodiff::autodiff_reverse;
#[cfg(feature = "nightly")]
use std::autodiff::autodiff_reverse;
use serde_json::Value;
use std::hint::black_box;

/// `d_square(x, dret) = (x², dret·2x)`.
#[autodiff_reverse(d_square, Active, Active)]
pub fn square(x: f64) -> f64 {
    x * x
}

/// The derivative of `square`, generated.
pub fn double(x: f64) -> f64 {
    d_square(x, 1.0).1
}

pub fn evaluate(function: &str, input: &Value) -> Evaluation {
    let x = input.as_f64().ok_or("hello: the input must be a number")?;
    let f: fn(f64) -> f64 = match function {
        "square" => square,
        "double" => double,
        _ => return Err(super::unknown_function("hello", function)),
    };
    let mut y = 0.0;
    let runs = Runs { min_runs: 1, min_seconds: 0.0 };
    let timings = runs.repeat(|| y = f(black_box(x)));
    Ok((num(y)?, timings))
}
