//! Log-likelihood of a 1-D Gaussian mixture with a numerically stable log-sum-exp over a `Vec`
//! of component terms allocated per point; gradient with respect to means and log-scales.
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};

fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

#[autodiff_reverse(d_loglik, Duplicated, Const, Active)]
fn loglik(theta: &[f64], data: &[f64]) -> f64 {
    let k = theta.len() / 2;
    let (means, log_sigmas) = theta.split_at(k);
    let mut total = 0.0;
    for &x in data {
        let mut terms = Vec::with_capacity(k);
        for j in 0..k {
            let s = log_sigmas[j].exp();
            let z = (x - means[j]) / s;
            terms.push(-0.5 * z * z - log_sigmas[j] - (k as f64).ln());
        }
        total += log_sum_exp(&terms);
    }
    total
}

pub fn run() {
    let theta = [-1.0, 0.5, 2.0, 0.1, -0.3, 0.4];
    let data = [-1.2, -0.8, 0.3, 0.6, 1.9, 2.4, 2.2, -0.1];
    let mut g = [0.0; 6];
    d_loglik(&theta, &mut g, &data, 1.0);
    assert_close("gmm fd", &g, &fd_gradient(|t| loglik(t, &data), &theta), 1e-6);
}
