//! 2-D rigid registration of a point cloud, written as one writes it: rows of a flat buffer
//! walked with `chunks_exact` by a width known only at run time, small fixed-size arrays
//! (`[f64; 2]`, a 2×2 rotation) filled by short loops, and a penalty on the worst residual
//! kept by a running maximum. The misfit's gradient by reverse mode (central differences,
//! forward mode), then a few gradient steps that call that gradient, differentiated again
//! (reverse over reverse: how the refined fit depends on the starting pose), against central
//! differences of the whole refinement.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

/// The point `p` (its first two numbers) rotated by `pose[0]` and moved by `pose[1..3]`.
fn transform(pose: &[f64], p: &[f64]) -> [f64; 2] {
    let (s, c) = pose[0].sin_cos();
    let rot = [[c, -s], [s, c]];
    let mut out = [0.0; 2];
    for i in 0..2 {
        for j in 0..2 {
            out[i] += rot[i][j] * p[j];
        }
        out[i] += pose[1 + i];
    }
    out
}

/// Σ squared distances from the moved `points` (rows of `dim` numbers) to `targets` (rows of
/// two), plus a tenth of the largest one.
#[autodiff_reverse(d_misfit, Duplicated, Const, Const, Const, Active)]
#[autodiff_forward(t_misfit, Dual, Const, Const, Const, Dual)]
fn misfit(pose: &[f64], points: &[f64], targets: &[f64], dim: usize) -> f64 {
    let mut total = 0.0;
    let mut worst = 0.0;
    for (p, t) in points.chunks_exact(dim).zip(targets.chunks_exact(2)) {
        let q = transform(pose, p);
        let mut r = 0.0;
        for i in 0..2 {
            let e = q[i] - t[i];
            r += e * e;
        }
        total += r;
        if r > worst {
            worst = r;
        }
    }
    total + 0.1 * worst
}

/// Four gradient steps on the pose from `start`, then the misfit there.
#[autodiff_reverse(d_refined, Duplicated, Const, Const, Const, Active)]
fn refined(start: &[f64], points: &[f64], targets: &[f64], dim: usize) -> f64 {
    let mut pose = [start[0], start[1], start[2]];
    for _ in 0..4 {
        let mut g = [0.0; 3];
        d_misfit(&pose, &mut g, points, targets, dim, 1.0);
        for k in 0..3 {
            pose[k] -= 0.05 * g[k];
        }
    }
    misfit(&pose, points, targets, dim)
}

pub fn run() {
    // Rows of three: x, y and a label the fit ignores.
    let points = [0.0, 0.0, 7.0, 1.0, 0.2, 7.0, 0.3, 1.1, 8.0, -0.8, 0.5, 9.0, 0.6, -0.9, 9.0];
    let targets = [0.31, -0.18, 1.22, 0.45, 0.35, 1.44, -0.52, 0.21, 0.95, -1.9];
    let dim = 3;
    let pose = [0.2, 0.25, -0.1];

    let mut g = [0.0; 3];
    let f = d_misfit(&pose, &mut g, &points, &targets, dim, 1.0);
    assert_close("rigid_fit misfit value", &[f], &[misfit(&pose, &points, &targets, dim)], 1e-13);
    let want = fd_gradient(|q| misfit(q, &points, &targets, dim), &pose);
    assert_close("rigid_fit misfit gradient fd", &g, &want, 1e-6);

    let seed = [0.4, -1.0, 0.6];
    let (_, t) = t_misfit(&pose, &seed, &points, &targets, dim);
    let dot: f64 = g.iter().zip(&seed).map(|(a, b)| a * b).sum();
    assert_close("rigid_fit forward vs reverse", &[t], &[dot], 1e-12);

    let mut gs = [0.0; 3];
    let r = d_refined(&pose, &mut gs, &points, &targets, dim, 1.0);
    assert_close("rigid_fit refined value", &[r], &[refined(&pose, &points, &targets, dim)], 1e-13);
    assert!(r < f, "rigid_fit: the gradient steps lower the misfit ({r} vs {f})");
    let want = fd_gradient(|q| refined(q, &points, &targets, dim), &pose);
    assert_close("rigid_fit refined gradient fd (reverse over reverse)", &gs, &want, 1e-6);
}
