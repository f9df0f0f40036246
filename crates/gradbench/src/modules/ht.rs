//! `ht` (§3.10): hand tracking (ADBench). Pose θ (26) → 22 bone rotations (Euler angles,
//! R = Rz·Ry·Rx) → relative, absolute and skinning transforms → linear-blend skinning → global
//! angle-axis rotation (identity below norm 1e-4) and translation → residuals against the
//! observed points (simple: a vertex per point; complicated: a barycentric point of a triangle).
//!
//! The objective skins exactly the vertices the residuals read (the others cannot influence the
//! output); the list of those vertices is built inside the timed region of both functions.
//!
//! The computation has three stages: θ → the 22 skinning transforms, G and t (`pose_stage`);
//! one vertex's final position from those (`skin`); one residual from its vertices and u
//! (`triangle_residual`, `vertex_residual`). The dense Jacobian is forward mode through the
//! same stages, each a batched forward derivative of width 28 (`Dualv`, direction-major
//! shadows): directions 2…27 seed θ₀…θ₂₅ in the pose stage and the tangents of each stage's
//! outputs are the seeds of the next; directions 0 and 1 seed u_i0 and u_i1 in each residual
//! (the us-part is block-diagonal: this is the compression to two columns; the simple variant
//! drops those two directions, which are zero there). Keeping every shadow small and
//! contiguous (per vertex, per point) is what makes this fast: one width-28 derivative of the
//! whole residual function, with shadows 28 × 3·npts long, was 40–130× the objective.

use crate::protocol::{flatten, nums, parse, rows, Evaluation, Runs};
#[cfg(not(feature = "nightly"))]
use oxidase::autodiff::autodiff_forward;
#[cfg(feature = "nightly")]
use std::autodiff::autodiff_forward;
use serde::Deserialize;
use serde_json::Value;
use std::hint::black_box;

/// Bones of the ADBench hand model (the pose mapping of §3.10 is defined for these).
pub const BONES: usize = 22;
/// Pose parameters.
pub const THETA: usize = 26;

#[derive(Deserialize)]
pub struct ModelIn {
    pub bone_count: usize,
    pub parents: Vec<i64>,
    pub base_relatives: Vec<Vec<Vec<f64>>>,
    pub inverse_base_absolutes: Vec<Vec<Vec<f64>>>,
    pub base_positions: Vec<Vec<f64>>,
    pub weights: Vec<Vec<f64>>,
    pub triangles: Vec<Vec<usize>>,
    pub is_mirrored: bool,
}

#[derive(Deserialize)]
pub struct DataIn {
    pub correspondences: Vec<usize>,
    pub points: Vec<Vec<f64>>,
    pub model: ModelIn,
}

#[derive(Deserialize)]
pub struct Input {
    pub theta: Vec<f64>,
    pub us: Vec<Vec<f64>>,
    pub data: DataIn,
}

/// Model and observations, flattened (Const for the derivative).
pub struct Problem {
    /// Parent of each bone, −1 for a root; parents precede children.
    pub parents: Vec<i64>,
    /// 22 row-major 4×4 matrices each.
    pub base_relatives: Vec<f64>,
    pub inverse_base_absolutes: Vec<f64>,
    /// V×4 homogeneous positions.
    pub base_positions: Vec<f64>,
    /// V×22 skinning weights.
    pub weights: Vec<f64>,
    /// T×3 vertex indices.
    pub triangles: Vec<usize>,
    pub is_mirrored: bool,
    /// npts vertex (simple) or triangle (complicated) indices.
    pub correspondences: Vec<usize>,
    /// npts×3 observed points.
    pub points: Vec<f64>,
    /// Whether correspondences index triangles (a non-empty `us`).
    pub complicated: bool,
}

impl Problem {
    pub fn vertices(&self) -> usize {
        self.base_positions.len() / 4
    }
    pub fn npts(&self) -> usize {
        self.correspondences.len()
    }
}

fn matrices(m: &[Vec<Vec<f64>>], what: &str) -> Result<Vec<f64>, String> {
    if m.len() != BONES {
        return Err(format!("ht: {what} must hold {BONES} matrices"));
    }
    let mut out = Vec::with_capacity(16 * BONES);
    for (b, rows) in m.iter().enumerate() {
        if rows.len() != 4 {
            return Err(format!("ht: {what}[{b}] must have 4 rows"));
        }
        out.extend(flatten(rows, 4, &format!("{what}[{b}]"))?);
    }
    Ok(out)
}

/// Check and flatten an input; returns (θ, us flattened (2·npts or empty), problem).
pub fn problem(inp: &Input) -> Result<(Vec<f64>, Vec<f64>, Problem), String> {
    let m = &inp.data.model;
    if inp.theta.len() != THETA {
        return Err(format!("ht: theta must have {THETA} numbers"));
    }
    if m.bone_count != BONES || m.parents.len() != BONES {
        return Err(format!("ht: the model must have {BONES} bones"));
    }
    for (b, &p) in m.parents.iter().enumerate() {
        if p >= b as i64 || p < -1 {
            return Err(format!("ht: parent {p} of bone {b} does not precede it"));
        }
    }
    let v = m.base_positions.len();
    if v == 0 || m.weights.len() != v {
        return Err("ht: base_positions and weights must have one row per vertex".into());
    }
    let npts = inp.data.correspondences.len();
    if inp.data.points.len() != npts {
        return Err("ht: one point per correspondence expected".into());
    }
    let complicated = !inp.us.is_empty();
    if complicated && inp.us.len() != npts {
        return Err("ht: us must be empty or have one pair per correspondence".into());
    }
    let mut triangles = Vec::with_capacity(3 * m.triangles.len());
    for (t, tri) in m.triangles.iter().enumerate() {
        if tri.len() != 3 {
            return Err(format!("ht: triangles[{t}] must have 3 vertices"));
        }
        triangles.extend_from_slice(tri);
    }
    if triangles.iter().any(|&i| i >= v) {
        return Err("ht: a triangle names a vertex out of range".into());
    }
    let limit = if complicated { m.triangles.len() } else { v };
    if inp.data.correspondences.iter().any(|&c| c >= limit) {
        return Err("ht: a correspondence is out of range".into());
    }
    let us = if complicated { flatten(&inp.us, 2, "us")? } else { Vec::new() };
    let pb = Problem {
        parents: m.parents.clone(),
        base_relatives: matrices(&m.base_relatives, "base_relatives")?,
        inverse_base_absolutes: matrices(&m.inverse_base_absolutes, "inverse_base_absolutes")?,
        base_positions: flatten(&m.base_positions, 4, "base_positions")?,
        weights: flatten(&m.weights, BONES, "weights")?,
        triangles,
        is_mirrored: m.is_mirrored,
        correspondences: inp.data.correspondences.clone(),
        points: flatten(&inp.data.points, 3, "points")?,
        complicated,
    };
    Ok((inp.theta.clone(), us, pb))
}

/// The pose vector of bone `b` (§3.10).
#[inline(always)]
fn pose(theta: &[f64], b: usize) -> [f64; 3] {
    if (1..=20).contains(&b) {
        let (f, k) = ((b - 1) / 4, (b - 1) % 4);
        match k {
            1 => return [theta[6 + 4 * f], theta[7 + 4 * f], 0.0],
            2 => return [theta[8 + 4 * f], 0.0, 0.0],
            3 => return [theta[9 + 4 * f], 0.0, 0.0],
            _ => {}
        }
    }
    [0.0; 3]
}

/// R = Rz(v1)·Ry(v2)·Rx(v0), row-major.
#[inline(always)]
fn euler_rotation(v: [f64; 3]) -> [f64; 9] {
    let (tx, ty, tz) = (v[0], v[2], v[1]);
    let (sx, cx) = (tx.sin(), tx.cos());
    let (sy, cy) = (ty.sin(), ty.cos());
    let (sz, cz) = (tz.sin(), tz.cos());
    [
        cz * cy,
        cz * sy * sx - sz * cx,
        cz * sy * cx + sz * sx,
        sz * cy,
        sz * sy * sx + cz * cx,
        sz * sy * cx - cz * sx,
        -sy,
        cy * sx,
        cy * cx,
    ]
}

#[inline(always)]
fn mul4(a: &[f64], b: &[f64]) -> [f64; 16] {
    let mut c = [0.0; 16];
    for i in 0..4 {
        for j in 0..4 {
            c[4 * i + j] = a[4 * i] * b[j] + a[4 * i + 1] * b[4 + j] + a[4 * i + 2] * b[8 + j] + a[4 * i + 3] * b[12 + j];
        }
    }
    c
}

/// The angle-axis matrix of `r` (identity if ‖r‖ < 1e-4), row-major.
#[inline(always)]
fn angle_axis(r: &[f64]) -> [f64; 9] {
    let norm = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt();
    if norm < 1e-4 {
        return [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    }
    let (x, y, z) = (r[0] / norm, r[1] / norm, r[2] / norm);
    let (s, c) = (norm.sin(), norm.cos());
    [
        x * x + (1.0 - x * x) * c,
        x * y * (1.0 - c) - z * s,
        x * z * (1.0 - c) + y * s,
        x * y * (1.0 - c) + z * s,
        y * y + (1.0 - y * y) * c,
        y * z * (1.0 - c) - x * s,
        x * z * (1.0 - c) - y * s,
        z * y * (1.0 - c) + x * s,
        z * z + (1.0 - z * z) * c,
    ]
}

/// Width of every forward derivative: direction 0 and 1 are u_i0 and u_i1 (zero for the simple
/// variant), directions 2…27 are θ₀…θ₂₅.
pub const WIDTH: usize = THETA + 2;
/// Output of the pose stage: 22 skinning transforms (top 3 rows of T_b), G (3×3), translation.
pub const POSE: usize = 12 * BONES + 12;

/// Stage 1, θ → `out` (POSE): T_b = abs_b · inverse_base_absolutes[b] (rows 0…2) for every bone,
/// then the global rotation G and the translation θ[3..6].
#[autodiff_forward(d_pose_stage, 28, Dualv, Const, Dualv)]
pub fn pose_stage(theta: &[f64], pb: &Problem, out: &mut [f64]) {
    let mut abs = [[0.0f64; 16]; BONES];
    for b in 0..BONES {
        let r = euler_rotation(pose(theta, b));
        let br = &pb.base_relatives[16 * b..16 * b + 16];
        let mut rel = [0.0; 16];
        for i in 0..4 {
            for j in 0..3 {
                rel[4 * i + j] = br[4 * i] * r[j] + br[4 * i + 1] * r[3 + j] + br[4 * i + 2] * r[6 + j];
            }
            rel[4 * i + 3] = br[4 * i + 3];
        }
        let p = pb.parents[b];
        abs[b] = if p < 0 { rel } else { mul4(&abs[p as usize], &rel) };
        let t = mul4(&abs[b], &pb.inverse_base_absolutes[16 * b..16 * b + 16]);
        out[12 * b..12 * b + 12].copy_from_slice(&t[..12]);
    }
    let g = angle_axis(&theta[0..3]);
    out[12 * BONES..12 * BONES + 9].copy_from_slice(&g);
    out[12 * BONES + 9..POSE].copy_from_slice(&theta[3..6]);
}

/// Stage 2, one vertex: Σ_b w_b·(T_b·bp)[0..3] (x negated if mirrored), then G·p + t, into
/// `pos` (3).
#[autodiff_forward(d_skin, 28, Dualv, Const, Const, Const, Dualv)]
pub fn skin(stage: &[f64], w: &[f64], bp: &[f64], mirrored: bool, pos: &mut [f64]) {
    let mut m = [0.0; 12];
    for b in 0..BONES {
        for k in 0..12 {
            m[k] += w[b] * stage[12 * b + k];
        }
    }
    let mut p = [0.0; 3];
    for i in 0..3 {
        p[i] = m[4 * i] * bp[0] + m[4 * i + 1] * bp[1] + m[4 * i + 2] * bp[2] + m[4 * i + 3] * bp[3];
    }
    if mirrored {
        p[0] = -p[0];
    }
    let g = &stage[12 * BONES..POSE];
    for i in 0..3 {
        pos[i] = g[3 * i] * p[0] + g[3 * i + 1] * p[1] + g[3 * i + 2] * p[2] + g[9 + i];
    }
}

/// Stage 3, complicated: `err` (3) = point − (u0·pa + u1·pb + (1 − u0 − u1)·pc).
#[autodiff_forward(d_triangle_residual, 28, Dualv, Dualv, Dualv, Dualv, Const, Dualv)]
pub fn triangle_residual(pa: &[f64], pb: &[f64], pc: &[f64], u: &[f64], point: &[f64], err: &mut [f64]) {
    let (u0, u1) = (u[0], u[1]);
    let u2 = 1.0 - u0 - u1;
    for j in 0..3 {
        err[j] = point[j] - (u0 * pa[j] + u1 * pb[j] + u2 * pc[j]);
    }
}

/// Stage 3, simple: `err` (3) = point − p.
#[autodiff_forward(d_vertex_residual, 28, Dualv, Const, Dualv)]
pub fn vertex_residual(p: &[f64], point: &[f64], err: &mut [f64]) {
    for j in 0..3 {
        err[j] = point[j] - p[j];
    }
}

/// Buffers of one evaluation.
pub struct Work {
    pub mark: Vec<bool>,
    pub used: Vec<usize>,
    pub stage: Vec<f64>,
    /// 3V positions (only the used vertices are written).
    pub pos: Vec<f64>,
    pub err: Vec<f64>,
    /// Jacobian only: seeds, the pose stage's tangents (WIDTH×POSE), the positions' tangents
    /// (WIDTH×3 per vertex, vertex-major), one residual's tangents.
    pub seed_theta: Vec<f64>,
    pub seed_u: [f64; 2 * WIDTH],
    pub dstage: Vec<f64>,
    pub dpos: Vec<f64>,
}

impl Work {
    pub fn new(pb: &Problem, jacobian: bool) -> Work {
        let (v, npts) = (pb.vertices(), pb.npts());
        let mut w = Work {
            mark: vec![false; v],
            used: Vec::with_capacity(v),
            stage: vec![0.0; POSE],
            pos: vec![0.0; 3 * v],
            err: vec![0.0; 3 * npts],
            seed_theta: Vec::new(),
            seed_u: [0.0; 2 * WIDTH],
            dstage: Vec::new(),
            dpos: Vec::new(),
        };
        if jacobian {
            w.seed_theta = vec![0.0; WIDTH * THETA];
            for k in 0..THETA {
                w.seed_theta[(2 + k) * THETA + k] = 1.0;
            }
            w.seed_u[0] = 1.0; // direction 0: u0
            w.seed_u[3] = 1.0; // direction 1: u1
            w.dstage = vec![0.0; WIDTH * POSE];
            w.dpos = vec![0.0; WIDTH * 3 * v];
        }
        w
    }
}

/// Columns of the Jacobian: 28 (complicated) or 26 (simple).
pub fn columns(pb: &Problem) -> usize {
    if pb.complicated {
        WIDTH
    } else {
        THETA
    }
}

/// The vertices the residuals read, ascending, into `w.used`.
fn mark_used(pb: &Problem, w: &mut Work) {
    w.mark.fill(false);
    for &c in &pb.correspondences {
        if pb.complicated {
            for k in 0..3 {
                w.mark[pb.triangles[3 * c + k]] = true;
            }
        } else {
            w.mark[c] = true;
        }
    }
    w.used.clear();
    w.used.extend(w.mark.iter().enumerate().filter(|(_, &m)| m).map(|(v, _)| v));
}

/// The residuals into `w.err`: the three stages composed.
pub fn objective(theta: &[f64], us: &[f64], pb: &Problem, w: &mut Work) {
    mark_used(pb, w);
    pose_stage(theta, pb, &mut w.stage);
    for &v in &w.used {
        skin(&w.stage, &pb.weights[BONES * v..BONES * v + BONES], &pb.base_positions[4 * v..4 * v + 4], pb.is_mirrored, &mut w.pos[3 * v..3 * v + 3]);
    }
    let pos = &w.pos;
    for i in 0..pb.npts() {
        let c = pb.correspondences[i];
        let (point, err) = (&pb.points[3 * i..3 * i + 3], &mut w.err[3 * i..3 * i + 3]);
        if pb.complicated {
            let t = &pb.triangles[3 * c..3 * c + 3];
            triangle_residual(&pos[3 * t[0]..3 * t[0] + 3], &pos[3 * t[1]..3 * t[1] + 3], &pos[3 * t[2]..3 * t[2] + 3], &us[2 * i..2 * i + 2], point, err);
        } else {
            vertex_residual(&pos[3 * c..3 * c + 3], point, err);
        }
    }
}

/// The dense Jacobian, row-major 3·npts × `columns(pb)`, into `jac` (residuals into `w.err`):
/// forward mode through the same three stages, the tangents of one stage seeding the next.
pub fn jacobian(theta: &[f64], us: &[f64], pb: &Problem, w: &mut Work, jac: &mut [f64]) {
    mark_used(pb, w);
    d_pose_stage(theta, &w.seed_theta, pb, &mut w.stage, &mut w.dstage);
    for &v in &w.used {
        d_skin(
            &w.stage,
            &w.dstage,
            &pb.weights[BONES * v..BONES * v + BONES],
            &pb.base_positions[4 * v..4 * v + 4],
            pb.is_mirrored,
            &mut w.pos[3 * v..3 * v + 3],
            &mut w.dpos[3 * WIDTH * v..3 * WIDTH * (v + 1)],
        );
    }
    let (pos, dpos) = (&w.pos, &w.dpos);
    let p3 = |v: usize| &pos[3 * v..3 * v + 3];
    let dp3 = |v: usize| &dpos[3 * WIDTH * v..3 * WIDTH * (v + 1)];
    let mut derr = [0.0; 3 * WIDTH];
    let cols = columns(pb);
    let skip = WIDTH - cols;
    for i in 0..pb.npts() {
        let c = pb.correspondences[i];
        let (point, err) = (&pb.points[3 * i..3 * i + 3], &mut w.err[3 * i..3 * i + 3]);
        if pb.complicated {
            let t = &pb.triangles[3 * c..3 * c + 3];
            d_triangle_residual(p3(t[0]), dp3(t[0]), p3(t[1]), dp3(t[1]), p3(t[2]), dp3(t[2]), &us[2 * i..2 * i + 2], &w.seed_u, point, err, &mut derr);
        } else {
            d_vertex_residual(p3(c), dp3(c), point, err, &mut derr);
        }
        for j in 0..3 {
            let row = &mut jac[(3 * i + j) * cols..(3 * i + j + 1) * cols];
            for k in 0..cols {
                row[k] = derr[3 * (skip + k) + j];
            }
        }
    }
}

pub fn evaluate(function: &str, input: &Value) -> Evaluation {
    let runs = Runs::from_input(input)?;
    let inp: Input = parse(input)?;
    let (theta, us, pb) = problem(&inp)?;
    drop(inp);
    match function {
        "objective" => {
            let mut w = Work::new(&pb, false);
            let t = runs.repeat(|| objective(black_box(&theta), &us, &pb, &mut w));
            Ok((nums(&w.err)?, t))
        }
        "jacobian" => {
            let mut w = Work::new(&pb, true);
            let cols = columns(&pb);
            let mut jac = vec![0.0; 3 * pb.npts() * cols];
            let t = runs.repeat(|| jacobian(black_box(&theta), &us, &pb, &mut w, &mut jac));
            Ok((rows(&jac, cols)?, t))
        }
        _ => Err(super::unknown_function("ht", function)),
    }
}
