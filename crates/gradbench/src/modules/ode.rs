//! `ode` (§3.5): s classic RK4 steps (h = 2/s) of y' = f(y), f(y)₀ = x₀, f(y)ᵢ = xᵢ·yᵢ₋₁, from
//! y(0) = 0; the gradient of the last element by reverse mode through the RK4 program.

use crate::protocol::{nums, parse, Evaluation, Runs};
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
    pub s: usize,
}

/// `out = f(y)`.
#[inline(always)]
fn rhs(x: &[f64], y: &[f64], out: &mut [f64]) {
    out[0] = x[0];
    for i in 1..x.len() {
        out[i] = x[i] * y[i - 1];
    }
}

/// `out = y + c·k`.
#[inline(always)]
fn axpy(y: &[f64], c: f64, k: &[f64], out: &mut [f64]) {
    for i in 0..y.len() {
        out[i] = y[i] + c * k[i];
    }
}

/// Final y into `y` (length n).
#[autodiff_reverse(d_primal, Duplicated, Const, Duplicated)]
pub fn primal(x: &[f64], s: usize, y: &mut [f64]) {
    let n = x.len();
    let h = 2.0 / s as f64;
    // The four slopes and the stage point.
    let mut k1 = vec![0.0; n];
    let mut k2 = vec![0.0; n];
    let mut k3 = vec![0.0; n];
    let mut k4 = vec![0.0; n];
    let mut tmp = vec![0.0; n];
    let y = &mut y[..n];
    y.fill(0.0);
    for _ in 0..s {
        rhs(x, y, &mut k1);
        axpy(y, 0.5 * h, &k1, &mut tmp);
        rhs(x, &tmp, &mut k2);
        axpy(y, 0.5 * h, &k2, &mut tmp);
        rhs(x, &tmp, &mut k3);
        axpy(y, h, &k3, &mut tmp);
        rhs(x, &tmp, &mut k4);
        for i in 0..n {
            y[i] += h * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]) / 6.0;
        }
    }
}

/// ∇ₓ y_{n−1}(2) into `dx`: the output shadow is seeded with e_{n−1}; every shadow is reset
/// first so that each run starts from the original input.
pub fn gradient(x: &[f64], s: usize, y: &mut [f64], dx: &mut [f64], dy: &mut [f64]) {
    dx.fill(0.0);
    dy.fill(0.0);
    let n = x.len();
    dy[n - 1] = 1.0;
    d_primal(x, dx, s, y, dy);
}

pub fn evaluate(function: &str, input: &Value) -> Evaluation {
    let runs = Runs::from_input(input)?;
    let inp: Input = parse(input)?;
    let n = inp.x.len();
    if n == 0 || inp.s == 0 {
        return Err("ode: x must be non-empty and s ≥ 1".into());
    }
    let mut y = vec![0.0; n];
    match function {
        "primal" => {
            let t = runs.repeat(|| primal(black_box(&inp.x), inp.s, &mut y));
            Ok((nums(&y)?, t))
        }
        "gradient" => {
            let (mut dx, mut dy) = (vec![0.0; n], vec![0.0; n]);
            let t = runs.repeat(|| gradient(black_box(&inp.x), inp.s, &mut y, &mut dx, &mut dy));
            Ok((nums(&dx)?, t))
        }
        _ => Err(super::unknown_function("ode", function)),
    }
}
