//! A model function the user keeps out of line (`#[inline(never)]`, as one does for profiling or
//! as the optimizer does with a large function): it builds a `Vec` of spring stretches with an
//! iterator chain over `Const` connectivity, grows a second `Vec` with `push`, and sums through
//! a closure. Differentiated directly (on the stable route the macro's shim calls it) and
//! through a caller that only forwards to it with a scaled argument: both derivatives run the
//! function's own combined derivative in place of the call (PrintPerf: "calls fused"), with an
//! `Active` argument's adjoint coming back from it. Checked against central differences and
//! forward mode.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

#[autodiff_reverse(d_energy, Duplicated, Const, Active, Active)]
#[autodiff_forward(t_energy, Dual, Const, Dual, Dual)]
#[inline(never)]
fn energy(x: &[f64], springs: &[(usize, usize, f64)], stiffness: f64) -> f64 {
    let stretch: Vec<f64> = springs.iter().map(|&(a, b, rest)| (x[b] - x[a]).abs() - rest).collect();
    let mut terms = Vec::new();
    for (k, s) in stretch.iter().enumerate() {
        let w = if k % 3 == 0 { 1.5 } else { 1.0 };
        terms.push(w * s * s);
    }
    let soft = |t: f64| t / (1.0 + 0.1 * t);
    0.5 * stiffness * terms.iter().map(|&t| soft(t)).sum::<f64>()
}

#[autodiff_reverse(d_doubled, Duplicated, Const, Active, Active)]
fn doubled(x: &[f64], springs: &[(usize, usize, f64)], stiffness: f64) -> f64 {
    energy(x, springs, 2.0 * stiffness)
}

pub fn run() {
    let x = [0.0, 1.1, 2.3, 2.9, 4.2];
    let springs = [(0, 1, 1.0), (1, 2, 1.0), (2, 3, 0.5), (3, 4, 1.2), (0, 2, 2.0), (1, 4, 3.5)];
    let k = 3.0;

    let mut dx = [0.0; 5];
    let (f, dk) = d_energy(&x, &mut dx, &springs, k, 1.0);
    assert_close("out_of_line_model value", &[f], &[energy(&x, &springs, k)], 1e-13);
    assert_close("out_of_line_model d/dx fd", &dx, &fd_gradient(|q| energy(q, &springs, k), &x), 1e-6);
    assert_close("out_of_line_model d/dk fd", &[dk], &fd_gradient(|q| energy(&x, &springs, q[0]), &[k]), 1e-6);

    // Forward along (x, k) = (seed, 0.5) against the reverse gradient.
    let seed = [0.3, -1.0, 0.0, 0.7, 0.2];
    let (_, t) = t_energy(&x, &seed, &springs, k, 0.5);
    let want: f64 = dx.iter().zip(&seed).map(|(d, s)| d * s).sum::<f64>() + 0.5 * dk;
    assert_close("out_of_line_model forward vs reverse", &[t], &[want], 1e-12);

    let mut dx2 = [0.0; 5];
    let (f2, dk2) = d_doubled(&x, &mut dx2, &springs, k, 1.0);
    assert_close("out_of_line_model doubled value", &[f2], &[doubled(&x, &springs, k)], 1e-13);
    assert_close("out_of_line_model doubled d/dx fd", &dx2, &fd_gradient(|q| doubled(q, &springs, k), &x), 1e-6);
    assert_close("out_of_line_model doubled d/dk fd", &[dk2], &fd_gradient(|q| doubled(&x, &springs, q[0]), &[k]), 1e-6);
}
