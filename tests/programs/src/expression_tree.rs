//! Symbolic regression's inner loop: an expression tree (`enum` with `Box`ed children and
//! float payloads) evaluated recursively at data points, the squared error summed. The tree's
//! constants are gathered in a slice so that they can be differentiated (`Duplicated`); the
//! tree shape is `Const`. Reverse mode is checked against finite differences and forward mode.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

pub enum Expr {
    /// The `k`-th tunable constant.
    Param(usize),
    X,
    Num(f64),
    Add(Box<Expr>, Box<Expr>),
    Mul(Box<Expr>, Box<Expr>),
    Sin(Box<Expr>),
    Exp(Box<Expr>),
    Pow(Box<Expr>, i32),
}

fn eval(e: &Expr, params: &[f64], x: f64) -> f64 {
    match e {
        Expr::Param(k) => params[*k],
        Expr::X => x,
        Expr::Num(c) => *c,
        Expr::Add(a, b) => eval(a, params, x) + eval(b, params, x),
        Expr::Mul(a, b) => eval(a, params, x) * eval(b, params, x),
        Expr::Sin(a) => eval(a, params, x).sin(),
        Expr::Exp(a) => eval(a, params, x).exp(),
        Expr::Pow(a, n) => eval(a, params, x).powi(*n),
    }
}

#[autodiff_reverse(d_sse, Duplicated, Const, Const, Const, Active)]
#[autodiff_forward(t_sse, Dual, Const, Const, Const, Dual)]
fn sse(params: &[f64], tree: &Expr, xs: &[f64], ys: &[f64]) -> f64 {
    xs.iter().zip(ys).map(|(&x, &y)| (eval(tree, params, x) - y).powi(2)).sum()
}

use Expr::*;
fn b(e: Expr) -> Box<Expr> {
    Box::new(e)
}

pub fn run() {
    // p0 · sin(p1 · x) + p2 · exp(-0.5 · x²) + (p3 + x)²
    let wave = Mul(b(Param(0)), b(Sin(b(Mul(b(Param(1)), b(X))))));
    let bump = Mul(b(Param(2)), b(Exp(b(Mul(b(Num(-0.5)), b(Pow(b(X), 2)))))));
    let shift = Pow(b(Add(b(Param(3)), b(X))), 2);
    let tree = Add(b(Add(b(wave), b(bump))), b(shift));
    let xs: Vec<f64> = (0..12).map(|i| -1.5 + 0.27 * i as f64).collect();
    let ys: Vec<f64> = xs.iter().map(|&x| 1.3 * (0.8 * x).sin() - 0.4 * (-0.5 * x * x).exp() + (0.2 + x).powi(2)).collect();
    let params = [1.0, 1.0, 0.0, 0.0];
    let mut dp = [0.0; 4];
    let v = d_sse(&params, &mut dp, &tree, &xs, &ys, 1.0);
    assert_close("expression_tree value", &[v], &[sse(&params, &tree, &xs, &ys)], 1e-14);
    assert_close("expression_tree fd", &dp, &fd_gradient(|p| sse(p, &tree, &xs, &ys), &params), 1e-6);
    let tp = [0.5, -1.0, 0.25, 2.0];
    let (_, t) = t_sse(&params, &tp, &tree, &xs, &ys);
    let dot: f64 = dp.iter().zip(&tp).map(|(a, b)| a * b).sum();
    assert_close("expression_tree forward vs reverse", &[t], &[dot], 1e-12);
}
