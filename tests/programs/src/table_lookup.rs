//! A property table looked up the way engineering code does it: the temperatures are a `Const`
//! table of knots searched with `partition_point` (integer work only), the tabulated values are
//! differentiated (`Duplicated`), each query interpolates linearly inside its interval, and a
//! `Vec` of residuals against measurements is built inside with an iterator chain. Queries
//! outside the table clamp to its ends (a branch on the search result). Differentiated with
//! respect to the table values and a temperature offset (`Active`); checked against central
//! differences and forward mode.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

fn lookup(knots: &[f64], values: &[f64], t: f64) -> f64 {
    let j = knots.partition_point(|&k| k <= t);
    if j == 0 {
        return values[0];
    }
    if j == knots.len() {
        return values[values.len() - 1];
    }
    let (t0, t1) = (knots[j - 1], knots[j]);
    let w = (t - t0) / (t1 - t0);
    values[j - 1] * (1.0 - w) + values[j] * w
}

#[autodiff_reverse(d_misfit, Const, Duplicated, Const, Const, Active, Active)]
#[autodiff_forward(t_misfit, Const, Dual, Const, Const, Dual, Dual)]
fn misfit(knots: &[f64], values: &[f64], temps: &[f64], measured: &[f64], offset: f64) -> f64 {
    let residuals: Vec<f64> = temps
        .iter()
        .zip(measured)
        .map(|(&t, &m)| lookup(knots, values, t + offset) - m)
        .collect();
    // Every other residual counts twice (an integer decision per query, nothing to reverse).
    residuals.iter().enumerate().map(|(i, r)| if i.count_ones() % 2 == 0 { 2.0 * r * r } else { r * r }).sum()
}

pub fn run() {
    let knots = [250.0, 275.0, 300.0, 325.0, 350.0, 400.0];
    let values = [1.12, 1.05, 0.99, 0.94, 0.90, 0.84];
    let temps = [240.0, 262.5, 281.0, 299.0, 318.0, 333.3, 371.0, 410.0];
    let measured = [1.10, 1.08, 1.02, 0.97, 0.95, 0.93, 0.86, 0.85];
    let offset = 1.5;
    let mut dv = [0.0; 6];
    let (f, doff) = d_misfit(&knots, &values, &mut dv, &temps, &measured, offset, 1.0);
    assert_close("table_lookup value", &[f], &[misfit(&knots, &values, &temps, &measured, offset)], 1e-13);
    let fd = fd_gradient(|v| misfit(&knots, v, &temps, &measured, offset), &values);
    assert_close("table_lookup d/dvalues fd", &dv, &fd, 1e-6);
    let fd_off = fd_gradient(|o| misfit(&knots, &values, &temps, &measured, o[0]), &[offset]);
    assert_close("table_lookup d/doffset fd", &[doff], &fd_off, 1e-6);
    // Forward along (values, offset) = (e_2, 0.5) against the reverse gradient.
    let mut seed = [0.0; 6];
    seed[2] = 1.0;
    let (_, t) = t_misfit(&knots, &values, &seed, &temps, &measured, offset, 0.5);
    assert_close("table_lookup forward vs reverse", &[t], &[dv[2] + 0.5 * doff], 1e-12);
}
