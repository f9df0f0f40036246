//! An optimizer inside the differentiated function: a decay model y = a·exp(−k t) + c fitted by
//! a fixed budget of heavy-ball gradient-descent steps (hand-written gradient in a closure,
//! parameters and velocity in `Vec`s, stopping early only on a tiny gradient). The fitted rate
//! is differentiated with respect to the measurements (sensitivity of the estimate to the data)
//! and the final loss with respect to the optimizer's hyper-parameters; finite differences and
//! forward mode agree.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

pub struct Optimizer {
    pub learning_rate: f64,
    pub momentum: f64,
    pub steps: usize,
}

fn model(p: &[f64], t: f64) -> f64 {
    p[0] * (-p[1] * t).exp() + p[2]
}

fn fit(times: &[f64], ys: &[f64], opt: &Optimizer) -> (Vec<f64>, f64) {
    let loss_and_grad = |p: &[f64]| {
        let mut g = vec![0.0; 3];
        let mut loss = 0.0;
        for (&t, &y) in times.iter().zip(ys) {
            let e = (-p[1] * t).exp();
            let r = model(p, t) - y;
            loss += r * r;
            g[0] += 2.0 * r * e;
            g[1] -= 2.0 * r * p[0] * t * e;
            g[2] += 2.0 * r;
        }
        let n = ys.len() as f64;
        (loss / n, g.into_iter().map(|v| v / n).collect::<Vec<f64>>())
    };
    let mut p = vec![1.0, 0.5, 0.0];
    let mut velocity = vec![0.0; 3];
    for _ in 0..opt.steps {
        let (_, g) = loss_and_grad(&p);
        if g.iter().map(|v| v * v).sum::<f64>() < 1e-30 {
            break;
        }
        for ((pi, vi), gi) in p.iter_mut().zip(velocity.iter_mut()).zip(&g) {
            *vi = opt.momentum * *vi - opt.learning_rate * gi;
            *pi += *vi;
        }
    }
    let (loss, _) = loss_and_grad(&p);
    (p, loss)
}

#[autodiff_reverse(d_fitted_rate, Const, Duplicated, Const, Active)]
#[autodiff_forward(t_fitted_rate, Const, Dual, Const, Dual)]
fn fitted_rate(times: &[f64], ys: &[f64], opt: &Optimizer) -> f64 {
    fit(times, ys, opt).0[1]
}

#[autodiff_reverse(d_final_loss, Active, Active, Const, Const, Active)]
fn final_loss(learning_rate: f64, momentum: f64, times: &[f64], ys: &[f64]) -> f64 {
    fit(times, ys, &Optimizer { learning_rate, momentum, steps: 40 }).1
}

pub fn run() {
    let times: Vec<f64> = (0..12).map(|i| 0.25 * i as f64).collect();
    let ys: Vec<f64> = times.iter().enumerate().map(|(i, t)| 2.0 * (-0.8 * t).exp() + 0.3 + 0.02 * ((i * 5 % 7) as f64 - 3.0)).collect();
    let opt = Optimizer { learning_rate: 0.1, momentum: 0.8, steps: 40 };

    let mut dy = vec![0.0; ys.len()];
    let k = d_fitted_rate(&times, &ys, &mut dy, &opt, 1.0);
    assert_close("momentum_fit value", &[k], &[fitted_rate(&times, &ys, &opt)], 1e-14);
    assert_close("momentum_fit d/dy fd", &dy, &fd_gradient(|y| fitted_rate(&times, y, &opt), &ys), 1e-5);
    let dir: Vec<f64> = (0..ys.len()).map(|i| (i as f64 * 0.7).cos()).collect();
    let (_, t) = t_fitted_rate(&times, &ys, &dir, &opt);
    assert_close("momentum_fit forward vs reverse", &[t], &[dy.iter().zip(&dir).map(|(a, b)| a * b).sum::<f64>()], 1e-10);

    let (_, dlr, dmom) = d_final_loss(0.1, 0.8, &times, &ys, 1.0);
    let fd = fd_gradient(|h| final_loss(h[0], h[1], &times, &ys), &[0.1, 0.8]);
    assert_close("momentum_fit hyper fd", &[dlr, dmom], &fd, 1e-5);
}
