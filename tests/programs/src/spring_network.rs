//! Elastic energy of a small 3-D spring network with nalgebra, written as a user writes it:
//! `Vector3` differences and `norm()`, a stiffness-weighted `Matrix3` metric applied with
//! `m * v`, a `column()` view, and `try_inverse().expect(..)` of a metric built from the
//! parameters. A dev build moves nalgebra's views as integers and keeps `Option`'s `expect` as
//! a call: both once produced silently wrong gradients, so the gradients with respect to the
//! node positions and to the metric are checked against finite differences, and forward mode
//! against reverse.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};
use nalgebra::{Matrix3, Vector3};

const SPRINGS: [(usize, usize, f64); 6] = [(0, 1, 1.0), (1, 2, 0.8), (2, 3, 1.2), (3, 0, 0.9), (0, 2, 1.3), (1, 3, 1.1)];

fn node(x: &[f64], i: usize) -> Vector3<f64> {
    Vector3::new(x[3 * i], x[3 * i + 1], x[3 * i + 2])
}

/// The metric `M = I + AᵀA` with `A` from 9 parameters (row-major).
fn metric(a: &[f64]) -> Matrix3<f64> {
    let a = Matrix3::new(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]);
    Matrix3::identity() + a.transpose() * a
}

#[autodiff_reverse(d_energy_x, Duplicated, Const, Active)]
#[autodiff_reverse(d_energy_a, Const, Duplicated, Active)]
#[autodiff_forward(t_energy_x, Dual, Const, Dual)]
fn energy(x: &[f64], a: &[f64]) -> f64 {
    let m = metric(a);
    let m_inv = m.try_inverse().expect("the metric is positive definite");
    let mut e = 0.0;
    for &(i, j, rest) in SPRINGS.iter() {
        let d = node(x, j) - node(x, i);
        // Length in the metric, and in the Euclidean norm for a bending-free penalty.
        let l = d.dot(&(m * d)).sqrt();
        e += 0.5 * (l - rest).powi(2) + 0.01 * (d.norm() - rest).powi(2);
    }
    // A term through a column view of the inverse metric.
    e + 0.1 * m_inv.column(0).norm_squared()
}

pub fn run() {
    let x = [0.0, 0.1, -0.05, 1.05, 0.0, 0.1, 0.95, 1.1, 0.0, -0.1, 0.9, 0.2];
    let a = [0.3, 0.1, -0.2, 0.05, 0.4, 0.1, -0.1, 0.2, 0.25];

    let mut gx = [0.0; 12];
    d_energy_x(&x, &mut gx, &a, 1.0);
    assert_close("spring_network dE/dx", &gx, &fd_gradient(|p| energy(p, &a), &x), 1e-6);

    let mut ga = [0.0; 9];
    d_energy_a(&x, &a, &mut ga, 1.0);
    assert_close("spring_network dE/dA", &ga, &fd_gradient(|p| energy(&x, p), &a), 1e-6);

    let dir: Vec<f64> = (0..12).map(|i| ((i * 7 % 5) as f64 - 2.0) / 2.0).collect();
    let (e, t) = t_energy_x(&x, &dir, &a);
    assert_close("spring_network forward value", &[e], &[energy(&x, &a)], 1e-14);
    let want: f64 = gx.iter().zip(&dir).map(|(g, d)| g * d).sum();
    assert_close("spring_network forward vs reverse", &[t], &[want], 1e-10);
}
