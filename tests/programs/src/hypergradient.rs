//! A hypergradient: the validation loss after a few steps of gradient descent on a ridge
//! regression, differentiated with respect to the learning rate and the regularization weight
//! (the inner loop updates a `Vec` of weights in place; data are `Const`).
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};

fn train_grad(w: &[f64], xs: &[f64], ys: &[f64], lambda: f64) -> Vec<f64> {
    let d = w.len();
    let mut g: Vec<f64> = w.iter().map(|wi| 2.0 * lambda * wi).collect();
    for (x, y) in xs.chunks(d).zip(ys) {
        let r = x.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() - y;
        for (gi, xi) in g.iter_mut().zip(x) {
            *gi += 2.0 * r * xi / ys.len() as f64;
        }
    }
    g
}

#[autodiff_reverse(d_val_loss, Duplicated, Const, Const, Const, Const, Active)]
fn val_loss(hyper: &[f64], xs: &[f64], ys: &[f64], xv: &[f64], yv: &[f64]) -> f64 {
    let (lr, lambda) = (hyper[0], hyper[1]);
    let d = xs.len() / ys.len();
    let mut w = vec![0.0; d];
    for _ in 0..6 {
        let g = train_grad(&w, xs, ys, lambda);
        for (wi, gi) in w.iter_mut().zip(&g) {
            *wi -= lr * gi;
        }
    }
    xv.chunks(d).zip(yv).map(|(x, y)| (x.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() - y).powi(2)).sum::<f64>()
        / yv.len() as f64
}

pub fn run() {
    let xs = [1.0, 0.5, -0.3, 0.8, 0.2, -1.0, 1.5, 0.1, -0.7, 0.4, 0.9, 0.6];
    let ys = [1.2, 0.9, -0.8, 1.1, 0.3, 0.8];
    let xv = [0.3, 0.3, -1.0, 0.5, 0.7, -0.2];
    let yv = [0.5, -0.7, 0.6];
    let hyper = [0.15, 0.05];
    let mut g = [0.0; 2];
    d_val_loss(&hyper, &mut g, &xs, &ys, &xv, &yv, 1.0);
    assert_close("hypergradient fd", &g, &fd_gradient(|h| val_loss(h, &xs, &ys, &xv, &yv), &hyper), 1e-6);
}
