//! `saddle` (§3.13): a min–max by nested gradient descent (the solver of §3.11). For a given
//! p1, M(p1) = max over p2 of f(p1, p2) with ∇_{p2} f by the inner mode (second letter); then
//! r1 = argmin M with ∇M by the outer mode (first letter), by AD through the inner solver;
//! r2 = argmax over p2 of f(r1, ·) with the inner mode's gradient. Output [r1, r2].

use super::solver::{argmax, argmin};
use crate::protocol::{nums, parse, Evaluation, Runs};
#[cfg(not(feature = "nightly"))]
use oxidase::autodiff::{autodiff_forward, autodiff_reverse};
use serde::Deserialize;
#[cfg(feature = "nightly")]
use std::autodiff::{autodiff_forward, autodiff_reverse};
use serde_json::Value;
use std::hint::black_box;

#[derive(Deserialize)]
pub struct Input {
    pub start: [f64; 2],
}

/// f(p1, p2) = (x1² + y1²) − (x2² + y2²). `grad_objective_r(x1, y1, x2, y2, 1)` = (f, ∂f/∂x2,
/// ∂f/∂y2) by reverse mode; `grad_objective_f(x1, y1, x2, 1, 0, y2, 0, 1)` = [f, ∂f/∂x2,
/// ∂f/∂y2] by forward mode (width 2).
#[autodiff_reverse(grad_objective_r, Const, Const, Active, Active, Active)]
#[autodiff_forward(grad_objective_f, 2, Const, Const, Dual, Dual, Dual)]
pub fn objective(x1: f64, y1: f64, x2: f64, y2: f64) -> f64 {
    (x1 * x1 + y1 * y1) - (x2 * x2 + y2 * y2)
}

#[inline(always)]
fn grad_p2_r(p1: [f64; 2], p2: &[f64; 2]) -> [f64; 2] {
    let (_, a, b) = grad_objective_r(p1[0], p1[1], p2[0], p2[1], 1.0);
    [a, b]
}

#[inline(always)]
fn grad_p2_f(p1: [f64; 2], p2: &[f64; 2]) -> [f64; 2] {
    let d = grad_objective_f(p1[0], p1[1], p2[0], 1.0, 0.0, p2[1], 0.0, 1.0);
    [d[1], d[2]]
}

/// argmax over p2 of f(p1, ·) from `start`, the gradient from `g`.
#[inline(always)]
fn argmax_p2(p1: [f64; 2], start: [f64; 2], g: impl Fn([f64; 2], &[f64; 2]) -> [f64; 2]) -> [f64; 2] {
    argmax(|p2| objective(p1[0], p1[1], p2[0], p2[1]), |p2| g(p1, p2), start)
}

/// M(p1) = f(p1, argmax over p2), the inner gradient by forward mode. ∇M by forward mode,
/// width 2 (`d_max_ff(x, 1, 0, y, 0, 1, sx, sy)` = [M, ∂M/∂x, ∂M/∂y]) or by reverse mode
/// (`d_max_rf(x, y, sx, sy, 1)` = (M, ∂M/∂x, ∂M/∂y)).
#[autodiff_forward(d_max_ff, 2, Dual, Dual, Const, Const, Dual)]
#[autodiff_reverse(d_max_rf, Active, Active, Const, Const, Active)]
pub fn max_f(x: f64, y: f64, sx: f64, sy: f64) -> f64 {
    let p2 = argmax_p2([x, y], [sx, sy], grad_p2_f);
    objective(x, y, p2[0], p2[1])
}

/// M(p1) with the inner gradient by reverse mode; ∇M by `d_max_fr` / `d_max_rr` as above.
#[autodiff_forward(d_max_fr, 2, Dual, Dual, Const, Const, Dual)]
#[autodiff_reverse(d_max_rr, Active, Active, Const, Const, Active)]
pub fn max_r(x: f64, y: f64, sx: f64, sy: f64) -> f64 {
    let p2 = argmax_p2([x, y], [sx, sy], grad_p2_r);
    objective(x, y, p2[0], p2[1])
}

/// ∇M at p1 for a variant (outer letter, inner letter).
pub fn max_gradient(variant: &str, p1: &[f64; 2], s: [f64; 2]) -> [f64; 2] {
    let (x, y, sx, sy) = (p1[0], p1[1], s[0], s[1]);
    match variant {
        "ff" => {
            let d = d_max_ff(x, 1.0, 0.0, y, 0.0, 1.0, sx, sy);
            [d[1], d[2]]
        }
        "fr" => {
            let d = d_max_fr(x, 1.0, 0.0, y, 0.0, 1.0, sx, sy);
            [d[1], d[2]]
        }
        "rf" => {
            let (_, a, b) = d_max_rf(x, y, sx, sy, 1.0);
            [a, b]
        }
        "rr" => {
            let (_, a, b) = d_max_rr(x, y, sx, sy, 1.0);
            [a, b]
        }
        _ => unreachable!("variant checked by evaluate"),
    }
}

/// [r1x, r1y, r2x, r2y] for a variant.
pub fn solve(variant: &str, s: [f64; 2]) -> [f64; 4] {
    let inner_f = variant.ends_with('f');
    let m = |p1: &[f64; 2]| if inner_f { max_f(p1[0], p1[1], s[0], s[1]) } else { max_r(p1[0], p1[1], s[0], s[1]) };
    let r1 = argmin(m, |p1| max_gradient(variant, p1, s), s);
    let r2 = if inner_f { argmax_p2(r1, s, grad_p2_f) } else { argmax_p2(r1, s, grad_p2_r) };
    [r1[0], r1[1], r2[0], r2[1]]
}

pub fn evaluate(function: &str, input: &Value) -> Evaluation {
    let runs = Runs::from_input(input)?;
    let inp: Input = parse(input)?;
    if !matches!(function, "rr" | "ff" | "fr" | "rf") {
        return Err(super::unknown_function("saddle", function));
    }
    let mut r = [0.0; 4];
    let t = runs.repeat(|| r = solve(black_box(function), inp.start));
    Ok((nums(&r)?, t))
}
