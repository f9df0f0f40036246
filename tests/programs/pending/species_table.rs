//! Reaction rates looked up by species name: a `HashMap<&str, usize>` built inside the
//! differentiated function maps names to indices (hashing and key comparison are integer and
//! read-only work), a `BTreeMap<String, f64>` of Const stoichiometry sits beside the
//! differentiated concentrations, and the rate law is a mass-action product. Reverse mode is
//! checked against a closed form and finite differences, forward mode against reverse.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};
use std::collections::{BTreeMap, HashMap};

pub struct Reaction {
    pub k: f64,
    pub reactants: Vec<(&'static str, u32)>,
}

const NAMES: [&str; 4] = ["H2", "O2", "H2O", "OH"];

#[autodiff_reverse(d_rate, Duplicated, Const, Const, Active)]
#[autodiff_forward(t_rate, Dual, Const, Const, Dual)]
fn total_rate(conc: &[f64], reactions: &[Reaction], weights: &BTreeMap<String, f64>) -> f64 {
    let index: HashMap<&str, usize> = NAMES.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut total = 0.0;
    for r in reactions {
        let mut rate = r.k;
        for (name, nu) in &r.reactants {
            let c = conc[index[name]];
            rate *= c.powi(*nu as i32);
        }
        let w = r.reactants.iter().map(|(n, _)| weights.get(*n).copied().unwrap_or(1.0)).sum::<f64>();
        total += w * rate;
    }
    total
}

pub fn run() {
    let reactions = vec![
        Reaction { k: 2.0, reactants: vec![("H2", 2), ("O2", 1)] },
        Reaction { k: 0.5, reactants: vec![("OH", 1), ("H2", 1)] },
        Reaction { k: 1.5, reactants: vec![("H2O", 1)] },
    ];
    let weights: BTreeMap<String, f64> = [("H2".to_string(), 0.5), ("O2".to_string(), 2.0)].into_iter().collect();
    let conc = [0.8, 0.3, 0.6, 0.2];
    let mut dc = [0.0; 4];
    let v = d_rate(&conc, &mut dc, &reactions, &weights, 1.0);
    assert_close("species_table value", &[v], &[total_rate(&conc, &reactions, &weights)], 1e-14);
    // total = 2.5·2·h²o + 1.5·0.5·oh·h + 1·1.5·w
    let (h, o, w, oh) = (conc[0], conc[1], conc[2], conc[3]);
    let _ = w;
    let closed = [5.0 * 2.0 * h * o + 0.75 * oh, 5.0 * h * h, 1.5, 0.75 * h];
    assert_close("species_table closed form", &dc, &closed, 1e-13);
    assert_close("species_table fd", &dc, &fd_gradient(|c| total_rate(c, &reactions, &weights), &conc), 1e-6);
    let tc = [1.0, -0.5, 0.25, 2.0];
    let (_, t) = t_rate(&conc, &tc, &reactions, &weights);
    let dot: f64 = dc.iter().zip(&tc).map(|(a, b)| a * b).sum();
    assert_close("species_table forward vs reverse", &[t], &[dot], 1e-12);
}
