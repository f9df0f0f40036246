//! Option pricing: a European option priced by Monte Carlo over fixed standard-normal samples
//! (`Const`, antithetic pairs) and by the Black–Scholes formula with a normal CDF from a
//! rational erfc approximation. Pathwise Greeks (reverse mode on a parameter slice) are checked
//! against finite differences and the closed-form pathwise delta; the analytic price's Greeks
//! (reverse mode on by-value `Active` arguments) against finite differences, forward mode and
//! put–call parity.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    Call,
    Put,
}

pub struct Contract {
    pub strike: f64,
    pub kind: Kind,
}

impl Contract {
    fn payoff(&self, s: f64) -> f64 {
        match self.kind {
            Kind::Call => (s - self.strike).max(0.0),
            Kind::Put => (self.strike - s).max(0.0),
        }
    }
}

/// `market` = [spot, volatility, rate, maturity].
#[autodiff_reverse(d_mc_price, Duplicated, Const, Const, Active)]
fn mc_price(market: &[f64], contract: &Contract, normals: &[f64]) -> f64 {
    let (s0, sigma, r, t) = (market[0], market[1], market[2], market[3]);
    let drift = (r - 0.5 * sigma * sigma) * t;
    let vol = sigma * t.sqrt();
    let total: f64 = normals.iter().flat_map(|&z| [z, -z]).map(|z| contract.payoff(s0 * (drift + vol * z).exp())).sum();
    (-r * t).exp() * total / (2 * normals.len()) as f64
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07 + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

fn norm_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

#[autodiff_reverse(d_bs_price, Active, Active, Active, Active, Const, Active)]
#[autodiff_forward(t_bs_price, Dual, Dual, Dual, Dual, Const, Dual)]
fn bs_price(s: f64, sigma: f64, r: f64, t: f64, contract: &Contract) -> f64 {
    let k = contract.strike;
    let d1 = ((s / k).ln() + (r + 0.5 * sigma * sigma) * t) / (sigma * t.sqrt());
    let d2 = d1 - sigma * t.sqrt();
    match contract.kind {
        Kind::Call => s * norm_cdf(d1) - k * (-r * t).exp() * norm_cdf(d2),
        Kind::Put => k * (-r * t).exp() * norm_cdf(-d2) - s * norm_cdf(-d1),
    }
}

pub fn run() {
    let market = [100.0, 0.25, 0.03, 1.5];
    let call = Contract { strike: 105.0, kind: Kind::Call };
    let put = Contract { strike: 105.0, kind: Kind::Put };
    // Deterministic "normal" samples: a midpoint quantile grid through a Box–Muller pairing.
    let normals: Vec<f64> = (0..200)
        .map(|i| {
            let u1 = (i as f64 + 0.5) / 200.0;
            let u2 = ((i * 37) % 200) as f64 / 200.0 + 0.0025;
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
        .collect();

    for contract in [&call, &put] {
        let mut g = [0.0; 4];
        d_mc_price(&market, &mut g, contract, &normals, 1.0);
        assert_close("black_scholes mc greeks fd", &g, &fd_gradient(|m| mc_price(m, contract, &normals), &market), 1e-5);
        // Pathwise delta: e^{−rT} E[1{in the money} S_T / S0].
        let (s0, sigma, r, t) = (market[0], market[1], market[2], market[3]);
        let delta: f64 = normals
            .iter()
            .flat_map(|&z| [z, -z])
            .map(|z| {
                let st = s0 * ((r - 0.5 * sigma * sigma) * t + sigma * t.sqrt() * z).exp();
                let itm = if contract.kind == Kind::Call { st > contract.strike } else { st < contract.strike };
                if itm { if contract.kind == Kind::Call { st / s0 } else { -st / s0 } } else { 0.0 }
            })
            .sum::<f64>()
            * (-r * t).exp()
            / 400.0;
        assert_close("black_scholes mc pathwise delta", &[g[0]], &[delta], 1e-10);
    }

    let (s, sigma, r, t) = (market[0], market[1], market[2], market[3]);
    let mut greeks = Vec::new();
    for contract in [&call, &put] {
        let (v, ds, dsig, dr, dt) = d_bs_price(s, sigma, r, t, contract, 1.0);
        assert_close("black_scholes value", &[v], &[bs_price(s, sigma, r, t, contract)], 1e-13);
        let fd = fd_gradient(|m| bs_price(m[0], m[1], m[2], m[3], contract), &market);
        assert_close("black_scholes greeks fd", &[ds, dsig, dr, dt], &fd, 1e-5);
        let (_, fs) = t_bs_price(s, 1.0, sigma, 0.0, r, 0.0, t, 0.0, contract);
        let (_, fsig) = t_bs_price(s, 0.0, sigma, 1.0, r, 0.0, t, 0.0, contract);
        assert_close("black_scholes forward vs reverse", &[fs, fsig], &[ds, dsig], 1e-10);
        greeks.push([ds, dsig, dr, dt]);
    }
    // Put–call parity: C − P = S − K e^{−rT}.
    let k = call.strike;
    let want = [1.0, 0.0, k * t * (-r * t).exp(), k * r * (-r * t).exp()];
    let diff: Vec<f64> = (0..4).map(|i| greeks[0][i] - greeks[1][i]).collect();
    assert_close("black_scholes parity", &diff, &want, 1e-10);
}
