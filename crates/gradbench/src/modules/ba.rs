//! `ba` (§3.3): bundle adjustment (ADBench). The input is expanded into the full problem (n
//! cameras, m points, p weights and features; observation i uses camera i mod n and point
//! i mod m) and nothing exploits the duplication.
//!
//! The Jacobian is sparse: each reprojection residual pair depends on 15 parameters (11 camera,
//! 3 point, 1 weight). Its 2×15 block has two rows: they come from one reverse-mode derivative
//! of width 2 (lane r seeds residual r and receives row r), two reverse sweeps where forward
//! mode needs 15 directions ([`jacobian_forward`], the cross-check: one forward derivative of
//! width 15, `Dualv`, the unit vectors direction-major in one slice). Each w_err row comes from
//! a width-1 forward derivative. The full CSR of all 3p rows is built in the timed region; the
//! output is the truncated form of §3.3.

use crate::protocol::{num, nums, parse, Evaluation, Runs};
#[cfg(not(feature = "nightly"))]
use oxidase::autodiff::{autodiff_forward, autodiff_reverse};
#[cfg(feature = "nightly")]
use std::autodiff::{autodiff_forward, autodiff_reverse};
use serde::Deserialize;
use serde_json::{json, Value};
use std::hint::black_box;

#[derive(Deserialize)]
pub struct Input {
    pub n: usize,
    pub m: usize,
    pub p: usize,
    pub cam: Vec<f64>,
    pub x: Vec<f64>,
    pub w: f64,
    pub feat: Vec<f64>,
}

/// The expanded problem.
pub struct Problem {
    pub n: usize,
    pub m: usize,
    pub p: usize,
    /// n×11 cameras.
    pub cams: Vec<f64>,
    /// m×3 points.
    pub points: Vec<f64>,
    /// p weights.
    pub weights: Vec<f64>,
    /// p×2 features.
    pub feats: Vec<f64>,
    /// p×2 (camera, point) of each observation.
    pub obs: Vec<usize>,
}

impl Problem {
    pub fn expand(inp: &Input) -> Result<Problem, String> {
        if inp.cam.len() != 11 || inp.x.len() != 3 || inp.feat.len() != 2 {
            return Err("ba: cam must have 11 numbers, x 3 and feat 2".into());
        }
        if inp.n == 0 || inp.m == 0 || inp.p == 0 {
            return Err("ba: n, m and p must be positive".into());
        }
        let (n, m, p) = (inp.n, inp.m, inp.p);
        let mut obs = Vec::with_capacity(2 * p);
        for i in 0..p {
            obs.push(i % n);
            obs.push(i % m);
        }
        Ok(Problem {
            n,
            m,
            p,
            cams: inp.cam.repeat(n),
            points: inp.x.repeat(m),
            weights: vec![inp.w; p],
            feats: inp.feat.repeat(p),
            obs,
        })
    }
}

/// Weighted reprojection residual of point `x` (3) seen by camera `cam` (11: angle-axis r,
/// centre C, f, u0 v0, k1 k2) against feature `feat` (2), into `out` (2).
#[inline(always)]
fn reproj(cam: &[f64], x: &[f64], w: f64, feat: &[f64], out: &mut [f64]) {
    let y = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    let r = [cam[0], cam[1], cam[2]];
    let theta2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
    let z = if theta2 != 0.0 {
        // Rodrigues.
        let theta = theta2.sqrt();
        let (s, c) = (theta.sin(), theta.cos());
        let o = [r[0] / theta, r[1] / theta, r[2] / theta];
        let oxy = [o[1] * y[2] - o[2] * y[1], o[2] * y[0] - o[0] * y[2], o[0] * y[1] - o[1] * y[0]];
        let oy = (o[0] * y[0] + o[1] * y[1] + o[2] * y[2]) * (1.0 - c);
        [y[0] * c + oxy[0] * s + o[0] * oy, y[1] * c + oxy[1] * s + o[1] * oy, y[2] * c + oxy[2] * s + o[2] * oy]
    } else {
        // First order at r = 0: Y + r × Y.
        [y[0] + r[1] * y[2] - r[2] * y[1], y[1] + r[2] * y[0] - r[0] * y[2], y[2] + r[0] * y[1] - r[1] * y[0]]
    };
    let (px, py) = (z[0] / z[2], z[1] / z[2]);
    let rho = px * px + py * py;
    let dist = 1.0 + cam[9] * rho + cam[10] * rho * rho;
    out[0] = w * (cam[6] * px * dist + cam[7] - feat[0]);
    out[1] = w * (cam[6] * py * dist + cam[8] - feat[1]);
}

/// `reproj` with its 15 differentiated parameters packed: camera (11), point (3), weight.
/// `d_reproj_packed(p, bp, feat, out, bout)`: `bp` holds 15 directions of 15 (direction-major),
/// `bout` receives 15 directions of 2, i.e. the 2×15 Jacobian block column by column.
#[autodiff_forward(d_reproj_packed, 15, Dualv, Const, Dualv)]
pub fn reproj_packed(p: &[f64], feat: &[f64], out: &mut [f64]) {
    reproj(&p[0..11], &p[11..14], p[14], feat, out);
}

/// `reproj` with its 15 differentiated parameters packed, by reverse mode at width 2:
/// `d_reproj_rows(p, dp_0, dp_1, feat, out, dout_0, dout_1)` adds `Jᵀ·dout_r` to `dp_r` (and
/// zeroes `dout_r`): with `dout_r` the unit vector e_r, `dp_r` receives row r of the 2×15 block.
#[autodiff_reverse(d_reproj_rows, 2, Duplicated, Const, Duplicated)]
pub fn reproj_rows(p: &[f64], feat: &[f64], out: &mut [f64]) {
    reproj(&p[0..11], &p[11..14], p[14], feat, out);
}

/// `1 − w²`; `d_w_err(w, 1)` = (value, derivative).
#[autodiff_forward(d_w_err, Dual, Dual)]
pub fn w_err(w: f64) -> f64 {
    1.0 - w * w
}

/// All residuals: `reproj_err` (2p) and `w_err` (p).
pub fn objective(pb: &Problem, reproj_err: &mut [f64], werr: &mut [f64]) {
    for i in 0..pb.p {
        let (c, j) = (pb.obs[2 * i], pb.obs[2 * i + 1]);
        reproj(
            &pb.cams[11 * c..11 * c + 11],
            &pb.points[3 * j..3 * j + 3],
            pb.weights[i],
            &pb.feats[2 * i..2 * i + 2],
            &mut reproj_err[2 * i..2 * i + 2],
        );
        werr[i] = w_err(pb.weights[i]);
    }
}

/// The full Jacobian in CSR form.
pub struct Csr {
    pub rows: Vec<usize>,
    pub cols: Vec<usize>,
    pub vals: Vec<f64>,
}

impl Csr {
    pub fn with_size(p: usize) -> Csr {
        Csr { rows: vec![0; 3 * p + 1], cols: vec![0; 31 * p], vals: vec![0.0; 31 * p] }
    }
}

/// The identity seed of `d_reproj_packed`: direction k is the k-th unit vector.
pub fn identity_seed() -> Vec<f64> {
    let mut seed = vec![0.0; 15 * 15];
    for k in 0..15 {
        seed[15 * k + k] = 1.0;
    }
    seed
}

/// The columns of the block of observation `i` (camera `c`, point `pt`) in the rows of its two
/// residuals, and those rows' starts.
fn block_pattern(pb: &Problem, i: usize, j: &mut Csr) {
    let (n, m) = (pb.n, pb.m);
    let (c, pt) = (pb.obs[2 * i], pb.obs[2 * i + 1]);
    for r in 0..2 {
        let row = 2 * i + r;
        let at = 15 * row;
        j.rows[row] = at;
        for k in 0..11 {
            j.cols[at + k] = 11 * c + k;
        }
        for k in 0..3 {
            j.cols[at + 11 + k] = 11 * n + 3 * pt + k;
        }
        j.cols[at + 14] = 11 * n + 3 * m + i;
    }
}

/// The 15 parameters of observation `i`: its camera, its point, its weight.
fn packed(pb: &Problem, i: usize, params: &mut [f64; 15]) {
    let (c, pt) = (pb.obs[2 * i], pb.obs[2 * i + 1]);
    params[..11].copy_from_slice(&pb.cams[11 * c..11 * c + 11]);
    params[11..14].copy_from_slice(&pb.points[3 * pt..3 * pt + 3]);
    params[14] = pb.weights[i];
}

/// The w_err rows (after the 2p reprojection rows) and the end of the CSR.
fn w_err_rows(pb: &Problem, j: &mut Csr) {
    let (n, m, p) = (pb.n, pb.m, pb.p);
    for i in 0..p {
        let at = 30 * p + i;
        j.rows[2 * p + i] = at;
        j.cols[at] = 11 * n + 3 * m + i;
        j.vals[at] = d_w_err(pb.weights[i], 1.0).1;
    }
    j.rows[3 * p] = 31 * p;
}

/// Fill `j` (sized by `Csr::with_size(p)`) with the Jacobian of all 3p residuals: each 2×15
/// block by reverse mode, both rows in one call ([`reproj_rows`]).
pub fn jacobian(pb: &Problem, j: &mut Csr) {
    let mut params = [0.0; 15];
    let mut out = [0.0; 2];
    let (mut row0, mut row1) = ([0.0; 15], [0.0; 15]);
    for i in 0..pb.p {
        packed(pb, i, &mut params);
        row0.fill(0.0);
        row1.fill(0.0);
        let (mut seed0, mut seed1) = ([1.0, 0.0], [0.0, 1.0]);
        d_reproj_rows(&params, &mut row0, &mut row1, &pb.feats[2 * i..2 * i + 2], &mut out, &mut seed0, &mut seed1);
        block_pattern(pb, i, j);
        let at = 30 * i;
        j.vals[at..at + 15].copy_from_slice(&row0);
        j.vals[at + 15..at + 30].copy_from_slice(&row1);
    }
    w_err_rows(pb, j);
}

/// [`jacobian`] by forward mode: each 2×15 block from one derivative of width 15 with the
/// directions `seed` ([`identity_seed`]).
pub fn jacobian_forward(pb: &Problem, seed: &[f64], j: &mut Csr) {
    let mut params = [0.0; 15];
    let mut out = [0.0; 2];
    let mut dout = [0.0; 30];
    for i in 0..pb.p {
        packed(pb, i, &mut params);
        d_reproj_packed(&params, seed, &pb.feats[2 * i..2 * i + 2], &mut out, &mut dout);
        block_pattern(pb, i, j);
        for r in 0..2 {
            let at = 15 * (2 * i + r);
            for k in 0..15 {
                j.vals[at + k] = dout[2 * k + r];
            }
        }
    }
    w_err_rows(pb, j);
}

/// The first 30 entries followed by the last one (§3.3), as Python's `a[:30] + [a[-1]]`.
fn truncated<T: Copy>(a: &[T]) -> Vec<T> {
    let mut v: Vec<T> = a.iter().take(30).copied().collect();
    v.push(a[a.len() - 1]);
    v
}

pub fn evaluate(function: &str, input: &Value) -> Evaluation {
    let runs = Runs::from_input(input)?;
    let inp: Input = parse(input)?;
    let pb = Problem::expand(&inp)?;
    match function {
        "objective" => {
            let (mut re, mut we) = (vec![0.0; 2 * pb.p], vec![0.0; pb.p]);
            let t = runs.repeat(|| objective(black_box(&pb), &mut re, &mut we));
            nums(&re)?;
            nums(&we)?;
            let out = json!({
                "reproj_error": {"elements": [num(re[0])?, num(re[1])?], "repeated": pb.p},
                "w_err": {"element": num(we[0])?, "repeated": pb.p},
            });
            Ok((out, t))
        }
        "jacobian" => {
            let mut j = Csr::with_size(pb.p);
            let t = runs.repeat(|| jacobian(black_box(&pb), &mut j));
            nums(&j.vals)?;
            let out = json!({
                "rows": truncated(&j.rows),
                "cols": truncated(&j.cols),
                "vals": nums(&truncated(&j.vals))?,
            });
            Ok((out, t))
        }
        _ => Err(super::unknown_function("ba", function)),
    }
}
