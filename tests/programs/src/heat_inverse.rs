//! Inverse problem for the 1-D heat equation: explicit time steps on a rod whose conductivity
//! varies per cell; the misfit of the final temperature against observations, differentiated
//! with respect to the conductivities (a loop over time with a scratch buffer swapped in place).
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};

#[autodiff_reverse(d_misfit, Duplicated, Duplicated, Const, Active)]
fn misfit(kappa: &[f64], u: &mut [f64], observed: &[f64]) -> f64 {
    let n = u.len();
    let dt = 0.1;
    let mut next = [0.0; 16];
    assert!(n <= next.len());
    for _ in 0..40 {
        for i in 1..n - 1 {
            let flux_r = kappa[i] * (u[i + 1] - u[i]);
            let flux_l = kappa[i - 1] * (u[i] - u[i - 1]);
            next[i] = u[i] + dt * (flux_r - flux_l);
        }
        u[1..n - 1].copy_from_slice(&next[1..n - 1]);
    }
    u.iter().zip(observed).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() * 0.5
}

pub fn run() {
    let n = 10;
    let u0: Vec<f64> = (0..n).map(|i| if i == n / 2 { 1.0 } else { 0.1 * i as f64 / n as f64 }).collect();
    let kappa: Vec<f64> = (0..n).map(|i| 0.5 + 0.3 * (i as f64 * 0.7).sin()).collect();
    let observed: Vec<f64> = (0..n).map(|i| 0.2 + 0.01 * i as f64).collect();
    let mut u = u0.clone();
    let mut du = vec![0.0; n];
    let mut dk = vec![0.0; n];
    d_misfit(&kappa, &mut dk, &mut u, &mut du, &observed, 1.0);
    let f = |k: &[f64]| misfit(k, &mut u0.clone(), &observed);
    assert_close("heat_inverse fd (conductivities)", &dk, &fd_gradient(f, &kappa), 1e-6);
    let g = |v: &[f64]| misfit(&kappa, &mut v.to_vec(), &observed);
    assert_close("heat_inverse fd (initial state)", &du, &fd_gradient(g, &u0), 1e-6);
}
