//! `det` (§3.8): determinant by recursive Laplace expansion along the first row of each minor
//! (cmpad `det_by_minor`, O(ℓ!) on purpose); the gradient (the cofactor matrix) by reverse mode.
//!
//! The minor at depth `k` consists of rows `k..ℓ` and `ℓ − k` remaining columns. Those columns
//! are kept in an integer scratch `cols` allocated once per call (level `k` in `cols[k·ℓ..]`),
//! which each level writes for the next one: no allocation in the recursion and no copying of
//! matrix entries.

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
    #[serde(rename = "A")]
    pub a: Vec<f64>,
    pub ell: usize,
}

/// Determinant of the minor of `a` (ℓ×ℓ, row-major) made of rows `k..ℓ` and the columns
/// listed in `cols[k·ℓ .. k·ℓ + ℓ − k]`.
fn minor(a: &[f64], ell: usize, k: usize, cols: &mut [usize]) -> f64 {
    let n = ell - k;
    let base = k * ell;
    if n == 1 {
        return a[base + cols[base]];
    }
    if n == 2 {
        let (c0, c1) = (cols[base], cols[base + 1]);
        return a[base + c0] * a[base + ell + c1] - a[base + c1] * a[base + ell + c0];
    }
    let next = base + ell;
    let mut sum = 0.0;
    let mut sign = 1.0;
    for j in 0..n {
        // Columns of the next minor: all of this level's but the j-th, in order.
        let mut w = 0;
        for i in 0..n {
            if i != j {
                cols[next + w] = cols[base + i];
                w += 1;
            }
        }
        let c = cols[base + j];
        sum += sign * a[base + c] * minor(a, ell, k + 1, cols);
        sign = -sign;
    }
    sum
}

/// det(A) by expansion along first rows.
#[autodiff_reverse(d_primal, Duplicated, Const, Active)]
pub fn primal(a: &[f64], ell: usize) -> f64 {
    // Level 0 lists every column; the deeper levels are written by `minor`.
    let mut cols: Vec<usize> = (0..ell).collect();
    cols.resize(ell * ell, 0);
    minor(a, ell, 0, &mut cols)
}

/// ∂det/∂A into `da` (zeroed first), row-major.
pub fn gradient(a: &[f64], ell: usize, da: &mut [f64]) {
    da.fill(0.0);
    d_primal(a, da, ell, 1.0);
}

pub fn evaluate(function: &str, input: &Value) -> Evaluation {
    let runs = Runs::from_input(input)?;
    let inp: Input = parse(input)?;
    let ell = inp.ell;
    if ell == 0 || inp.a.len() != ell * ell {
        return Err(format!("det: A has length {}, expected ell² with ell = {ell} ≥ 1", inp.a.len()));
    }
    match function {
        "primal" => {
            let mut y = 0.0;
            let t = runs.repeat(|| y = primal(black_box(&inp.a), ell));
            Ok((num(y)?, t))
        }
        "gradient" => {
            let mut da = vec![0.0; ell * ell];
            let t = runs.repeat(|| gradient(black_box(&inp.a), ell, &mut da));
            Ok((nums(&da)?, t))
        }
        _ => Err(super::unknown_function("det", function)),
    }
}
