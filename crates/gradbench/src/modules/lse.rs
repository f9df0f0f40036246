//! `lse` (§3.6): log-sum-exp built from primitives (max, sum); the gradient (softmax) by reverse
//! mode.

use crate::protocol::{num, nums, parse, Evaluation, Runs};
#[cfg(not(feature = "nightly"))]
use oxidase::autodiff::autodiff_reverse;
#[cfg(feature = "nightly")]
use std::autodiff::autodiff_reverse;
use serde::Deserialize;
use serde_json::Value;
use std::hint::black_box;

#[derive(Deserialize)]
pub struct Input {
    pub x: Vec<f64>,
}

/// `m + ln Σ exp(xᵢ − m)` with `m = max x` (so no exp overflows).
#[autodiff_reverse(d_primal, Duplicated, Active)]
pub fn primal(x: &[f64]) -> f64 {
    let mut m = f64::NEG_INFINITY;
    for &v in x {
        if v > m {
            m = v;
        }
    }
    let mut s = 0.0;
    for &v in x {
        s += (v - m).exp();
    }
    m + s.ln()
}

/// ∇ primal, accumulated into `dx` after zeroing it (every run starts from scratch).
pub fn gradient(x: &[f64], dx: &mut [f64]) {
    dx.fill(0.0);
    d_primal(x, dx, 1.0);
}

pub fn evaluate(function: &str, input: &Value) -> Evaluation {
    let runs = Runs::from_input(input)?;
    let inp: Input = parse(input)?;
    if inp.x.is_empty() {
        return Err("lse: x is empty".into());
    }
    match function {
        "primal" => {
            let mut y = 0.0;
            let t = runs.repeat(|| y = primal(black_box(&inp.x)));
            Ok((num(y)?, t))
        }
        "gradient" => {
            let mut dx = vec![0.0; inp.x.len()];
            let t = runs.repeat(|| gradient(black_box(&inp.x), &mut dx));
            Ok((nums(&dx)?, t))
        }
        _ => Err(super::unknown_function("lse", function)),
    }
}
