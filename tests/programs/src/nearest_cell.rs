//! Particle-in-cell deposit: each particle finds its nearest cell through a helper returning
//! `Option<(&mut f64, f64)>` (a reference into the grid beside a differentiated distance,
//! returned as one `{ ptr, double }` value), adds a weight there, and the spread and the grid
//! energy are the objective. Reverse mode (grid, positions, weight) is checked against finite
//! differences and against forward mode.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

/// The cell nearest to `x` and the distance to its centre.
#[inline(never)]
fn nearest<'a>(cells: &'a mut [f64], centres: &[f64], x: f64) -> Option<(&'a mut f64, f64)> {
    let mut best: Option<(usize, f64)> = None;
    for (i, &c) in centres.iter().enumerate() {
        let d = (x - c).abs();
        if best.is_none_or(|(_, b)| d < b) {
            best = Some((i, d));
        }
    }
    best.map(move |(i, d)| (&mut cells[i], d))
}

#[autodiff_reverse(d_deposit, Duplicated, Const, Duplicated, Active, Active)]
#[autodiff_forward(t_deposit, Const, Const, Const, Dual, Dual)]
fn deposit(grid: &[f64], centres: &[f64], xs: &[f64], w: f64) -> f64 {
    let mut cells = grid.to_vec();
    let mut spread = 0.0;
    for &x in xs {
        if let Some((cell, d)) = nearest(&mut cells, centres, x) {
            *cell += w * (-d * d).exp();
            spread += d * d * *cell;
        }
    }
    spread + cells.iter().map(|c| c * c).sum::<f64>()
}

pub fn run() {
    let grid = [0.3, -0.2, 0.5, 0.1, 0.8];
    let centres = [0.0, 1.0, 2.0, 3.0, 4.0];
    let xs = [0.2, 1.35, 3.9, 2.2, 0.45, 3.1];
    let w = 0.7;
    let (mut dg, mut dx) = ([0.0; 5], [0.0; 6]);
    let (v, dw) = d_deposit(&grid, &mut dg, &centres, &xs, &mut dx, w, 1.0);
    assert_close("nearest_cell value", &[v], &[deposit(&grid, &centres, &xs, w)], 1e-14);
    assert_close("nearest_cell d/dgrid fd", &dg, &fd_gradient(|g| deposit(g, &centres, &xs, w), &grid), 1e-6);
    assert_close("nearest_cell d/dx fd", &dx, &fd_gradient(|x| deposit(&grid, &centres, x, w), &xs), 1e-6);
    assert_close("nearest_cell d/dw fd", &[dw], &fd_gradient(|a| deposit(&grid, &centres, &xs, a[0]), &[w]), 1e-6);
    let (_, t) = t_deposit(&grid, &centres, &xs, w, 1.0);
    assert_close("nearest_cell forward vs reverse", &[t], &[dw], 1e-12);
}
