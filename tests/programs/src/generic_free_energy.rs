//! Generic code called from differentiated functions: a Simpson integrator generic over
//! `F: Fn(f64) -> f64`, a `Potential` trait with Morse and harmonic implementations, and a
//! classical partition function generic over `P: Potential`. The free energy F = −ln Z / β is
//! differentiated with respect to the potential parameters and β; the closed forms are thermal
//! averages computed with the same quadrature: ∂F/∂θ = ⟨∂E/∂θ⟩ and ∂F/∂β = (ln Z)/β² + ⟨E⟩/β.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

pub trait Potential {
    fn energy(&self, r: f64) -> f64;
}

pub struct Morse {
    pub depth: f64,
    pub width: f64,
    pub r0: f64,
}

pub struct Harmonic {
    pub k: f64,
    pub r0: f64,
}

impl Potential for Morse {
    fn energy(&self, r: f64) -> f64 {
        self.depth * (1.0 - (-self.width * (r - self.r0)).exp()).powi(2)
    }
}

impl Potential for Harmonic {
    fn energy(&self, r: f64) -> f64 {
        0.5 * self.k * (r - self.r0).powi(2)
    }
}

fn simpson<F: Fn(f64) -> f64>(f: F, a: f64, b: f64, n: usize) -> f64 {
    let h = (b - a) / n as f64;
    let inner: f64 = (1..n).map(|i| f(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 }).sum();
    h / 3.0 * (f(a) + inner + f(b))
}

fn partition_function<P: Potential>(pot: &P, beta: f64) -> f64 {
    simpson(|r| r * r * (-beta * pot.energy(r)).exp(), 0.5, 3.0, 200)
}

fn free_energy<P: Potential>(pot: &P, beta: f64) -> f64 {
    -partition_function(pot, beta).ln() / beta
}

#[autodiff_reverse(d_morse_free_energy, Duplicated, Active, Active)]
fn morse_free_energy(params: &[f64], beta: f64) -> f64 {
    free_energy(&Morse { depth: params[0], width: params[1], r0: params[2] }, beta)
}

#[autodiff_forward(t_harmonic_free_energy, Dual, Dual, Dual)]
#[autodiff_reverse(d_harmonic_free_energy, Active, Active, Active)]
fn harmonic_free_energy(k: f64, beta: f64) -> f64 {
    free_energy(&Harmonic { k, r0: 1.5 }, beta)
}

fn thermal_average<P: Potential>(pot: &P, beta: f64, g: impl Fn(f64) -> f64) -> f64 {
    simpson(|r| r * r * (-beta * pot.energy(r)).exp() * g(r), 0.5, 3.0, 200) / partition_function(pot, beta)
}

pub fn run() {
    let params = [2.0, 1.3, 1.4];
    let beta = 1.7;
    let mut g = [0.0; 3];
    let (f, dbeta) = d_morse_free_energy(&params, &mut g, beta, 1.0);
    assert_close("generic_free_energy value", &[f], &[morse_free_energy(&params, beta)], 1e-13);
    assert_close("generic_free_energy fd", &g, &fd_gradient(|p| morse_free_energy(p, beta), &params), 1e-5);
    assert_close("generic_free_energy beta fd", &[dbeta], &fd_gradient(|b| morse_free_energy(&params, b[0]), &[beta]), 1e-5);

    let m = Morse { depth: params[0], width: params[1], r0: params[2] };
    let (d, a, r0) = (params[0], params[1], params[2]);
    let want = [
        thermal_average(&m, beta, |r| (1.0 - (-a * (r - r0)).exp()).powi(2)),
        thermal_average(&m, beta, |r| 2.0 * d * (1.0 - (-a * (r - r0)).exp()) * (r - r0) * (-a * (r - r0)).exp()),
        thermal_average(&m, beta, |r| -2.0 * d * (1.0 - (-a * (r - r0)).exp()) * a * (-a * (r - r0)).exp()),
    ];
    assert_close("generic_free_energy closed form", &g, &want, 1e-10);
    let ln_z = partition_function(&m, beta).ln();
    let mean_e = thermal_average(&m, beta, |r| m.energy(r));
    assert_close("generic_free_energy beta closed form", &[dbeta], &[ln_z / (beta * beta) + mean_e / beta], 1e-10);

    let k = 3.0;
    let (_, dk, db) = d_harmonic_free_energy(k, beta, 1.0);
    let (_, tk) = t_harmonic_free_energy(k, 1.0, beta, 0.0);
    let (_, tb) = t_harmonic_free_energy(k, 0.0, beta, 1.0);
    assert_close("generic_free_energy harmonic forward vs reverse", &[tk, tb], &[dk, db], 1e-12);
    let h = Harmonic { k, r0: 1.5 };
    assert_close("generic_free_energy harmonic closed form", &[dk], &[thermal_average(&h, beta, |r| 0.5 * (r - 1.5).powi(2))], 1e-10);
}
