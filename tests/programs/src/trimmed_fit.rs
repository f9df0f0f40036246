//! A robust line fit: the loss is the sum of the smallest squared residuals (a trimmed least
//! squares), found by sorting the residuals with `sort_by`; the points are visited in an order
//! given by sorting indices by their `Const` x coordinate.
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};

#[autodiff_reverse(d_trimmed, Duplicated, Const, Const, Active)]
fn trimmed(line: &[f64], xs: &[f64], ys: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].partial_cmp(&xs[b]).unwrap());
    let mut r2: Vec<f64> = order.iter().map(|&i| (line[0] + line[1] * xs[i] - ys[i]).powi(2)).collect();
    r2.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let keep = r2.len() * 3 / 4;
    r2[..keep].iter().sum()
}

pub fn run() {
    let xs = [0.9, -1.0, 0.1, 2.0, 1.5, -0.5, 3.0, 0.4];
    let ys = [2.1, -0.8, 1.2, 4.9, 3.8, 0.2, -4.0, 1.9];
    let line = [0.9, 1.6];
    let mut g = [0.0; 2];
    d_trimmed(&line, &mut g, &xs, &ys, 1.0);
    assert_close("trimmed_fit fd", &g, &fd_gradient(|l| trimmed(l, &xs, &ys), &line), 1e-6);
}
