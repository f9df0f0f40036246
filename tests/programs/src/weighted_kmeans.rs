//! Weighted k-means with Newton steps: cost Σᵢ wᵢ · minⱼ ‖cⱼ − pᵢ‖² over points in rows
//! (`chunks_exact`), its gradient by reverse mode, and second derivatives of it two ways:
//! forward over reverse (Hessian-vector products of the gradient) and reverse over reverse
//! (the gradient of ⟨∇_c cost, v⟩). Some weights are zero: the distance loop of every centroid
//! but the nearest, and every loop of a point weighted zero, receives a zero adjoint in the
//! gradient (whose reversal skips them), yet the second derivatives with respect to those
//! weights are not zero. Checked against finite differences of the gradient and of
//! ⟨∇_c cost, v⟩, and the two second derivatives against each other.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

#[autodiff_reverse(d_cost, Const, Duplicated, Duplicated, Const, Active)]
fn cost(points: &[f64], centroids: &[f64], weights: &[f64], d: usize) -> f64 {
    let mut total = 0.0;
    for (p, w) in points.chunks_exact(d).zip(weights) {
        let mut best = f64::INFINITY;
        for c in centroids.chunks_exact(d) {
            let dist: f64 = c.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
            if dist < best {
                best = dist;
            }
        }
        total += w * best;
    }
    total
}

/// ∇ cost with respect to the centroids and the weights, overwritten.
#[autodiff_forward(hvp, Const, Dual, Dual, Const, Dual, Dual)]
fn gradient(points: &[f64], centroids: &[f64], weights: &[f64], d: usize, gc: &mut [f64], gw: &mut [f64]) {
    gc.fill(0.0);
    gw.fill(0.0);
    d_cost(points, centroids, gc, weights, gw, d, 1.0);
}

/// ⟨∇_c cost, v⟩: its gradient is H·v (rows for the centroids and for the weights).
#[autodiff_reverse(d_directional, Const, Duplicated, Duplicated, Const, Const, Active)]
fn directional(points: &[f64], centroids: &[f64], weights: &[f64], v: &[f64], d: usize) -> f64 {
    let mut gc = vec![0.0; centroids.len()];
    let mut gw = vec![0.0; weights.len()];
    gradient(points, centroids, weights, d, &mut gc, &mut gw);
    gc.iter().zip(v).map(|(g, v)| g * v).sum()
}

pub fn run() {
    // Rows of four: the reversal of the distance loop runs (and is skipped) in its main
    // unrolled form.
    let d = 4;
    let points = [
        0.1, 0.2, -0.3, 0.4, 1.0, 1.1, 0.9, 1.2, -0.5, 0.3, -0.8, 0.1, 2.2, 1.9, 2.4, 1.7, 0.9, -0.4, 0.2, 0.8, -1.1, 0.6, -0.2, 0.5,
    ];
    let centroids = [0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 1.0, -1.0, 0.5, -0.5, 0.2];
    let weights = [1.0, 0.0, 2.5, 0.0, 0.75, 0.0];
    let v = [0.3, -1.0, 0.6, 0.2, -0.4, 1.1, 0.5, -0.7, 0.9, 0.1, -0.3, 0.8];
    let vw = [0.5, 1.0, -0.25, 2.0, 0.0, -1.5];
    let (nc, nw) = (centroids.len(), weights.len());

    // The gradient against finite differences.
    let (mut gc, mut gw) = (vec![0.0; nc], vec![0.0; nw]);
    gradient(&points, &centroids, &weights, d, &mut gc, &mut gw);
    assert_close("weighted_kmeans ∇c", &gc, &fd_gradient(|c| cost(&points, c, &weights, d), &centroids), 1e-6);
    assert_close("weighted_kmeans ∇w", &gw, &fd_gradient(|w| cost(&points, &centroids, w, d), &weights), 1e-6);

    // Forward over reverse: the gradient's derivative in the direction (v, vw).
    let (mut hc, mut hw) = (vec![0.0; nc], vec![0.0; nw]);
    let (mut gc2, mut gw2) = (vec![0.0; nc], vec![0.0; nw]);
    hvp(&points, &centroids, &v, &weights, &vw, d, &mut gc2, &mut hc, &mut gw2, &mut hw);
    assert_close("weighted_kmeans ∇c (forward over reverse)", &gc2, &gc, 1e-12);
    let along = |s: f64| {
        let c: Vec<f64> = centroids.iter().zip(&v).map(|(a, b)| a + s * b).collect();
        let w: Vec<f64> = weights.iter().zip(&vw).map(|(a, b)| a + s * b).collect();
        let (mut gc, mut gw) = (vec![0.0; nc], vec![0.0; nw]);
        gradient(&points, &c, &w, d, &mut gc, &mut gw);
        gc.into_iter().chain(gw).collect::<Vec<f64>>()
    };
    let h = 1e-6;
    let (up, down) = (along(h), along(-h));
    let fd: Vec<f64> = up.iter().zip(&down).map(|(a, b)| (a - b) / (2.0 * h)).collect();
    let got: Vec<f64> = hc.iter().chain(&hw).copied().collect();
    assert_close("weighted_kmeans H·(v, vw) (forward over reverse)", &got, &fd, 1e-6);
    // The weights' rows are not zero where the weights are.
    assert!(hc.iter().any(|&x| x != 0.0) && fd[nc..].iter().any(|&x| x != 0.0));

    // The centroid rows of H·(v, 0): the symmetric Hcc·v, whose weight rows are Hwc·v, match
    // the directional derivatives of ∇w along v.
    let (mut hc0, mut hw0) = (vec![0.0; nc], vec![0.0; nw]);
    let zeros = vec![0.0; nw];
    hvp(&points, &centroids, &v, &weights, &zeros, d, &mut gc2, &mut hc0, &mut gw2, &mut hw0);
    let gw_along = |s: f64| {
        let c: Vec<f64> = centroids.iter().zip(&v).map(|(a, b)| a + s * b).collect();
        let (mut gc, mut gw) = (vec![0.0; nc], vec![0.0; nw]);
        gradient(&points, &c, &weights, d, &mut gc, &mut gw);
        gw
    };
    let (up, down) = (gw_along(h), gw_along(-h));
    let fd: Vec<f64> = up.iter().zip(&down).map(|(a, b)| (a - b) / (2.0 * h)).collect();
    assert_close("weighted_kmeans Hwc·v (forward over reverse)", &hw0, &fd, 1e-6);
    // Zero weights have non-zero rows.
    assert!(weights.iter().zip(&hw0).any(|(&w, &hv)| w == 0.0 && hv != 0.0));

    // Reverse over reverse: the gradient of ⟨∇_c cost, v⟩ is H·(v, 0) again.
    let (mut rc, mut rw) = (vec![0.0; nc], vec![0.0; nw]);
    d_directional(&points, &centroids, &mut rc, &weights, &mut rw, &v, d, 1.0);
    let f = |c: &[f64], w: &[f64]| directional(&points, c, w, &v, d);
    assert_close("weighted_kmeans ∇⟨∇c, v⟩ over c (reverse over reverse)", &rc, &fd_gradient(|c| f(c, &weights), &centroids), 1e-6);
    assert_close("weighted_kmeans ∇⟨∇c, v⟩ over w (reverse over reverse)", &rw, &fd_gradient(|w| f(&centroids, w), &weights), 1e-6);
    assert_close("weighted_kmeans Hcc·v forward vs reverse over reverse", &hc0, &rc, 1e-12);
    assert_close("weighted_kmeans Hwc·v forward vs reverse over reverse", &hw0, &rw, 1e-12);
}
