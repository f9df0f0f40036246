//! Every derivative of every module checked against central finite differences of its primal,
//! at small inputs of the documented shapes, and against the closed forms
//! shared/docs/GRADBENCH.md gives (closed forms live only here, as references).

use oxidase_gradbench::generate::{self, Rng};
use oxidase_gradbench::modules::{self, ba, det, gmm, ht, kmeans, llsq, lse, lstm, ode, particle, saddle};
use serde_json::{json, Value};

/// Central difference of `f` at `x` in coordinate `i`, step relative to |xᵢ|.
fn fd_partial(f: &mut dyn FnMut(&[f64]) -> f64, x: &[f64], i: usize) -> f64 {
    let h = 1e-6 * x[i].abs().max(1.0);
    let mut y = x.to_vec();
    y[i] = x[i] + h;
    let fp = f(&y);
    y[i] = x[i] - h;
    let fm = f(&y);
    (fp - fm) / (2.0 * h)
}

fn fd_gradient(mut f: impl FnMut(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    (0..x.len()).map(|i| fd_partial(&mut f, x, i)).collect()
}

/// |ad − reference| ≤ tol · max(1, max |reference|) entry by entry; panics with the worst entry.
fn assert_close(what: &str, ad: &[f64], reference: &[f64], tol: f64) {
    assert_eq!(ad.len(), reference.len(), "{what}: lengths differ");
    let scale = reference.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (a, r)) in ad.iter().zip(reference).enumerate() {
        let err = (a - r).abs() / scale;
        assert!(err <= tol, "{what}[{i}]: autodiff {a}, reference {r} (scaled error {err:e}, scale {scale})");
    }
}

fn with_runs(mut v: Value) -> Value {
    v["min_runs"] = json!(1);
    v["min_seconds"] = json!(0);
    v
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(floats).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        _ => panic!("not numbers: {v}"),
    }
}

fn eval(module: &str, function: &str, input: &Value) -> Value {
    let (out, timings) = modules::evaluate(module, function, input).unwrap_or_else(|e| panic!("{module}.{function}: {e}"));
    assert!(!timings.is_empty());
    out
}

#[test]
fn hello_chain() {
    let mut x = json!(1.0);
    let mut inputs = vec![];
    for _ in 0..4 {
        inputs.push(x.as_f64().unwrap());
        let y = eval("hello", "square", &x);
        inputs.push(y.as_f64().unwrap());
        x = eval("hello", "double", &y);
    }
    assert_eq!(inputs, [1.0, 1.0, 2.0, 4.0, 8.0, 64.0, 128.0, 16384.0]);
    assert_eq!(x.as_f64(), Some(32768.0));
}

#[test]
fn lse_gradient_is_softmax() {
    let mut rng = Rng::new(1);
    for n in [1, 2, 7, 50] {
        let x: Vec<f64> = rng.uniforms(n).iter().map(|v| 4.0 * v - 2.0).collect();
        let mut g = vec![0.0; n];
        lse::gradient(&x, &mut g);
        assert_close("lse fd", &g, &fd_gradient(|x| lse::primal(x), &x), 1e-6);
        let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = x.iter().map(|v| (v - m).exp()).sum();
        let softmax: Vec<f64> = x.iter().map(|v| (v - m).exp() / s).collect();
        assert_close("lse softmax", &g, &softmax, 1e-12);
        assert!((lse::primal(&x) - (m + s.ln())).abs() < 1e-12);
    }
    // Large values: the max shift keeps exp finite.
    let out = eval("lse", "gradient", &with_runs(json!({"x": [1000.0, 1000.0]})));
    assert_close("lse big", &floats(&out), &[0.5, 0.5], 1e-12);
}

#[test]
fn llsq_gradient() {
    let mut rng = Rng::new(2);
    for (m, n) in [(1, 2), (5, 16), (8, 33)] {
        let x = rng.uniforms(m);
        let mut g = vec![0.0; m];
        llsq::gradient(&x, n, &mut g);
        assert_close("llsq fd", &g, &fd_gradient(|x| llsq::primal(x, n), &x), 1e-6);
        // Closed form: gⱼ = −Σᵢ rᵢ tᵢʲ.
        let mut cf = vec![0.0; m];
        for i in 0..n {
            let t = -1.0 + (i as f64 * 2.0) / (n as f64 - 1.0);
            let s = if t > 0.0 { 1.0 } else if t < 0.0 { -1.0 } else { 0.0 };
            let r = s - (0..m).map(|j| x[j] * t.powi(j as i32)).sum::<f64>();
            for j in 0..m {
                cf[j] -= r * t.powi(j as i32);
            }
        }
        assert_close("llsq closed form", &g, &cf, 1e-12);
    }
}

/// Determinant by Gaussian elimination with partial pivoting (reference).
fn det_lu(a: &[f64], n: usize) -> f64 {
    let mut a = a.to_vec();
    let mut det = 1.0;
    for c in 0..n {
        let p = (c..n).max_by(|&i, &j| a[i * n + c].abs().total_cmp(&a[j * n + c].abs())).unwrap();
        if p != c {
            for k in 0..n {
                a.swap(p * n + k, c * n + k);
            }
            det = -det;
        }
        let piv = a[c * n + c];
        if piv == 0.0 {
            return 0.0;
        }
        det *= piv;
        for r in c + 1..n {
            let f = a[r * n + c] / piv;
            for k in c..n {
                a[r * n + k] -= f * a[c * n + k];
            }
        }
    }
    det
}

#[test]
fn det_gradient_is_cofactors() {
    let mut rng = Rng::new(3);
    for ell in 1..=6 {
        let a = rng.uniforms(ell * ell);
        assert!((det::primal(&a, ell) - det_lu(&a, ell)).abs() < 1e-12, "det value ell={ell}");
        let mut g = vec![0.0; ell * ell];
        det::gradient(&a, ell, &mut g);
        assert_close("det fd", &g, &fd_gradient(|a| det::primal(a, ell), &a), 1e-6);
        // Cofactors (−1)^(i+j)·M_ij.
        let mut cof = vec![0.0; ell * ell];
        for i in 0..ell {
            for j in 0..ell {
                let minor: Vec<f64> = (0..ell)
                    .filter(|&r| r != i)
                    .flat_map(|r| (0..ell).filter(move |&c| c != j).map(move |c| (r, c)))
                    .map(|(r, c)| a[r * ell + c])
                    .collect();
                let sign = if (i + j) % 2 == 0 { 1.0 } else { -1.0 };
                cof[i * ell + j] = if ell == 1 { 1.0 } else { sign * det_lu(&minor, ell - 1) };
            }
        }
        assert_close("det cofactors", &g, &cof, 1e-12);
    }
    // Through the protocol: a second run must give the same (not accumulated) gradient.
    let out = eval("det", "gradient", &json!({"A": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0], "ell": 3, "min_runs": 3, "min_seconds": 0}));
    assert_close("det 3x3", &floats(&out), &[2.0, 2.0, -3.0, 4.0, -11.0, 6.0, -3.0, 6.0, -3.0], 1e-14);
}

#[test]
fn ode_gradient() {
    let mut rng = Rng::new(4);
    for (n, s) in [(1, 1), (2, 3), (6, 2), (9, 3)] {
        let x: Vec<f64> = rng.uniforms(n).iter().map(|v| v + 0.5).collect();
        let mut y = vec![0.0; n];
        let (mut dx, mut dy) = (vec![0.0; n], vec![0.0; n]);
        ode::gradient(&x, s, &mut y, &mut dx, &mut dy);
        let fd = fd_gradient(
            |x| {
                let mut y = vec![0.0; n];
                ode::primal(x, s, &mut y);
                y[n - 1]
            },
            &x,
        );
        assert_close("ode fd", &dx, &fd, 1e-6);
    }
    // RK4 is exact for the degree-n polynomial solution when n ≤ 4: y_{n−1}(2) = Πx·2ⁿ/n!,
    // gradient Y/xᵢ.
    let x = [0.3, 0.7, 1.1, 0.9];
    let out = eval("ode", "gradient", &with_runs(json!({"x": x, "s": 2})));
    let y: f64 = x.iter().product::<f64>() * 16.0 / 24.0;
    let cf: Vec<f64> = x.iter().map(|xi| y / xi).collect();
    assert_close("ode closed form", &floats(&out), &cf, 1e-12);
    let prim = eval("ode", "primal", &with_runs(json!({"x": x, "s": 2})));
    assert!((floats(&prim)[3] - y).abs() < 1e-12);
}

#[test]
fn kmeans_dir() {
    let mut rng = Rng::new(5);
    for (k, n, d) in [(1, 3, 1), (3, 20, 2), (4, 30, 3)] {
        let points = rng.uniforms(n * d);
        let centroids = points[(n - k) * d..].to_vec();
        let kd = k * d;
        // The gradient and H·1 of the forward-over-reverse function against differences.
        let ones = vec![1.0; kd];
        let (mut grad, mut hd, mut dir) = (vec![0.0; kd], vec![0.0; kd], vec![0.0; kd]);
        kmeans::dir(&points, &centroids, d, &ones, &mut grad, &mut hd, &mut dir);
        assert_close("kmeans grad fd", &grad, &fd_gradient(|c| kmeans::cost(&points, c, d), &centroids), 1e-6);
        let h = 1e-6;
        let g_at = |s: f64| {
            let c: Vec<f64> = centroids.iter().map(|v| v + s).collect();
            let mut g = vec![0.0; kd];
            kmeans::cost_grad(&points, &c, d, &mut g);
            g
        };
        let (gp, gm) = (g_at(h), g_at(-h));
        let hv: Vec<f64> = gp.iter().zip(&gm).map(|(a, b)| (a - b) / (2.0 * h)).collect();
        assert_close("kmeans H·1 fd", &hd, &hv, 1e-6);
        // Closed forms: H = 2·count on the coordinates of each centroid; dir = C_j − mean.
        let mut count = vec![0.0; k];
        let mut sum = vec![0.0; kd];
        for p in points.chunks(d) {
            let mut best = (f64::INFINITY, 0);
            for j in 0..k {
                let dist: f64 = (0..d).map(|t| (centroids[j * d + t] - p[t]).powi(2)).sum();
                if dist < best.0 {
                    best = (dist, j);
                }
            }
            count[best.1] += 1.0;
            for t in 0..d {
                sum[best.1 * d + t] += p[t];
            }
        }
        let hcf: Vec<f64> = (0..kd).map(|i| 2.0 * count[i / d]).collect();
        assert_close("kmeans diag H", &hd, &hcf, 1e-12);
        let dcf: Vec<f64> = (0..kd).map(|i| centroids[i] - sum[i] / count[i / d]).collect();
        assert_close("kmeans dir closed form", &dir, &dcf, 1e-12);
        let rows: Vec<Vec<f64>> = points.chunks(d).map(<[f64]>::to_vec).collect();
        let crow: Vec<Vec<f64>> = centroids.chunks(d).map(<[f64]>::to_vec).collect();
        let out = eval("kmeans", "dir", &with_runs(json!({"points": rows, "centroids": crow})));
        assert_eq!(out.as_array().unwrap().len(), k);
        assert_close("kmeans dir protocol", &floats(&out), &dcf, 1e-12);
    }
}

/// The mixture log-likelihood by explicit densities (precision matrix Qᵀ Q formed densely),
/// plus the prior terms of §3.2.
fn gmm_naive(p: &gmm::Params) -> f64 {
    let gmm::Shape { d, k, n, m, gamma } = p.shape;
    let tri = d * (d - 1) / 2;
    let wsum: f64 = p.alpha.iter().map(|a| a.exp()).sum();
    let mut ll = 0.0;
    for i in 0..n {
        let mut dens = 0.0;
        for c in 0..k {
            let mut qm = vec![0.0; d * d];
            for j in 0..d {
                qm[j * d + j] = p.q[c * d + j].exp();
            }
            let mut t = 0;
            for col in 0..d {
                for r in col + 1..d {
                    qm[r * d + col] = p.l[c * tri + t];
                    t += 1;
                }
            }
            let xc: Vec<f64> = (0..d).map(|j| p.x[i * d + j] - p.mu[c * d + j]).collect();
            let mut quad = 0.0;
            for r in 0..d {
                let v: f64 = (0..d).map(|j| qm[r * d + j] * xc[j]).sum();
                quad += v * v;
            }
            let detq: f64 = (0..d).map(|j| qm[j * d + j]).product();
            dens += p.alpha[c].exp() / wsum * detq * (2.0 * std::f64::consts::PI).powf(-(d as f64) / 2.0) * (-0.5 * quad).exp();
        }
        ll += dens.ln();
    }
    let (df, mf) = (d as f64, m as f64);
    let nw = df + mf + 1.0;
    let mut prior = 0.0;
    for c in 0..k {
        let frob: f64 = (0..d).map(|j| (2.0 * p.q[c * d + j]).exp()).sum::<f64>()
            + (0..tri).map(|t| p.l[c * tri + t].powi(2)).sum::<f64>();
        let sq: f64 = (0..d).map(|j| p.q[c * d + j]).sum();
        let lg: f64 = df * (df - 1.0) / 4.0 * std::f64::consts::PI.ln()
            + (1..=d).map(|j| gmm::lgamma(0.5 * nw + 0.5 * (1.0 - j as f64))).sum::<f64>();
        prior += -0.5 * gamma * gamma * frob + mf * sq + nw * df * (gamma.ln() - 0.5 * 2f64.ln()) - lg;
    }
    ll + prior
}

#[test]
fn gmm_gradient() {
    // ln Γ at known points.
    assert!((gmm::lgamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
    assert!((gmm::lgamma(5.0) - 24f64.ln()).abs() < 1e-13);
    assert!((gmm::lgamma(1.5) - (std::f64::consts::PI.sqrt() / 2.0).ln()).abs() < 1e-13);
    for (d, k, n, m) in [(1, 1, 3, 0), (2, 2, 4, 0), (3, 2, 5, 2), (4, 3, 6, 0)] {
        let mut input = generate::gmm(&mut Rng::new(6 + d as u64), d, k, n);
        input["m"] = json!(m);
        input["gamma"] = json!(1.3);
        let inp: gmm::Input = serde_json::from_value(input.clone()).unwrap();
        let p = gmm::unpack(&inp).unwrap();
        let f = gmm::objective(&p.alpha, &p.mu, &p.q, &p.l, &p.x, &p.shape);
        let naive = gmm_naive(&p);
        assert!((f - naive).abs() <= 1e-10 * naive.abs().max(1.0), "gmm objective {f} vs naive {naive}");
        let (mut da, mut dmu, mut dq, mut dl) = (vec![0.0; k], vec![0.0; k * d], vec![0.0; k * d], vec![0.0; p.l.len()]);
        let f2 = gmm::gradient(&p, &mut da, &mut dmu, &mut dq, &mut dl);
        assert!((f - f2).abs() <= 1e-12 * f.abs().max(1.0));
        let obj = |alpha: &[f64], mu: &[f64], q: &[f64], l: &[f64]| gmm::objective(alpha, mu, q, l, &p.x, &p.shape);
        assert_close("gmm alpha", &da, &fd_gradient(|a| obj(a, &p.mu, &p.q, &p.l), &p.alpha), 1e-6);
        assert_close("gmm mu", &dmu, &fd_gradient(|v| obj(&p.alpha, v, &p.q, &p.l), &p.mu), 1e-6);
        assert_close("gmm q", &dq, &fd_gradient(|v| obj(&p.alpha, &p.mu, v, &p.l), &p.q), 1e-6);
        if !p.l.is_empty() {
            assert_close("gmm l", &dl, &fd_gradient(|v| obj(&p.alpha, &p.mu, &p.q, v), &p.l), 1e-6);
        }
        // The protocol's output: exactly four keys nested like the input.
        let out = eval("gmm", "jacobian", &with_runs(input));
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["alpha", "l", "mu", "q"]);
        assert_eq!(out["l"].as_array().unwrap().len(), k);
        assert_eq!(out["mu"][0].as_array().unwrap().len(), d);
        assert_close("gmm protocol mu", &floats(&out["mu"]), &dmu, 1e-15);
        assert_close("gmm protocol l", &floats(&out["l"]), &dl, 1e-15);
    }
}

#[test]
fn lstm_gradient() {
    for (l, c, b) in [(1, 2, 1), (2, 5, 3), (3, 4, 4)] {
        let input = generate::lstm(&mut Rng::new(7 + l as u64), l, c, b);
        let inp: lstm::Input = serde_json::from_value(input.clone()).unwrap();
        let (main, extra, state, seq, bb) = lstm::unpack(&inp).unwrap();
        assert_eq!(bb, b);
        let mut g = vec![0.0; main.len() + extra.len()];
        lstm::gradient(&main, &extra, &state, &seq, b, &mut g);
        assert_eq!(g.len(), 8 * l * b + 3 * b);
        let fd_main = fd_gradient(|m| lstm::objective(m, &extra, &state, &seq, b), &main);
        let fd_extra = fd_gradient(|e| lstm::objective(&main, e, &state, &seq, b), &extra);
        assert_close("lstm main", &g[..main.len()], &fd_main, 1e-6);
        assert_close("lstm extra", &g[main.len()..], &fd_extra, 1e-6);
        // Twice through the protocol with several runs: the state is not carried over.
        let mut inp2 = with_runs(input);
        inp2["min_runs"] = json!(3);
        let o1 = eval("lstm", "objective", &inp2);
        assert!((o1.as_f64().unwrap() - lstm::objective(&main, &extra, &state, &seq, b)).abs() < 1e-15);
        assert_close("lstm protocol", &floats(&eval("lstm", "jacobian", &inp2)), &g, 1e-15);
    }
}

fn ba_problem(rng: &mut Rng, n: usize, m: usize, p: usize, zero_rotation: bool) -> ba::Problem {
    let mut cams = Vec::new();
    for _ in 0..n {
        let r: Vec<f64> = if zero_rotation { vec![0.0; 3] } else { rng.normals(3).iter().map(|v| 0.5 * v).collect() };
        cams.extend(r);
        cams.extend(rng.normals(3)); // centre
        cams.push(400.0 + 50.0 * rng.uniform()); // f
        cams.extend(rng.normals(2)); // principal point
        cams.extend([0.05 * rng.normal(), 0.01 * rng.normal()]); // distortion
    }
    // Points well in front of the cameras (z far from 0 after rotation is likely).
    let points: Vec<f64> = (0..m).flat_map(|_| [rng.normal(), rng.normal(), 8.0 + rng.uniform()]).collect();
    let obs = (0..p).flat_map(|i| [i % n, (i * 7 + 1) % m]).collect();
    ba::Problem { n, m, p, cams, points, weights: rng.uniforms(p), feats: rng.normals(2 * p), obs }
}

#[test]
fn ba_jacobian() {
    let mut rng = Rng::new(8);
    for (n, m, p, zero) in [(2, 3, 5, false), (1, 1, 1, false), (2, 2, 3, true)] {
        let pb = ba_problem(&mut rng, n, m, p, zero);
        let mut j = ba::Csr::with_size(p);
        ba::jacobian(&pb, &mut j);
        assert_eq!(j.rows[3 * p], 31 * p);
        // Reverse mode (the timed one) against forward mode, entry by entry.
        let mut jf = ba::Csr::with_size(p);
        ba::jacobian_forward(&pb, &ba::identity_seed(), &mut jf);
        assert_eq!((&j.rows, &j.cols), (&jf.rows, &jf.cols));
        assert_close("ba reverse vs forward", &j.vals, &jf.vals, 1e-12);
        let ncols = 11 * n + 3 * m + p;
        // Dense Jacobian from the CSR, then each column against finite differences of all 3p
        // residuals with respect to that parameter of the expanded problem.
        let mut dense = vec![0.0; 3 * p * ncols];
        for r in 0..3 * p {
            for e in j.rows[r]..j.rows[r + 1] {
                dense[r * ncols + j.cols[e]] += j.vals[e];
            }
        }
        let residuals = |pb: &ba::Problem| {
            let (mut re, mut we) = (vec![0.0; 2 * p], vec![0.0; p]);
            ba::objective(pb, &mut re, &mut we);
            re.extend(we);
            re
        };
        for col in 0..ncols {
            let h_of = |v: f64| 1e-6 * v.abs().max(1.0);
            let shifted = |s: f64| {
                let mut q = ba::Problem { cams: pb.cams.clone(), points: pb.points.clone(), weights: pb.weights.clone(), feats: pb.feats.clone(), obs: pb.obs.clone(), ..pb };
                let v = if col < 11 * n {
                    &mut q.cams[col]
                } else if col < 11 * n + 3 * m {
                    &mut q.points[col - 11 * n]
                } else {
                    &mut q.weights[col - 11 * n - 3 * m]
                };
                let h = h_of(*v);
                *v += s * h;
                (residuals(&q), h)
            };
            let ((rp, h), (rm, _)) = (shifted(1.0), shifted(-1.0));
            let fd: Vec<f64> = rp.iter().zip(&rm).map(|(a, b)| (a - b) / (2.0 * h)).collect();
            let ad: Vec<f64> = (0..3 * p).map(|r| dense[r * ncols + col]).collect();
            assert_close(&format!("ba column {col}"), &ad, &fd, 1e-6);
        }
    }
    // The protocol's truncated form on the documented constants.
    let input = with_runs(generate::ba(2, 3, 4));
    let out = eval("ba", "jacobian", &input);
    let rows = floats(&out["rows"]);
    assert_eq!(rows, [0.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0, 105.0, 120.0, 121.0, 122.0, 123.0, 124.0, 124.0]);
    let cols = floats(&out["cols"]);
    assert_eq!(cols.len(), 31);
    assert_eq!(&cols[11..15], &[22.0, 23.0, 24.0, 31.0]);
    assert_eq!(cols[30], 34.0);
    let vals = floats(&out["vals"]);
    assert_eq!(vals.len(), 31);
    assert!((vals[7] - 0.417022).abs() < 1e-15, "∂/∂u0 = w");
    assert_eq!(vals[8], 0.0, "∂/∂v0 = 0");
    assert!((vals[30] + 2.0 * 0.417022).abs() < 1e-15, "∂w_err/∂w = −2w");
    let obj = eval("ba", "objective", &input);
    assert_eq!(obj["reproj_error"]["repeated"], json!(4));
    assert_eq!(obj["w_err"]["repeated"], json!(4));
    assert!((obj["w_err"]["element"].as_f64().unwrap() - (1.0 - 0.417022f64.powi(2))).abs() < 1e-15);
    assert_eq!(obj["reproj_error"]["elements"].as_array().unwrap().len(), 2);
}

/// A small synthetic hand (22 bones, 30 vertices, 6 triangles, 8 points); `tiny` puts the
/// global rotation below the identity threshold.
fn ht_case(seed: u64, complicated: bool, tiny: bool) -> (Vec<f64>, Vec<f64>, ht::Problem, Value) {
    let mut input = generate::ht(&mut Rng::new(seed), 30, 6, 8, complicated);
    if tiny {
        input["theta"][0] = json!(3e-5);
        input["theta"][1] = json!(-2e-5);
        input["theta"][2] = json!(1e-5);
    }
    let inp: ht::Input = serde_json::from_value(input.clone()).unwrap();
    let (theta, us, pb) = ht::problem(&inp).unwrap();
    (theta, us, pb, input)
}

fn ht_residuals(theta: &[f64], us: &[f64], pb: &ht::Problem) -> Vec<f64> {
    let mut w = ht::Work::new(pb, false);
    ht::objective(theta, us, pb, &mut w);
    w.err
}

#[test]
fn ht_jacobian() {
    for (seed, complicated, tiny) in [(1, true, false), (2, false, false), (3, true, true), (4, false, true)] {
        let (theta, us, pb, input) = ht_case(seed, complicated, tiny);
        let (npts, cols) = (pb.npts(), ht::columns(&pb));
        assert_eq!(cols, if complicated { 28 } else { 26 });
        let off = cols - 26;
        let mut w = ht::Work::new(&pb, true);
        let mut jac = vec![0.0; 3 * npts * cols];
        ht::jacobian(&theta, &us, &pb, &mut w, &mut jac);
        assert_close("ht residuals beside the jacobian", &w.err, &ht_residuals(&theta, &us, &pb), 0.0);
        let what = format!("ht seed {seed} complicated {complicated} tiny {tiny}");
        // θ columns against central differences of all residuals.
        for k in 0..26 {
            let h = 1e-6 * theta[k].abs().max(1.0);
            let (mut tp, mut tm) = (theta.clone(), theta.clone());
            tp[k] += h;
            tm[k] -= h;
            let (rp, rm) = (ht_residuals(&tp, &us, &pb), ht_residuals(&tm, &us, &pb));
            let fd: Vec<f64> = rp.iter().zip(&rm).map(|(a, b)| (a - b) / (2.0 * h)).collect();
            let ad: Vec<f64> = (0..3 * npts).map(|r| jac[r * cols + off + k]).collect();
            assert_close(&format!("{what}: column θ{k}"), &ad, &fd, 1e-6);
        }
        // us columns: u_i affects only the rows of correspondence i.
        if complicated {
            for i in 0..npts {
                for c in 0..2 {
                    let h = 1e-6;
                    let (mut up, mut um) = (us.clone(), us.clone());
                    up[2 * i + c] += h;
                    um[2 * i + c] -= h;
                    let (rp, rm) = (ht_residuals(&theta, &up, &pb), ht_residuals(&theta, &um, &pb));
                    for r in 0..3 * npts {
                        let fd = (rp[r] - rm[r]) / (2.0 * h);
                        if r / 3 == i {
                            assert_close(&format!("{what}: row {r}, us column {c}"), &[jac[r * cols + c]], &[fd], 1e-6);
                        } else {
                            assert!(fd.abs() < 1e-9, "{what}: residual {r} depends on u_{i}");
                        }
                    }
                }
            }
        }
        // ∂err_x/∂θ[3] = −1 (and ∂err_y/∂θ[3] = ∂err_z/∂θ[3] = 0); complicated: −(u0 + u1 +
        // (1 − u0 − u1)), −1 up to rounding.
        for i in 0..npts {
            let d = jac[3 * i * cols + off + 3];
            assert!((d + 1.0).abs() <= 4.0 * f64::EPSILON, "{what}: ∂err_x/∂θ3 = {d}");
            assert_eq!(jac[(3 * i + 1) * cols + off + 3], 0.0);
            assert_eq!(jac[(3 * i + 2) * cols + off + 3], 0.0);
        }
        // Below norm 1e-4 the global rotation is the constant identity.
        if tiny {
            for r in 0..3 * npts {
                for k in 0..3 {
                    assert_eq!(jac[r * cols + off + k], 0.0, "{what}: identity branch, row {r}, θ{k}");
                }
            }
        } else {
            assert!((0..3 * npts).any(|r| jac[r * cols + off].abs() > 1e-3), "{what}: θ0 inactive");
        }
        // The protocol path gives the same numbers.
        let input = with_runs(input);
        assert_close(&format!("{what}: protocol objective"), &floats(&eval("ht", "objective", &input)), &w.err, 0.0);
        let out = eval("ht", "jacobian", &input);
        assert_eq!(out.as_array().unwrap().len(), 3 * npts);
        assert_eq!(out[0].as_array().unwrap().len(), cols);
        assert_close(&format!("{what}: protocol jacobian"), &floats(&out), &jac, 0.0);
    }
}

/// At the zero pose with a zero global transform the model is in its bind pose: every vertex
/// sits at its base position (the generator's inverse base absolutes match its base relatives).
#[test]
fn ht_bind_pose() {
    let (mut theta, _, pb, _) = ht_case(5, false, false);
    theta.iter_mut().for_each(|t| *t = 0.0);
    let err = ht_residuals(&theta, &[], &pb);
    for i in 0..pb.npts() {
        let v = pb.correspondences[i];
        for j in 0..3 {
            let expect = pb.points[3 * i + j] - pb.base_positions[4 * v + j];
            assert!((err[3 * i + j] - expect).abs() < 1e-12, "point {i}: {} vs {expect}", err[3 * i + j]);
        }
    }
}

const VARIANTS: [&str; 4] = ["rr", "ff", "fr", "rf"];

/// The nested derivative d/dw of the trajectory (all four nestings) against central differences
/// and against each other, at a few controls.
#[test]
fn particle_derivative() {
    for w in [0.0, 0.1, 0.2071918746486116, 0.35] {
        let h = 1e-6;
        let fd_f = (particle::euler_f(w + h) - particle::euler_f(w - h)) / (2.0 * h);
        let fd_r = (particle::euler_r(w + h) - particle::euler_r(w - h)) / (2.0 * h);
        assert!((particle::euler_f(w) - particle::euler_r(w)).abs() < 1e-12, "inner modes disagree on the primal at {w}");
        let d: Vec<f64> = VARIANTS.iter().map(|v| particle::derivative(v, w).unwrap()).collect();
        for (v, dv) in VARIANTS.iter().zip(&d) {
            let fd = if v.ends_with('f') { fd_f } else { fd_r };
            assert_close(&format!("particle {v} d/dw at {w}"), &[*dv], &[fd], 1e-6);
            assert!((dv - d[0]).abs() <= 1e-12 * d[0].abs().max(1.0), "particle {v} at {w}: {dv} vs rr {}", d[0]);
        }
    }
}

/// Every variant reaches the published constant (§3.12: 0.2071918746486116, ±1e-4 accepted).
#[test]
fn particle_optimum() {
    for v in VARIANTS {
        let out = eval("particle", v, &json!({"w": 0.0, "min_runs": 1, "min_seconds": 0}));
        let w = out.as_f64().unwrap();
        assert!((w - 0.2071918746486116).abs() < 1e-12, "particle {v}: {w}");
    }
}

/// ∇M through the inner solver (all four nestings) against central differences of M.
#[test]
fn saddle_gradient() {
    let s = [1.0, 1.0];
    for p1 in [[1.0, 1.0], [0.3, -0.7], [0.01, 0.02]] {
        for v in VARIANTS {
            let m = |x: f64, y: f64| if v.ends_with('f') { saddle::max_f(x, y, s[0], s[1]) } else { saddle::max_r(x, y, s[0], s[1]) };
            let h = 1e-6;
            let fd = [(m(p1[0] + h, p1[1]) - m(p1[0] - h, p1[1])) / (2.0 * h), (m(p1[0], p1[1] + h) - m(p1[0], p1[1] - h)) / (2.0 * h)];
            let g = saddle::max_gradient(v, &p1, s);
            assert_close(&format!("saddle {v} ∇M at {p1:?}"), &g, &fd, 1e-6);
        }
    }
}

/// Every variant reaches the published constant (§3.13: 8.246324826140356e-06 in all four
/// entries, ±1e-4 accepted).
#[test]
fn saddle_point() {
    for v in VARIANTS {
        let out = floats(&eval("saddle", v, &json!({"start": [1.0, 1.0], "min_runs": 1, "min_seconds": 0})));
        assert_eq!(out.len(), 4);
        for r in out {
            assert!((r - 8.246324826140356e-06).abs() < 1e-15, "saddle {v}: {r}");
        }
    }
}

#[test]
fn unknown_function_is_an_error() {
    for m in modules::MODULES {
        assert!(modules::evaluate(m, "no_such_function", &json!({"min_seconds": 0})).is_err(), "{m}");
    }
    assert!(modules::evaluate("nope", "f", &json!(1.0)).is_err());
}
