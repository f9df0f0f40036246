//! Negative log marginal likelihood of a Gaussian process with a squared-exponential kernel:
//! the covariance matrix built in a `Vec`, factored by a hand-written Cholesky, solved by
//! substitution; gradient with respect to the log hyperparameters.
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};

fn cholesky(a: &mut [f64], n: usize) {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
}

#[autodiff_reverse(d_nll, Duplicated, Const, Const, Active)]
fn nll(log_hyper: &[f64], xs: &[f64], ys: &[f64]) -> f64 {
    let (ell, sf2, sn2) = (log_hyper[0].exp(), (2.0 * log_hyper[1]).exp(), (2.0 * log_hyper[2]).exp());
    let n = xs.len();
    let mut k = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let r = (xs[i] - xs[j]) / ell;
            k[i * n + j] = sf2 * (-0.5 * r * r).exp() + if i == j { sn2 } else { 0.0 };
        }
    }
    cholesky(&mut k, n);
    // Solve L z = y; then yᵀK⁻¹y = |z|².
    let mut z = ys.to_vec();
    for i in 0..n {
        for k2 in 0..i {
            z[i] -= k[i * n + k2] * z[k2];
        }
        z[i] /= k[i * n + i];
    }
    let fit: f64 = z.iter().map(|v| v * v).sum();
    let logdet: f64 = (0..n).map(|i| k[i * n + i].ln()).sum();
    0.5 * fit + logdet + 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln()
}

pub fn run() {
    let xs = [-1.5, -0.7, 0.0, 0.4, 1.1, 1.9];
    let ys = [-0.9, -0.5, 0.1, 0.3, 0.8, 0.9];
    let h = [0.1, -0.2, -1.5];
    let mut g = [0.0; 3];
    d_nll(&h, &mut g, &xs, &ys, 1.0);
    assert_close("gp_likelihood fd", &g, &fd_gradient(|q| nll(q, &xs, &ys), &h), 1e-6);
}
