//! `llsq` (§3.7): linear least-squares objective of cmpad; the gradient by reverse mode.

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
    pub n: usize,
}

/// ½ Σᵢ rᵢ², rᵢ = sign(tᵢ) − Σⱼ xⱼ tᵢʲ, tᵢ = −1 + 2i/(n−1). The powers are built by repeated
/// multiplication (Horner would change nothing for the cost, but this mirrors the definition).
#[autodiff_reverse(d_primal, Duplicated, Const, Active)]
pub fn primal(x: &[f64], n: usize) -> f64 {
    let denom = (n - 1) as f64;
    let mut total = 0.0;
    for i in 0..n {
        let t = -1.0 + (i as f64 * 2.0) / denom;
        let s = if t > 0.0 {
            1.0
        } else if t < 0.0 {
            -1.0
        } else {
            0.0
        };
        let mut p = 1.0;
        let mut fit = 0.0;
        for &xj in x {
            fit += xj * p;
            p *= t;
        }
        let r = s - fit;
        total += r * r;
    }
    0.5 * total
}

/// ∇ₓ primal into `dx` (zeroed first).
pub fn gradient(x: &[f64], n: usize, dx: &mut [f64]) {
    dx.fill(0.0);
    d_primal(x, dx, n, 1.0);
}

pub fn evaluate(function: &str, input: &Value) -> Evaluation {
    let runs = Runs::from_input(input)?;
    let inp: Input = parse(input)?;
    if inp.n < 2 {
        return Err("llsq: n must be at least 2".into());
    }
    match function {
        "primal" => {
            let mut y = 0.0;
            let t = runs.repeat(|| y = primal(black_box(&inp.x), inp.n));
            Ok((num(y)?, t))
        }
        "gradient" => {
            let mut dx = vec![0.0; inp.x.len()];
            let t = runs.repeat(|| gradient(black_box(&inp.x), inp.n, &mut dx));
            Ok((nums(&dx)?, t))
        }
        _ => Err(super::unknown_function("llsq", function)),
    }
}
