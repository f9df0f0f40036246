//! B1 and B6 of shared/docs/BENCHMARKS.md: Rosenbrock, f(x) = Σ (1 − xᵢ)² + 100 (xᵢ₊₁ − xᵢ²)²
//! at xᵢ = 0.5 + 0.01·i, for every implementation a user would pick, in one process.
//!
//! * `rosenbrock_gradient/<impl>/<n>`: the primal; oxidase's reverse gradient, forward JVP
//!   (width 1) and batched forward JVP (8 directions per call); a hand-written adjoint (the
//!   practical floor); echidna's `grad` and its bytecode tape recorded once and re-evaluated;
//!   num-dual's gradient (fixed-size duals up to n = 100, dynamic above); ad_trait forward and
//!   reverse.
//! * `rosenbrock_hvp/<impl>/<n>`: Hessian-vector products: oxidase forward-over-reverse, a
//!   hand-written gradient + H·v, echidna's tape `hvp`.
//!
//! Forward-mode peers need n passes (or n-wide duals) for a gradient, O(n²): they are skipped
//! above n = 1000. Sizes come from `OXIDASE_BENCH_SIZES` (default `2,10,100,1000,10000`).
//! Before anything is timed, every implementation's result is checked against the hand-written
//! adjoint: a benchmark of a wrong derivative would be meaningless.
//!
//! `cargo xtask bench-report` turns criterion's estimates into the table of medians and ratios.
#![cfg_attr(not(feature = "stable"), feature(autodiff))]

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
#[cfg(feature = "stable")]
use oxidase::autodiff::{autodiff_forward, autodiff_reverse};
#[cfg(not(feature = "stable"))]
use std::autodiff::{autodiff_forward, autodiff_reverse};

/// Width of the batched forward JVP.
const LANES: usize = 8;
/// Largest n at which forward-mode peers (n passes per gradient) are run.
const MAX_N_FORWARD_PEERS: usize = 1000;

// =============================================================================================
// The function, in plain Rust, and what oxidase generates from it
// =============================================================================================

#[autodiff_reverse(d_rosenbrock, Duplicated, Active)]
#[autodiff_forward(jvp_rosenbrock, Dual, Dual)]
#[autodiff_forward(jvp8_rosenbrock, 8, Dual, Dual)]
#[inline(never)]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        let a = 1.0 - x[i];
        let b = x[i + 1] - x[i] * x[i];
        s += a * a + 100.0 * b * b;
    }
    s
}

/// ∇f(x) into `g`; its forward derivative is the Hessian-vector product (forward over reverse).
#[autodiff_forward(hvp_rosenbrock, Dual, Dual)]
#[inline(never)]
fn rosenbrock_gradient(x: &[f64], g: &mut [f64]) {
    g.fill(0.0);
    d_rosenbrock(x, g, 1.0);
}

// =============================================================================================
// Hand-written derivatives: the floor
// =============================================================================================

/// Value, and the gradient accumulated into `dx`, in one pass.
#[inline(never)]
fn rosenbrock_adjoint(x: &[f64], dx: &mut [f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        let a = 1.0 - x[i];
        let b = x[i + 1] - x[i] * x[i];
        s += a * a + 100.0 * b * b;
        dx[i] += -2.0 * a - 400.0 * b * x[i];
        dx[i + 1] += 200.0 * b;
    }
    s
}

/// Gradient into `g` and H·v into `hv` (both overwritten), in one pass.
#[inline(never)]
fn rosenbrock_hand_hvp(x: &[f64], v: &[f64], g: &mut [f64], hv: &mut [f64]) {
    g.fill(0.0);
    hv.fill(0.0);
    for i in 0..x.len() - 1 {
        let a = 1.0 - x[i];
        let b = x[i + 1] - x[i] * x[i];
        g[i] += -2.0 * a - 400.0 * b * x[i];
        g[i + 1] += 200.0 * b;
        // Second derivatives of the term: ∂ᵢ² = 2 + 800xᵢ² − 400b, ∂ᵢ∂ᵢ₊₁ = −400xᵢ, ∂ᵢ₊₁² = 200.
        hv[i] += (2.0 + 800.0 * x[i] * x[i] - 400.0 * b) * v[i] - 400.0 * x[i] * v[i + 1];
        hv[i + 1] += -400.0 * x[i] * v[i] + 200.0 * v[i + 1];
    }
}

// =============================================================================================
// Peers: the same function in each crate's idiom
// =============================================================================================

mod peers {
    use ad_trait::AD;
    use ad_trait::differentiable_function::{DifferentiableFunctionTrait, ForwardAD, ReverseAD};
    use ad_trait::function_engine::FunctionEngine;
    use nalgebra::{DVector, SVector};
    use num_dual::{DualDVec64, DualNum, DualSVec64};

    pub fn rosenbrock_echidna<T: echidna::Scalar<Float = f64>>(x: &[T]) -> T {
        let one = T::from_f(1.0);
        let hundred = T::from_f(100.0);
        let mut s = T::zero();
        for i in 0..x.len() - 1 {
            let a = one - x[i];
            let b = x[i + 1] - x[i] * x[i];
            s = s + a * a + hundred * b * b;
        }
        s
    }

    fn rosenbrock_num_dual<D: DualNum<Primitive = f64> + From<f64> + Clone>(x: &[D]) -> D {
        let mut s = D::from(0.0);
        for i in 0..x.len() - 1 {
            let a = D::from(1.0) - x[i].clone();
            let b = x[i + 1].clone() - x[i].clone() * x[i].clone();
            s = s + a.clone() * a + D::from(100.0) * b.clone() * b;
        }
        s
    }

    /// num-dual's gradient with n-wide duals: statically sized where n is a benchmarked size
    /// up to 100 (its fastest form), dynamically sized otherwise.
    pub fn num_dual_gradient(x: &[f64]) -> (f64, Vec<f64>) {
        fn fixed<const N: usize>(x: &[f64]) -> (f64, Vec<f64>) {
            let v = SVector::<f64, N>::from_column_slice(x);
            let (f, g) = num_dual::gradient(
                |v: SVector<DualSVec64<N>, N>| rosenbrock_num_dual(v.as_slice()),
                &v,
            );
            (f, g.as_slice().to_vec())
        }
        match x.len() {
            2 => fixed::<2>(x),
            10 => fixed::<10>(x),
            100 => fixed::<100>(x),
            _ => {
                let v = DVector::from_column_slice(x);
                let (f, g) =
                    num_dual::gradient(|v: DVector<DualDVec64>| rosenbrock_num_dual(v.as_slice()), &v);
                (f, g.as_slice().to_vec())
            }
        }
    }

    fn rosenbrock_ad_trait<T: AD>(x: &[T]) -> T {
        let one = T::constant(1.0);
        let hundred = T::constant(100.0);
        let mut s = T::constant(0.0);
        for i in 0..x.len() - 1 {
            let a = one - x[i];
            let b = x[i + 1] - x[i] * x[i];
            s = s + a * a + hundred * b * b;
        }
        s
    }

    #[derive(Clone)]
    pub struct RosenbrockAdTrait {
        pub n: usize,
    }

    impl<T: AD> DifferentiableFunctionTrait<T> for RosenbrockAdTrait {
        const NAME: &'static str = "Rosenbrock";
        fn call(&self, inputs: &[T], _freeze: bool) -> Vec<T> {
            vec![rosenbrock_ad_trait(inputs)]
        }
        fn num_inputs(&self) -> usize {
            self.n
        }
        fn num_outputs(&self) -> usize {
            1
        }
    }

    pub type AdTraitForward = FunctionEngine<RosenbrockAdTrait, RosenbrockAdTrait, ForwardAD>;
    pub type AdTraitReverse = FunctionEngine<RosenbrockAdTrait, RosenbrockAdTrait, ReverseAD>;

    pub fn ad_trait_forward(n: usize) -> AdTraitForward {
        let f = RosenbrockAdTrait { n };
        FunctionEngine::new(f.clone(), f, ForwardAD::new())
    }

    pub fn ad_trait_reverse(n: usize) -> AdTraitReverse {
        let f = RosenbrockAdTrait { n };
        FunctionEngine::new(f.clone(), f, ReverseAD::new())
    }

    /// Row 0 of ad_trait's 1×n Jacobian.
    pub fn ad_trait_gradient<D, E>(engine: &FunctionEngine<D, D, E>, x: &[f64]) -> Vec<f64>
    where
        D: DifferentiableFunctionTrait<f64> + DifferentiableFunctionTrait<E::T>,
        E: ad_trait::differentiable_function::DerivativeMethodTrait,
    {
        let (_, jac) = engine.derivative(x);
        (0..x.len()).map(|j| jac[(0, j)]).collect()
    }
}

// =============================================================================================
// Inputs and the correctness gate
// =============================================================================================

fn sizes() -> Vec<usize> {
    let spec = std::env::var("OXIDASE_BENCH_SIZES").unwrap_or_else(|_| "2,10,100,1000,10000".into());
    spec.split(',')
        .map(|s| s.trim().parse().unwrap_or_else(|_| panic!("OXIDASE_BENCH_SIZES: bad size {s:?}")))
        .collect()
}

fn point(n: usize) -> Vec<f64> {
    (0..n).map(|i| 0.5 + 0.01 * i as f64).collect()
}

/// A fixed direction with entries of both signs.
fn direction(n: usize, lane: usize) -> Vec<f64> {
    (0..n).map(|i| ((i + 3 * lane) % 7) as f64 / 3.0 - 1.0).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

#[track_caller]
fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= 1e-10 * (1.0 + b.abs()), "{what}[{i}]: {a} vs {b}");
    }
}

/// Every implementation against the hand-written adjoint (and H·v against the hand HVP).
fn check_all(x: &[f64]) {
    let n = x.len();
    let mut want = vec![0.0; n];
    let f = rosenbrock_adjoint(x, &mut want);
    assert!((rosenbrock(x) - f).abs() <= 1e-12 * f.abs());

    let mut g = vec![0.0; n];
    let y = d_rosenbrock(x, &mut g, 1.0);
    assert!((y - f).abs() <= 1e-12 * f.abs());
    assert_close("oxidase reverse", &g, &want);

    let v = direction(n, 0);
    let (y, jv) = jvp_rosenbrock(x, &v);
    assert!((y - f).abs() <= 1e-12 * f.abs());
    assert_close("oxidase jvp", &[jv], &[dot(&want, &v)]);

    let vs: Vec<Vec<f64>> = (0..LANES).map(|l| direction(n, l)).collect();
    let out = jvp8(x, &vs);
    let expected: Vec<f64> = vs.iter().map(|v| dot(&want, v)).collect();
    assert_close("oxidase jvp x8", &out[1..], &expected);

    assert_close("echidna grad", &echidna::grad(|x| peers::rosenbrock_echidna(x), x), &want);
    let (mut tape, _) = echidna::record(|x| peers::rosenbrock_echidna(x), x);
    assert_close("echidna tape", &tape.gradient(x), &want);
    assert_close("ad_trait reverse", &peers::ad_trait_gradient(&peers::ad_trait_reverse(n), x), &want);
    if n <= MAX_N_FORWARD_PEERS {
        assert_close("num-dual", &peers::num_dual_gradient(x).1, &want);
        assert_close("ad_trait forward", &peers::ad_trait_gradient(&peers::ad_trait_forward(n), x), &want);
    }

    let (mut g, mut hv, mut g2, mut hv2) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    rosenbrock_hand_hvp(x, &v, &mut g2, &mut hv2);
    assert_close("hand gradient", &g2, &want);
    hvp_rosenbrock(x, &v, &mut g, &mut hv);
    assert_close("oxidase hvp: gradient", &g, &want);
    assert_close("oxidase hvp", &hv, &hv2);
    let (eg, ehv) = tape.hvp(x, &v);
    assert_close("echidna hvp: gradient", &eg, &want);
    assert_close("echidna hvp", &ehv, &hv2);
}

fn jvp8(x: &[f64], v: &[Vec<f64>]) -> [f64; LANES + 1] {
    jvp8_rosenbrock(x, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7])
}

// =============================================================================================
// Benchmarks
// =============================================================================================

fn gradient(c: &mut Criterion) {
    let mut group = c.benchmark_group("rosenbrock_gradient");
    for n in sizes() {
        let x = point(n);
        check_all(&x);
        let id = |name: &str| BenchmarkId::new(name, n);
        let mut g = vec![0.0; n];

        group.bench_function(id("primal"), |b| b.iter(|| rosenbrock(black_box(&x))));
        group.bench_function(id("oxidase_reverse"), |b| {
            b.iter(|| {
                g.fill(0.0);
                d_rosenbrock(black_box(&x), black_box(&mut g), 1.0)
            })
        });
        let v = direction(n, 0);
        group.bench_function(id("oxidase_jvp"), |b| {
            b.iter(|| jvp_rosenbrock(black_box(&x), black_box(&v)))
        });
        let vs: Vec<Vec<f64>> = (0..LANES).map(|l| direction(n, l)).collect();
        group.bench_function(id("oxidase_jvp_x8"), |b| b.iter(|| jvp8(black_box(&x), black_box(&vs))));
        group.bench_function(id("hand_adjoint"), |b| {
            b.iter(|| {
                g.fill(0.0);
                rosenbrock_adjoint(black_box(&x), black_box(&mut g))
            })
        });
        group.bench_function(id("echidna_grad"), |b| {
            b.iter(|| echidna::grad(|x| peers::rosenbrock_echidna(x), black_box(&x)))
        });
        let (mut tape, _) = echidna::record(|x| peers::rosenbrock_echidna(x), &x);
        group.bench_function(id("echidna_tape"), |b| b.iter(|| tape.gradient(black_box(&x))));
        let rev = peers::ad_trait_reverse(n);
        group.bench_function(id("ad_trait_reverse"), |b| b.iter(|| rev.derivative(black_box(&x))));
        if n <= MAX_N_FORWARD_PEERS {
            group.bench_function(id("num_dual"), |b| b.iter(|| peers::num_dual_gradient(black_box(&x))));
            let fwd = peers::ad_trait_forward(n);
            group.bench_function(id("ad_trait_forward"), |b| b.iter(|| fwd.derivative(black_box(&x))));
        }
    }
    group.finish();
}

fn hvp(c: &mut Criterion) {
    let mut group = c.benchmark_group("rosenbrock_hvp");
    for n in sizes() {
        let x = point(n);
        let v = direction(n, 0);
        let id = |name: &str| BenchmarkId::new(name, n);
        let (mut g, mut hv) = (vec![0.0; n], vec![0.0; n]);

        group.bench_function(id("primal"), |b| b.iter(|| rosenbrock(black_box(&x))));
        group.bench_function(id("oxidase_hvp"), |b| {
            b.iter(|| hvp_rosenbrock(black_box(&x), black_box(&v), black_box(&mut g), black_box(&mut hv)))
        });
        group.bench_function(id("hand_hvp"), |b| {
            b.iter(|| rosenbrock_hand_hvp(black_box(&x), black_box(&v), black_box(&mut g), black_box(&mut hv)))
        });
        let (tape, _) = echidna::record(|x| peers::rosenbrock_echidna(x), &x);
        group.bench_function(id("echidna_tape_hvp"), |b| b.iter(|| tape.hvp(black_box(&x), black_box(&v))));
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = gradient, hvp
}
criterion_main!(benches);
