//! `kmeans` (§3.9): cost Σᵢ minⱼ ‖Cⱼ − Pᵢ‖²; `dir` = J ⊘ H with J the gradient of the cost with
//! respect to the centroids and H its diagonal Hessian.
//!
//! Both come from one generated function: `cost_grad` runs the reverse-mode gradient of `cost`,
//! and its forward-mode derivative (forward over reverse) in the direction v gives H·v. The
//! cost is a sum over points of the squared distance to the selected centroid, a separable
//! quadratic in each centroid coordinate (the selection is piecewise constant), so H is
//! diagonal (H = 2·count_j on centroid j's coordinates) and with v = all ones H·v is exactly its
//! diagonal. So one call of the forward-over-reverse function yields J (primal part) and
//! diag H (tangent part) together.

use crate::protocol::{num, parse, rows, flatten, Evaluation, Runs};
#[cfg(not(feature = "nightly"))]
use oxidase::autodiff::{autodiff_forward, autodiff_reverse};
#[cfg(feature = "nightly")]
use std::autodiff::{autodiff_forward, autodiff_reverse};
use serde::Deserialize;
use serde_json::Value;
use std::hint::black_box;

#[derive(Deserialize)]
pub struct Input {
    pub points: Vec<Vec<f64>>,
    pub centroids: Vec<Vec<f64>>,
}

/// Σᵢ minⱼ ‖Cⱼ − Pᵢ‖² over row-major `points` (n×d) and `centroids` (k×d). Ties go to the
/// lowest index (strict `<`).
#[autodiff_reverse(d_cost, Const, Duplicated, Const, Active)]
pub fn cost(points: &[f64], centroids: &[f64], d: usize) -> f64 {
    let k = centroids.len() / d;
    let mut total = 0.0;
    for p in points.chunks_exact(d) {
        let mut best = f64::INFINITY;
        for j in 0..k {
            let c = &centroids[j * d..j * d + d];
            let mut dist = 0.0;
            for t in 0..d {
                let e = c[t] - p[t];
                dist += e * e;
            }
            if dist < best {
                best = dist;
            }
        }
        total += best;
    }
    total
}

/// The gradient J of `cost` into `grad` (overwritten). Its forward derivative `hvp_cost_grad`
/// returns J in `grad` and H·v in the tangent of `grad`.
#[autodiff_forward(hvp_cost_grad, Const, Dual, Const, Dual)]
pub fn cost_grad(points: &[f64], centroids: &[f64], d: usize, grad: &mut [f64]) {
    grad.fill(0.0);
    d_cost(points, centroids, grad, d, 1.0);
}

/// J ⊘ diag(H) into `dir`, with J into `grad` and H·v into `hdiag`; `ones` is the direction
/// v = 1 (length k·d).
pub fn dir(points: &[f64], centroids: &[f64], d: usize, ones: &[f64], grad: &mut [f64], hdiag: &mut [f64], dir: &mut [f64]) {
    hvp_cost_grad(points, centroids, ones, d, grad, hdiag);
    for i in 0..dir.len() {
        dir[i] = grad[i] / hdiag[i];
    }
}

pub fn evaluate(function: &str, input: &Value) -> Evaluation {
    let runs = Runs::from_input(input)?;
    let inp: Input = parse(input)?;
    let d = inp.points.first().map_or(0, Vec::len);
    if d == 0 || inp.centroids.is_empty() {
        return Err("kmeans: empty points or centroids".into());
    }
    let points = flatten(&inp.points, d, "points")?;
    let centroids = flatten(&inp.centroids, d, "centroids")?;
    match function {
        "cost" => {
            let mut y = 0.0;
            let t = runs.repeat(|| y = cost(black_box(&points), black_box(&centroids), d));
            Ok((num(y)?, t))
        }
        "dir" => {
            let kd = centroids.len();
            let ones = vec![1.0; kd];
            let (mut grad, mut hdiag, mut out) = (vec![0.0; kd], vec![0.0; kd], vec![0.0; kd]);
            let t = runs.repeat(|| {
                hdiag.fill(0.0);
                dir(black_box(&points), black_box(&centroids), d, &ones, &mut grad, &mut hdiag, &mut out)
            });
            Ok((rows(&out, d)?, t))
        }
        _ => Err(super::unknown_function("kmeans", function)),
    }
}
