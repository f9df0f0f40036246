//! Holt's linear-trend forecasting: level and trend smoothed with `scan` over the series, the
//! one-step-ahead errors collected, a trailing window of them (`rev().take(..)`) weighted more,
//! and lagged pairs built with `flat_map`. Differentiated with respect to the two smoothing
//! factors (`Active`) and the series (`Duplicated`); checked against finite differences and
//! forward mode.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

#[autodiff_reverse(d_cost, Duplicated, Active, Active, Active)]
#[autodiff_forward(t_cost, Const, Dual, Dual, Dual)]
fn cost(series: &[f64], alpha: f64, beta: f64) -> f64 {
    let start = (series[0], series[1] - series[0]);
    let errors: Vec<f64> = series[1..]
        .iter()
        .scan(start, |(level, trend), &y| {
            let forecast = *level + *trend;
            let new_level = alpha * y + (1.0 - alpha) * forecast;
            *trend = beta * (new_level - *level) + (1.0 - beta) * *trend;
            *level = new_level;
            Some(y - forecast)
        })
        .collect();
    let recent: f64 = errors.iter().rev().take(3).map(|e| 2.0 * e * e).sum();
    let lagged: f64 = errors.windows(2).flat_map(|w| [w[0] * w[1], 0.1 * w[1]]).sum();
    errors.iter().map(|e| e * e).sum::<f64>() + recent + 0.5 * lagged
}

pub fn run() {
    let series = [10.0, 10.8, 11.9, 12.4, 13.8, 14.1, 15.6, 16.2, 17.9, 18.3];
    let (alpha, beta) = (0.6, 0.3);
    let mut ds = [0.0; 10];
    let (v, da, db) = d_cost(&series, &mut ds, alpha, beta, 1.0);
    assert_close("holt_forecast value", &[v], &[cost(&series, alpha, beta)], 1e-13);
    assert_close("holt_forecast d/dseries fd", &ds, &fd_gradient(|s| cost(s, alpha, beta), &series), 1e-6);
    let fd = fd_gradient(|p| cost(&series, p[0], p[1]), &[alpha, beta]);
    assert_close("holt_forecast d/dalpha,beta fd", &[da, db], &fd, 1e-6);
    let (_, t) = t_cost(&series, alpha, 1.0, beta, -0.5);
    assert_close("holt_forecast forward vs reverse", &[t], &[da - 0.5 * db], 1e-12);
}
