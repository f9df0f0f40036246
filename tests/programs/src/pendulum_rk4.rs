//! Sensitivity of a damped pendulum's final angle to its parameters through RK4 steps
//! (state in a small array, the right-hand side a closure), reverse against forward mode.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

fn rk4(f: impl Fn([f64; 2]) -> [f64; 2], y: [f64; 2], h: f64) -> [f64; 2] {
    let add = |a: [f64; 2], b: [f64; 2], s: f64| [a[0] + s * b[0], a[1] + s * b[1]];
    let k1 = f(y);
    let k2 = f(add(y, k1, h / 2.0));
    let k3 = f(add(y, k2, h / 2.0));
    let k4 = f(add(y, k3, h));
    [
        y[0] + h / 6.0 * (k1[0] + 2.0 * k2[0] + 2.0 * k3[0] + k4[0]),
        y[1] + h / 6.0 * (k1[1] + 2.0 * k2[1] + 2.0 * k3[1] + k4[1]),
    ]
}

#[autodiff_reverse(d_final_angle, Duplicated, Active)]
fn final_angle(p: &[f64]) -> f64 {
    let (g_over_l, damping) = (p[0], p[1]);
    let rhs = |y: [f64; 2]| [y[1], -g_over_l * y[0].sin() - damping * y[1]];
    let mut y = [p[2], 0.0];
    for _ in 0..50 {
        y = rk4(rhs, y, 0.02);
    }
    y[0]
}

#[autodiff_forward(t_final_angle, Dual, Dual)]
fn final_angle_fwd(p: &[f64]) -> f64 {
    final_angle(p)
}

pub fn run() {
    let p = [9.81, 0.3, 0.8];
    let mut g = [0.0; 3];
    d_final_angle(&p, &mut g, 1.0);
    assert_close("pendulum_rk4 fd", &g, &fd_gradient(final_angle, &p), 1e-6);
    for i in 0..3 {
        let mut e = [0.0; 3];
        e[i] = 1.0;
        let (_, t) = t_final_angle(&p, &e);
        assert_close("pendulum_rk4 forward vs reverse", &[t], &[g[i]], 1e-10);
    }
}
