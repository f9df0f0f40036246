//! A zero-dimensional energy-balance climate model: C dT/dt = S/4·(1 − α(T)) − εσT⁴ + F(t) with
//! a smooth ice-albedo feedback α(T) and CO₂ forcing F = 5.35·ln(c/c₀) from an annual
//! concentration series passed `Const`; forward Euler over two centuries. The mean temperature
//! of the last decades is differentiated with respect to the physical parameters (reverse and
//! forward mode, finite differences); under constant CO₂ the run settles to equilibrium, where
//! implicit differentiation gives the closed form dT*/dp = −(∂N/∂p)/(∂N/∂T).
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

const SIGMA: f64 = 5.670_374e-8;

pub struct Scenario {
    pub co2: Vec<f64>, // ppm, one value per year
    pub co2_ref: f64,
    pub steps_per_year: usize,
    pub average_last: usize, // years
}

/// Parameters: solar constant S, emissivity ε, heat capacity C (W yr m⁻² K⁻¹), forcing scale.
#[derive(Clone, Copy)]
struct Params {
    solar: f64,
    emissivity: f64,
    capacity: f64,
    forcing_scale: f64,
}

fn albedo(t: f64) -> f64 {
    0.45 - 0.15 * (1.0 + ((t - 265.0) / 10.0).tanh())
}

fn net_flux(t: f64, p: &Params, forcing: f64) -> f64 {
    p.solar / 4.0 * (1.0 - albedo(t)) - p.emissivity * SIGMA * t.powi(4) + forcing
}

#[autodiff_reverse(d_mean_temperature, Duplicated, Const, Active)]
#[autodiff_forward(t_mean_temperature, Dual, Const, Dual)]
fn mean_temperature(p: &[f64], scenario: &Scenario) -> f64 {
    let p = Params { solar: p[0], emissivity: p[1], capacity: p[2], forcing_scale: p[3] };
    let dt = 1.0 / scenario.steps_per_year as f64;
    let mut t = 288.0;
    let mut recent = Vec::new();
    for (year, &c) in scenario.co2.iter().enumerate() {
        let forcing = p.forcing_scale * (c / scenario.co2_ref).ln();
        for _ in 0..scenario.steps_per_year {
            t += dt / p.capacity * net_flux(t, &p, forcing);
        }
        if year + scenario.average_last >= scenario.co2.len() {
            recent.push(t);
        }
    }
    recent.iter().sum::<f64>() / recent.len() as f64
}

pub fn run() {
    let p = [1361.0, 0.612, 8.0, 5.35];
    let ramp = Scenario {
        co2: (0..200).map(|y| 280.0 * 1.005f64.powi(y)).collect(),
        co2_ref: 280.0,
        steps_per_year: 10,
        average_last: 20,
    };
    let mut g = [0.0; 4];
    d_mean_temperature(&p, &mut g, &ramp, 1.0);
    assert_close("energy_balance fd", &g, &fd_gradient(|q| mean_temperature(q, &ramp), &p), 1e-5);
    for i in 0..4 {
        let mut e = [0.0; 4];
        e[i] = 1.0;
        let (_, d) = t_mean_temperature(&p, &e, &ramp);
        assert_close("energy_balance forward vs reverse", &[d], &[g[i]], 1e-9);
    }

    let steady = Scenario { co2: vec![280.0; 200], ..ramp };
    let mut ge = [0.0; 4];
    let te = d_mean_temperature(&p, &mut ge, &steady, 1.0);
    let pr = Params { solar: p[0], emissivity: p[1], capacity: p[2], forcing_scale: p[3] };
    let h = 1e-4;
    let dn_dt = (net_flux(te + h, &pr, 0.0) - net_flux(te - h, &pr, 0.0)) / (2.0 * h);
    let want = [-(1.0 - albedo(te)) / 4.0 / dn_dt, SIGMA * te.powi(4) / dn_dt, 0.0, 0.0];
    assert_close("energy_balance equilibrium closed form", &ge, &want, 1e-6);
}
