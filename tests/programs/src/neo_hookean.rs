//! Compressible neo-Hookean strain energy of a deformation gradient F (a 3×3 array): the first
//! Piola-Kirchhoff stress is the gradient; checked against finite differences and against the
//! closed form P = μ(F − F⁻ᵀ) + λ ln(J) F⁻ᵀ.
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};

type M3 = [[f64; 3]; 3];

fn det(f: &M3) -> f64 {
    f[0][0] * (f[1][1] * f[2][2] - f[1][2] * f[2][1]) - f[0][1] * (f[1][0] * f[2][2] - f[1][2] * f[2][0])
        + f[0][2] * (f[1][0] * f[2][1] - f[1][1] * f[2][0])
}

fn to_m3(x: &[f64]) -> M3 {
    let mut m = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = x[3 * i + j];
        }
    }
    m
}

#[autodiff_reverse(d_energy, Duplicated, Const, Active)]
fn energy(x: &[f64], material: &[f64]) -> f64 {
    let (mu, lambda) = (material[0], material[1]);
    let f = to_m3(x);
    let j = det(&f);
    assert!(j > 0.0, "inverted element: J = {j}");
    let i1: f64 = f.iter().flatten().map(|v| v * v).sum();
    let ln_j = j.ln();
    0.5 * mu * (i1 - 3.0) - mu * ln_j + 0.5 * lambda * ln_j * ln_j
}

fn inverse_transpose(f: &M3) -> M3 {
    let j = det(f);
    let mut c = [[0.0; 3]; 3];
    for i in 0..3 {
        for k in 0..3 {
            let (i1, i2, k1, k2) = ((i + 1) % 3, (i + 2) % 3, (k + 1) % 3, (k + 2) % 3);
            c[i][k] = (f[i1][k1] * f[i2][k2] - f[i1][k2] * f[i2][k1]) / j;
        }
    }
    c
}

pub fn run() {
    let x = [1.1, 0.05, -0.02, 0.03, 0.95, 0.1, 0.0, -0.04, 1.2];
    let material = [0.8, 1.7];
    let mut p = [0.0; 9];
    d_energy(&x, &mut p, &material, 1.0);
    assert_close("neo_hookean fd", &p, &fd_gradient(|y| energy(y, &material), &x), 1e-6);
    let f = to_m3(&x);
    let fit = inverse_transpose(&f);
    let ln_j = det(&f).ln();
    let closed: Vec<f64> = (0..9)
        .map(|k| {
            let (i, j) = (k / 3, k % 3);
            material[0] * (f[i][j] - fit[i][j]) + material[1] * ln_j * fit[i][j]
        })
        .collect();
    assert_close("neo_hookean closed form", &p, &closed, 1e-12);
}
