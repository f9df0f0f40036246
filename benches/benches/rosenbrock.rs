//! Rosenbrock: primal, reverse-mode gradient from `#[autodiff_reverse]`, and a hand-written
//! adjoint, for n = 10, 100, 1000. The target (issue #3): gradient ≤ 2.5 × primal for n ≥ 100.
#![feature(autodiff)]
use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use std::autodiff::autodiff_reverse;

#[autodiff_reverse(d_rosenbrock, Duplicated, Active)]
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

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("rosenbrock");
    for n in [10usize, 100, 1000] {
        let x: Vec<f64> = (0..n).map(|i| 0.5 + 0.01 * i as f64).collect();
        let mut dx = vec![0.0; n];
        // Correctness first: the generated gradient equals the hand-written adjoint.
        let mut want = vec![0.0; n];
        rosenbrock_adjoint(&x, &mut want);
        let mut got = vec![0.0; n];
        d_rosenbrock(&x, &mut got, 1.0);
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "gradient mismatch: {a} vs {b}");
        }
        g.bench_with_input(BenchmarkId::new("primal", n), &n, |b, _| b.iter(|| rosenbrock(black_box(&x))));
        g.bench_with_input(BenchmarkId::new("gradient", n), &n, |b, _| {
            b.iter(|| d_rosenbrock(black_box(&x), black_box(&mut dx), 1.0))
        });
        g.bench_with_input(BenchmarkId::new("hand_adjoint", n), &n, |b, _| {
            b.iter(|| rosenbrock_adjoint(black_box(&x), black_box(&mut dx)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
