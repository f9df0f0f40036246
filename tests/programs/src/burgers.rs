//! 1-D viscous Burgers' equation on a periodic grid: conservative finite volumes with a
//! Lax–Friedrichs flux (fixed wave-speed bound) and central diffusion, explicit Euler steps, the
//! state a `Vec` rebuilt every step. The data misfit is differentiated with respect to the
//! initial condition and the viscosity (reverse, checked against finite differences; viscosity
//! also by forward mode), and the conserved total mass has the closed-form gradient dx.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

pub struct Grid {
    pub dx: f64,
    pub dt: f64,
    pub steps: usize,
    pub speed: f64,
}

fn flux(ul: f64, ur: f64, speed: f64) -> f64 {
    0.25 * (ul * ul + ur * ur) - 0.5 * speed * (ur - ul)
}

fn step(u: &[f64], nu: f64, g: &Grid) -> Vec<f64> {
    let n = u.len();
    let f: Vec<f64> = (0..n).map(|i| flux(u[i], u[(i + 1) % n], g.speed)).collect();
    (0..n)
        .map(|i| {
            let (l, r) = ((i + n - 1) % n, (i + 1) % n);
            u[i] - g.dt / g.dx * (f[i] - f[l]) + nu * g.dt / (g.dx * g.dx) * (u[r] - 2.0 * u[i] + u[l])
        })
        .collect()
}

fn evolve(u0: &[f64], nu: f64, grid: &Grid) -> Vec<f64> {
    let mut u = u0.to_vec();
    for _ in 0..grid.steps {
        u = step(&u, nu, grid);
    }
    u
}

#[autodiff_reverse(d_misfit, Duplicated, Active, Const, Const, Active)]
#[autodiff_forward(t_misfit, Const, Dual, Const, Const, Dual)]
fn misfit(u0: &[f64], nu: f64, obs: &[f64], grid: &Grid) -> f64 {
    let u = evolve(u0, nu, grid);
    u.iter().zip(obs).map(|(a, b)| (a - b).powi(2)).sum::<f64>() * grid.dx
}

#[autodiff_reverse(d_mass, Duplicated, Active, Const, Active)]
fn mass(u0: &[f64], nu: f64, grid: &Grid) -> f64 {
    evolve(u0, nu, grid).iter().sum::<f64>() * grid.dx
}

pub fn run() {
    let n = 32;
    let dx = 2.0 * std::f64::consts::PI / n as f64;
    let grid = Grid { dx, dt: 0.05, steps: 40, speed: 1.5 };
    let u0: Vec<f64> = (0..n).map(|i| 0.5 + (i as f64 * dx).sin()).collect();
    let obs: Vec<f64> = (0..n).map(|i| 0.5 + 0.8 * (i as f64 * dx - 1.0).sin()).collect();
    let nu = 0.05;

    let mut du = vec![0.0; n];
    let (v, dnu) = d_misfit(&u0, &mut du, nu, &obs, &grid, 1.0);
    assert_close("burgers value", &[v], &[misfit(&u0, nu, &obs, &grid)], 1e-13);
    assert_close("burgers d/du0 fd", &du, &fd_gradient(|u| misfit(u, nu, &obs, &grid), &u0), 1e-5);
    assert_close("burgers d/dnu fd", &[dnu], &fd_gradient(|p| misfit(&u0, p[0], &obs, &grid), &[nu]), 1e-5);
    let (_, t) = t_misfit(&u0, nu, 1.0, &obs, &grid);
    assert_close("burgers forward vs reverse", &[t], &[dnu], 1e-10);

    let mut dm = vec![0.0; n];
    let (_, dmnu) = d_mass(&u0, &mut dm, nu, &grid, 1.0);
    assert_close("burgers mass closed form", &dm, &vec![dx; n], 1e-10);
    assert_close("burgers mass d/dnu", &[dmnu], &[0.0], 1e-10);
}
