//! Quadratic forms written with nalgebra's products: `(dᵀ d)[(0, 0)]` (a `1×1` matrix product,
//! which a dev build returns as one integer), `dᵀ A d` with a fixed-size matrix, and `wᵀ x` of
//! dynamic vectors. Reverse mode is checked against closed forms and finite differences, forward
//! mode against reverse.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};
use nalgebra::{DVector, Matrix3, Vector3};

#[autodiff_reverse(d_misfit, Duplicated, Active)]
#[autodiff_forward(t_misfit, Dual, Dual)]
fn misfit(p: &[f64]) -> f64 {
    let d = Vector3::new(p[0] - 1.0, 2.0 * p[1] + p[0], p[2] * p[2]);
    let a = Matrix3::new(2.0, 0.5, 0.0, 0.5, 3.0, 0.25, 0.0, 0.25, 1.5);
    (d.transpose() * d)[(0, 0)] + (d.transpose() * a * d)[(0, 0)]
}

#[autodiff_reverse(d_energy, Duplicated, Active)]
fn energy(x: &[f64]) -> f64 {
    let v = DVector::from_column_slice(x);
    let w = v.map(|t| t.sin());
    (w.transpose() * &v)[(0, 0)]
}

pub fn run() {
    let p = [0.3, -0.7, 1.2];
    let mut dp = [0.0; 3];
    let v = d_misfit(&p, &mut dp, 1.0);
    assert_close("quadratic_forms misfit value", &[v], &[misfit(&p)], 1e-14);
    assert_close("quadratic_forms misfit fd", &dp, &fd_gradient(misfit, &p), 1e-6);
    let tp = [0.5, -1.0, 2.0];
    let (_, t) = t_misfit(&p, &tp);
    let dot: f64 = dp.iter().zip(&tp).map(|(a, b)| a * b).sum();
    assert_close("quadratic_forms misfit forward vs reverse", &[t], &[dot], 1e-12);

    let x = [0.4, -1.1, 2.0, 0.25];
    let mut dx = [0.0; 4];
    d_energy(&x, &mut dx, 1.0);
    let closed: Vec<f64> = x.iter().map(|t| t.sin() + t * t.cos()).collect();
    assert_close("quadratic_forms energy closed form", &dx, &closed, 1e-13);
}
