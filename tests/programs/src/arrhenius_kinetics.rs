//! A small reaction network A → B → C, 2B → C with Arrhenius rate constants k = A·exp(−Ea/RT),
//! integrated with explicit Euler steps. Forward-mode sensitivities of the final amount of B
//! with respect to the log pre-exponential factors and the temperature, checked against reverse
//! mode and finite differences; the remaining A has the closed form A₀(1 − k₁h)ⁿ.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

const R: f64 = 8.314;

pub struct Reaction {
    pub reactants: Vec<(usize, u32)>, // species, stoichiometric coefficient
    pub products: Vec<(usize, u32)>,
    pub activation: f64, // J/mol
}

pub struct Mechanism {
    pub reactions: Vec<Reaction>,
    pub initial: Vec<f64>,
    pub dt: f64,
    pub steps: usize,
}

fn rate_constants(ln_a: &[f64], temp: f64, mech: &Mechanism) -> Vec<f64> {
    ln_a.iter().zip(&mech.reactions).map(|(la, r)| (la - r.activation / (R * temp)).exp()).collect()
}

fn simulate(ln_a: &[f64], temp: f64, mech: &Mechanism) -> Vec<f64> {
    let k = rate_constants(ln_a, temp, mech);
    let mut c = mech.initial.clone();
    for _ in 0..mech.steps {
        let mut dc = vec![0.0; c.len()];
        for (r, kr) in mech.reactions.iter().zip(&k) {
            let rate = kr * r.reactants.iter().map(|&(s, nu)| c[s].powi(nu as i32)).product::<f64>();
            for &(s, nu) in &r.reactants {
                dc[s] -= nu as f64 * rate;
            }
            for &(s, nu) in &r.products {
                dc[s] += nu as f64 * rate;
            }
        }
        for (ci, d) in c.iter_mut().zip(&dc) {
            *ci += mech.dt * d;
        }
    }
    c
}

#[autodiff_forward(sens_b, Dual, Dual, Const, Dual)]
#[autodiff_reverse(grad_b, Duplicated, Active, Const, Active)]
fn final_b(ln_a: &[f64], temp: f64, mech: &Mechanism) -> f64 {
    simulate(ln_a, temp, mech)[1]
}

#[autodiff_forward(sens_a, Dual, Dual, Const, Dual)]
fn final_a(ln_a: &[f64], temp: f64, mech: &Mechanism) -> f64 {
    simulate(ln_a, temp, mech)[0]
}

pub fn run() {
    let mech = Mechanism {
        reactions: vec![
            Reaction { reactants: vec![(0, 1)], products: vec![(1, 1)], activation: 50_000.0 },
            Reaction { reactants: vec![(1, 1)], products: vec![(2, 1)], activation: 60_000.0 },
            Reaction { reactants: vec![(1, 2)], products: vec![(2, 1)], activation: 40_000.0 },
        ],
        initial: vec![1.0, 0.0, 0.0],
        dt: 0.01,
        steps: 200,
    };
    let ln_a = [18.0, 21.0, 14.0];
    let temp = 350.0;

    let mut g = [0.0; 3];
    let (b, g_temp) = grad_b(&ln_a, &mut g, temp, &mech, 1.0);
    assert_close("arrhenius value", &[b], &[final_b(&ln_a, temp, &mech)], 1e-14);
    let fd = fd_gradient(|p| final_b(&p[..3], p[3], &mech), &[ln_a[0], ln_a[1], ln_a[2], temp]);
    assert_close("arrhenius reverse fd", &[g[0], g[1], g[2], g_temp], &fd, 1e-5);
    for i in 0..3 {
        let mut e = [0.0; 3];
        e[i] = 1.0;
        let (_, s) = sens_b(&ln_a, &e, temp, 0.0, &mech);
        assert_close("arrhenius forward vs reverse", &[s], &[g[i]], 1e-10);
    }
    let (_, s_temp) = sens_b(&ln_a, &[0.0; 3], temp, 1.0, &mech);
    assert_close("arrhenius forward d/dT", &[s_temp], &[g_temp], 1e-10);

    // A only decays by the first reaction: A_n = A0 (1 − k1 h)^n.
    let (n, h) = (mech.steps as f64, mech.dt);
    let k1 = rate_constants(&ln_a, temp, &mech)[0];
    let (a, da) = sens_a(&ln_a, &[1.0, 0.0, 0.0], temp, 0.0, &mech);
    assert_close("arrhenius A closed form", &[a], &[(1.0 - k1 * h).powf(n)], 1e-12);
    let da_dk1 = -n * h * (1.0 - k1 * h).powf(n - 1.0);
    assert_close("arrhenius dA/dlnA1 closed form", &[da], &[da_dk1 * k1], 1e-10);
    let (_, da_dt) = sens_a(&ln_a, &[0.0; 3], temp, 1.0, &mech);
    assert_close("arrhenius dA/dT closed form", &[da_dt], &[da_dk1 * k1 * 50_000.0 / (R * temp * temp)], 1e-10);
}
