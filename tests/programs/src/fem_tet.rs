//! Strain energy of one linear tetrahedral finite element with nalgebra: the deformation
//! gradient F = Ds·Dm⁻¹ from `Matrix3`s (edge vectors as columns), Green strain, a
//! St. Venant–Kirchhoff energy plus a volumetric penalty on det F, times the rest volume.
//! Nodal forces (reverse mode) are checked against finite differences, zero net force and zero
//! net torque (the energy is invariant under rigid motions), and forward mode along a direction;
//! the shape derivative with respect to the rest positions (through `try_inverse` and
//! `determinant` of active data) is checked against finite differences too.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};
use nalgebra::{Matrix3, Vector3};

pub struct Material {
    pub mu: f64,
    pub lambda: f64,
    pub kappa: f64,
}

fn node(x: &[f64], i: usize) -> Vector3<f64> {
    Vector3::new(x[3 * i], x[3 * i + 1], x[3 * i + 2])
}

fn edge_matrix(x: &[f64]) -> Matrix3<f64> {
    let x0 = node(x, 0);
    Matrix3::from_columns(&[node(x, 1) - x0, node(x, 2) - x0, node(x, 3) - x0])
}

#[autodiff_reverse(d_element_energy, Duplicated, Const, Const, Active)]
#[autodiff_reverse(d_energy_wrt_rest, Const, Duplicated, Const, Active)]
#[autodiff_forward(t_element_energy, Dual, Const, Const, Dual)]
fn element_energy(x: &[f64], rest: &[f64], mat: &Material) -> f64 {
    let dm = edge_matrix(rest);
    let dm_inv = dm.try_inverse().expect("degenerate rest element");
    let volume = dm.determinant().abs() / 6.0;
    let f = edge_matrix(x) * dm_inv;
    let e = (f.transpose() * f - Matrix3::identity()) * 0.5;
    let j = f.determinant();
    let w = mat.mu * (e * e).trace() + 0.5 * mat.lambda * e.trace().powi(2) + 0.5 * mat.kappa * (j - 1.0).powi(2);
    volume * w
}

pub fn run() {
    let rest = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    let x = [0.05, -0.02, 0.01, 1.1, 0.08, -0.03, -0.04, 0.93, 0.12, 0.06, 0.1, 1.2];
    let mat = Material { mu: 3.0, lambda: 5.0, kappa: 2.0 };

    let mut g = [0.0; 12];
    d_element_energy(&x, &mut g, &rest, &mat, 1.0);
    assert_close("fem_tet fd", &g, &fd_gradient(|p| element_energy(p, &rest, &mat), &x), 1e-5);
    let net: Vector3<f64> = (0..4).map(|i| node(&g, i)).sum();
    assert_close("fem_tet net force", net.as_slice(), &[0.0; 3], 1e-10);
    let torque: Vector3<f64> = (0..4).map(|i| node(&x, i).cross(&node(&g, i))).sum();
    assert_close("fem_tet net torque", torque.as_slice(), &[0.0; 3], 1e-10);

    let dir: Vec<f64> = (0..12).map(|i| ((i * 5 % 7) as f64 - 3.0) / 3.0).collect();
    let (e, t) = t_element_energy(&x, &dir, &rest, &mat);
    assert_close("fem_tet forward value", &[e], &[element_energy(&x, &rest, &mat)], 1e-14);
    let want: f64 = g.iter().zip(&dir).map(|(a, b)| a * b).sum();
    assert_close("fem_tet forward vs reverse", &[t], &[want], 1e-10);

    let mut gr = [0.0; 12];
    d_energy_wrt_rest(&x, &rest, &mut gr, &mat, 1.0);
    assert_close("fem_tet rest fd", &gr, &fd_gradient(|r| element_energy(&x, r, &mat), &rest), 1e-5);
}
