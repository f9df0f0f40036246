//! `lstm` (§3.4): diagonal LSTM language-model loss (ADBench); the gradient with respect to
//! main_params and extra_params by reverse mode (none with respect to state).

use crate::protocol::{flatten, num, nums, parse, Evaluation, Runs};
#[cfg(not(feature = "nightly"))]
use oxidase::autodiff::autodiff_reverse;
#[cfg(feature = "nightly")]
use std::autodiff::autodiff_reverse;
use serde::Deserialize;
use serde_json::Value;
use std::hint::black_box;

#[derive(Deserialize)]
pub struct Input {
    pub main_params: Vec<Vec<f64>>,
    pub extra_params: Vec<Vec<f64>>,
    pub state: Vec<Vec<f64>>,
    pub sequence: Vec<Vec<f64>>,
}

#[inline(always)]
fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The loss −total/count. `main` is 2l×4b (weights row 2i, biases row 2i+1, blocks forget,
/// ingate, outgate, change), `extra` 3×b (in_weight, out_weight, out_bias), `state` 2l×b
/// (hidden, cell per layer; copied, so every call starts from the input state), `seq` c×b.
#[autodiff_reverse(d_objective, Duplicated, Duplicated, Const, Const, Const, Active)]
pub fn objective(main: &[f64], extra: &[f64], state: &[f64], seq: &[f64], b: usize) -> f64 {
    let l = main.len() / (8 * b);
    let c = seq.len() / b;
    let mut st = state.to_vec();
    let mut v = vec![0.0; b];
    let mut y = vec![0.0; b];
    let (in_w, out_w, out_b) = (&extra[0..b], &extra[b..2 * b], &extra[2 * b..3 * b]);
    let mut total = 0.0;
    let mut count = 0.0;
    for t in 0..c.saturating_sub(1) {
        let xt = &seq[t * b..t * b + b];
        for j in 0..b {
            v[j] = xt[j] * in_w[j];
        }
        for layer in 0..l {
            let w = &main[2 * layer * 4 * b..(2 * layer + 1) * 4 * b];
            let bias = &main[(2 * layer + 1) * 4 * b..(2 * layer + 2) * 4 * b];
            let (h, s) = st[2 * layer * b..(2 * layer + 2) * b].split_at_mut(b);
            for j in 0..b {
                let forget = sigmoid(v[j] * w[j] + bias[j]);
                let ingate = sigmoid(h[j] * w[b + j] + bias[b + j]);
                let outgate = sigmoid(v[j] * w[2 * b + j] + bias[2 * b + j]);
                let change = (h[j] * w[3 * b + j] + bias[3 * b + j]).tanh();
                s[j] = s[j] * forget + ingate * change;
                h[j] = outgate * s[j].tanh();
                v[j] = h[j];
            }
        }
        let mut sum_exp = 0.0;
        for j in 0..b {
            y[j] = v[j] * out_w[j] + out_b[j];
            sum_exp += y[j].exp();
        }
        // ADBench's quirk: + 2, and no max subtracted.
        let lse = (sum_exp + 2.0).ln();
        let next = &seq[(t + 1) * b..(t + 2) * b];
        for j in 0..b {
            total += next[j] * (y[j] - lse);
        }
        count += b as f64;
    }
    -total / count
}

/// ∇ loss: main_params' gradient then extra_params' in one buffer of length 8lb + 3b (zeroed
/// first).
pub fn gradient(main: &[f64], extra: &[f64], state: &[f64], seq: &[f64], b: usize, grad: &mut [f64]) {
    grad.fill(0.0);
    let (dmain, dextra) = grad.split_at_mut(main.len());
    d_objective(main, dmain, extra, dextra, state, seq, b, 1.0);
}

/// Row-major buffers and b of an input.
pub fn unpack(inp: &Input) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, usize), String> {
    let b4 = inp.main_params.first().map_or(0, Vec::len);
    if b4 == 0 || b4 % 4 != 0 || inp.main_params.len() % 2 != 0 {
        return Err("lstm: main_params must be 2l rows of 4b".into());
    }
    let b = b4 / 4;
    let l = inp.main_params.len() / 2;
    if inp.extra_params.len() != 3 || inp.state.len() != 2 * l || inp.sequence.len() < 2 {
        return Err("lstm: extra_params must have 3 rows, state 2l rows and sequence ≥ 2 rows".into());
    }
    Ok((
        flatten(&inp.main_params, 4 * b, "main_params")?,
        flatten(&inp.extra_params, b, "extra_params")?,
        flatten(&inp.state, b, "state")?,
        flatten(&inp.sequence, b, "sequence")?,
        b,
    ))
}

pub fn evaluate(function: &str, input: &Value) -> Evaluation {
    let runs = Runs::from_input(input)?;
    let inp: Input = parse(input)?;
    let (main, extra, state, seq, b) = unpack(&inp)?;
    match function {
        "objective" => {
            let mut y = 0.0;
            let t = runs.repeat(|| y = objective(black_box(&main), &extra, &state, &seq, b));
            Ok((num(y)?, t))
        }
        "jacobian" => {
            let mut grad = vec![0.0; main.len() + extra.len()];
            let t = runs.repeat(|| gradient(black_box(&main), &extra, &state, &seq, b, &mut grad));
            Ok((nums(&grad)?, t))
        }
        _ => Err(super::unknown_function("lstm", function)),
    }
}
