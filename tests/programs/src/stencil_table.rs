//! A finite-difference Laplacian energy whose stencil coefficients come from `static` tables,
//! picked per order and kept in an array of slices beside the field being differentiated: the
//! constant tables are reached through memory that also holds a differentiated slice.
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};

static SECOND_ORDER: [f64; 3] = [1.0, -2.0, 1.0];
static FOURTH_ORDER: [f64; 5] = [-1.0 / 12.0, 4.0 / 3.0, -2.5, 4.0 / 3.0, -1.0 / 12.0];

#[autodiff_reverse(d_energy, Duplicated, Const, Active)]
fn energy(u: &[f64], order: usize) -> f64 {
    // Rows of weights: the stencil, then the field itself as a weight profile.
    let rows: [&[f64]; 2] = [if order == 2 { &SECOND_ORDER } else { &FOURTH_ORDER }, u];
    let stencil = rows[0];
    let half = stencil.len() / 2;
    let mut e = 0.0;
    for i in half..u.len() - half {
        let lap: f64 = stencil.iter().enumerate().map(|(k, w)| w * rows[1][i + k - half]).sum();
        e += 0.5 * lap * lap + 0.1 * u[i].powi(4);
    }
    e
}

pub fn run() {
    let u: Vec<f64> = (0..12).map(|i| (0.4 * i as f64).sin() + 0.05 * i as f64).collect();
    for order in [2, 4] {
        let mut g = vec![0.0; u.len()];
        d_energy(&u, &mut g, order, 1.0);
        assert_close(&format!("stencil_table order {order}"), &g, &fd_gradient(|v| energy(v, order), &u), 1e-5);
        // Twice in a row: the derivative keeps no state between calls.
        let mut g2 = vec![0.0; u.len()];
        d_energy(&u, &mut g2, order, 1.0);
        assert_close(&format!("stencil_table order {order} again"), &g2, &g, 1e-14);
    }
}
