//! A few bodies under Newtonian gravity with nalgebra `Vector3`s in `Vec`s, integrated with
//! leapfrog (kick-drift-kick) steps; the miss distance of a probe to a target point after the
//! flight is differentiated with respect to the initial state (reverse) and the probe's launch
//! velocity (forward), masses passed `Const`. Checked against finite differences.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};
use nalgebra::Vector3;

pub struct System {
    pub masses: Vec<f64>,
    pub dt: f64,
    pub steps: usize,
    pub softening: f64,
}

fn accelerations(pos: &[Vector3<f64>], sys: &System) -> Vec<Vector3<f64>> {
    pos.iter()
        .enumerate()
        .map(|(i, pi)| {
            pos.iter().zip(&sys.masses).enumerate().filter(|(j, _)| *j != i).fold(Vector3::zeros(), |acc, (_, (pj, m))| {
                let d = pj - pi;
                let r2 = d.norm_squared() + sys.softening * sys.softening;
                acc + d * (m / (r2 * r2.sqrt()))
            })
        })
        .collect()
}

fn unpack(state: &[f64]) -> (Vec<Vector3<f64>>, Vec<Vector3<f64>>) {
    let bodies: Vec<Vector3<f64>> = state.chunks(3).map(Vector3::from_column_slice).collect();
    let n = bodies.len() / 2;
    (bodies[..n].to_vec(), bodies[n..].to_vec())
}

/// `state` holds all positions then all velocities; the probe is the last body.
#[autodiff_reverse(d_miss, Duplicated, Const, Const, Active)]
#[autodiff_forward(t_miss, Dual, Const, Const, Dual)]
fn miss(state: &[f64], sys: &System, target: &Vector3<f64>) -> f64 {
    let (mut pos, mut vel) = unpack(state);
    let mut acc = accelerations(&pos, sys);
    for _ in 0..sys.steps {
        for ((p, v), a) in pos.iter_mut().zip(vel.iter_mut()).zip(&acc) {
            *v += a * (0.5 * sys.dt);
            *p += *v * sys.dt;
        }
        acc = accelerations(&pos, sys);
        for (v, a) in vel.iter_mut().zip(&acc) {
            *v += a * (0.5 * sys.dt);
        }
    }
    (pos.last().unwrap() - target).norm_squared()
}

pub fn run() {
    let sys = System { masses: vec![1.0, 0.01, 1e-6], dt: 0.01, steps: 60, softening: 0.01 };
    let state = [
        0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.3, 0.4, 0.0, // positions
        0.0, -0.01, 0.0, 0.0, 1.0, 0.05, -0.9, 0.6, 0.1, // velocities
    ];
    let target = Vector3::new(-0.2, 0.6, 0.05);
    let mut g = [0.0; 18];
    d_miss(&state, &mut g, &sys, &target, 1.0);
    assert_close("orbit_leapfrog fd", &g, &fd_gradient(|s| miss(s, &sys, &target), &state), 1e-5);
    for k in 15..18 {
        let mut e = [0.0; 18];
        e[k] = 1.0;
        let (_, d) = t_miss(&state, &e, &sys, &target);
        assert_close("orbit_leapfrog forward vs reverse", &[d], &[g[k]], 1e-9);
    }
}
