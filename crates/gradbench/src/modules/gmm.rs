//! `gmm` (§3.2): Gaussian mixture log-posterior with a Wishart prior (ADBench, with fixes); the
//! gradient with respect to alpha, mu, q and l by reverse mode.

use crate::protocol::{flatten, num, nums, parse, rows, Evaluation, Runs};
#[cfg(not(feature = "nightly"))]
use oxidase::autodiff::autodiff_reverse;
#[cfg(feature = "nightly")]
use std::autodiff::autodiff_reverse;
use serde::Deserialize;
use serde_json::{json, Value};
use std::hint::black_box;

#[derive(Deserialize)]
pub struct Input {
    pub d: usize,
    pub k: usize,
    pub n: usize,
    pub x: Vec<Vec<f64>>,
    pub m: i64,
    pub gamma: f64,
    pub alpha: Vec<f64>,
    pub mu: Vec<Vec<f64>>,
    pub q: Vec<Vec<f64>>,
    pub l: Vec<Vec<f64>>,
}

/// Sizes and the prior's constants (Const for the derivative).
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub d: usize,
    pub k: usize,
    pub n: usize,
    pub m: i64,
    pub gamma: f64,
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; ~1e-15 relative). Only evaluated on constants.
pub fn lgamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).abs().ln() - lgamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, &g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// ln Σ exp(vᵢ) with the max shifted out.
#[inline(always)]
fn logsumexp(v: &[f64]) -> f64 {
    let mut m = f64::NEG_INFINITY;
    for &e in v {
        if e > m {
            m = e;
        }
    }
    let mut s = 0.0;
    for &e in v {
        s += (e - m).exp();
    }
    m + s.ln()
}

/// The log-posterior F of §3.2. `x` is n×d row-major, `mu` and `q` k×d, `l` k×d(d−1)/2 with
/// each component's strictly lower part of Q_k stored column by column. Scratch is allocated
/// once per call (a few k·d floats), never in the loops.
#[autodiff_reverse(d_objective, Duplicated, Duplicated, Duplicated, Duplicated, Const, Const, Active)]
pub fn objective(alpha: &[f64], mu: &[f64], q: &[f64], l: &[f64], x: &[f64], shape: &Shape) -> f64 {
    let (d, k, n) = (shape.d, shape.k, shape.n);
    let tri = d * (d - 1) / 2;
    // exp(q) (the diagonals of the Q_k) and Σⱼ q_kj, shared by all points; then the per-point
    // vectors xc = x − μ, qx = Q·xc and β.
    let mut qdiag = vec![0.0; k * d];
    let mut sum_q = vec![0.0; k];
    for c in 0..k {
        let mut s = 0.0;
        for j in 0..d {
            let v = q[c * d + j];
            qdiag[c * d + j] = v.exp();
            s += v;
        }
        sum_q[c] = s;
    }
    let mut xc = vec![0.0; d];
    let mut qx = vec![0.0; d];
    let mut beta = vec![0.0; k];
    let mut slse = 0.0;
    for i in 0..n {
        let xi = &x[i * d..i * d + d];
        for c in 0..k {
            let muc = &mu[c * d..c * d + d];
            for j in 0..d {
                xc[j] = xi[j] - muc[j];
            }
            // qx = Q_k·xc: diagonal part, then the strictly lower part column by column.
            let qd = &qdiag[c * d..c * d + d];
            for j in 0..d {
                qx[j] = qd[j] * xc[j];
            }
            let lc = &l[c * tri..c * tri + tri];
            let mut t = 0;
            for col in 0..d {
                for r in col + 1..d {
                    qx[r] += lc[t] * xc[col];
                    t += 1;
                }
            }
            let mut sq = 0.0;
            for j in 0..d {
                sq += qx[j] * qx[j];
            }
            beta[c] = alpha[c] + sum_q[c] - 0.5 * sq;
        }
        slse += logsumexp(&beta);
    }
    // Wishart prior.
    let g = shape.gamma;
    let m = shape.m as f64;
    let mut prior = 0.0;
    for c in 0..k {
        let mut frob = 0.0;
        for j in 0..d {
            let v = qdiag[c * d + j];
            frob += v * v;
        }
        for t in 0..tri {
            let v = l[c * tri + t];
            frob += v * v;
        }
        prior += -0.5 * g * g * frob + m * sum_q[c];
    }
    let (df, nf, kf) = (d as f64, n as f64, k as f64);
    let nw = df + m + 1.0;
    let mut lgd = df * (df - 1.0) / 4.0 * std::f64::consts::PI.ln();
    for j in 1..=d {
        lgd += lgamma(0.5 * nw + 0.5 * (1.0 - j as f64));
    }
    let consts = -(nf * df / 2.0) * (2.0 * std::f64::consts::PI).ln()
        + kf * (nw * df * (g.ln() - 0.5 * 2f64.ln()) - lgd);
    consts - nf * logsumexp(alpha) + slse + prior
}

/// Flat parameters of one evaluation.
pub struct Params {
    pub alpha: Vec<f64>,
    pub mu: Vec<f64>,
    pub q: Vec<f64>,
    pub l: Vec<f64>,
    pub x: Vec<f64>,
    pub shape: Shape,
}

/// The gradient into the four shadows (zeroed first).
pub fn gradient(p: &Params, da: &mut [f64], dmu: &mut [f64], dq: &mut [f64], dl: &mut [f64]) -> f64 {
    da.fill(0.0);
    dmu.fill(0.0);
    dq.fill(0.0);
    dl.fill(0.0);
    d_objective(&p.alpha, da, &p.mu, dmu, &p.q, dq, &p.l, dl, &p.x, &p.shape, 1.0)
}

pub fn unpack(inp: &Input) -> Result<Params, String> {
    let (d, k, n) = (inp.d, inp.k, inp.n);
    if d == 0 || k == 0 || n != inp.x.len() || inp.alpha.len() != k {
        return Err("gmm: inconsistent d, k, n, x or alpha".into());
    }
    let check_k = |v: &Vec<Vec<f64>>, what: &str| {
        if v.len() == k { Ok(()) } else { Err(format!("gmm: {what} has {} rows, expected {k}", v.len())) }
    };
    check_k(&inp.mu, "mu")?;
    check_k(&inp.q, "q")?;
    check_k(&inp.l, "l")?;
    Ok(Params {
        alpha: inp.alpha.clone(),
        mu: flatten(&inp.mu, d, "mu")?,
        q: flatten(&inp.q, d, "q")?,
        l: flatten(&inp.l, d * (d - 1) / 2, "l")?,
        x: flatten(&inp.x, d, "x")?,
        shape: Shape { d, k, n, m: inp.m, gamma: inp.gamma },
    })
}

pub fn evaluate(function: &str, input: &Value) -> Evaluation {
    let runs = Runs::from_input(input)?;
    let inp: Input = parse(input)?;
    let p = unpack(&inp)?;
    let (d, k) = (p.shape.d, p.shape.k);
    match function {
        "objective" => {
            let mut y = 0.0;
            let t = runs.repeat(|| {
                y = objective(black_box(&p.alpha), &p.mu, &p.q, &p.l, &p.x, &p.shape);
            });
            Ok((num(y)?, t))
        }
        "jacobian" => {
            let (mut da, mut dmu, mut dq, mut dl) =
                (vec![0.0; k], vec![0.0; k * d], vec![0.0; k * d], vec![0.0; p.l.len()]);
            let t = runs.repeat(|| {
                gradient(black_box(&p), &mut da, &mut dmu, &mut dq, &mut dl);
            });
            let tri = d * (d - 1) / 2;
            let l_rows = if tri == 0 { Value::Array(vec![json!([]); k]) } else { rows(&dl, tri)? };
            Ok((json!({"alpha": nums(&da)?, "mu": rows(&dmu, d)?, "q": rows(&dq, d)?, "l": l_rows}), t))
        }
        _ => Err(super::unknown_function("gmm", function)),
    }
}
