//! The gradient-descent solver shared by `particle` and `saddle` (§3.11, upstream
//! `cpp/gradbench/gd.hpp`), reproduced operation by operation: the expected constants depend on
//! it. Fixed-size arrays only (no allocation), so that it can itself be differentiated.

#[inline(always)]
fn magnitude<const N: usize>(v: &[f64; N]) -> f64 {
    let mut acc = 0.0;
    for &x in v {
        acc += x * x;
    }
    acc.sqrt()
}

#[inline(always)]
fn dist<const N: usize>(u: &[f64; N], v: &[f64; N]) -> f64 {
    let mut acc = 0.0;
    for i in 0..N {
        acc += (u[i] - v[i]) * (u[i] - v[i]);
    }
    acc.sqrt()
}

/// argmin of `f` (gradient `g`) from `x0`.
#[inline(always)]
pub fn argmin<const N: usize>(f: impl Fn(&[f64; N]) -> f64, g: impl Fn(&[f64; N]) -> [f64; N], x0: [f64; N]) -> [f64; N] {
    let mut x = x0;
    let mut fx = f(&x);
    let mut gx = g(&x);
    let mut i = 0;
    let mut eta = 1e-5;
    loop {
        if magnitude(&gx) <= 1e-5 {
            return x;
        } else if i == 10 {
            eta *= 2.0;
            i = 0;
        } else {
            let mut xp = [0.0; N];
            for j in 0..N {
                xp[j] = x[j] - eta * gx[j];
            }
            if dist(&x, &xp) <= 1e-5 {
                return x;
            }
            let fxp = f(&xp);
            if fxp < fx {
                x = xp;
                fx = fxp;
                gx = g(&x);
                i += 1;
            } else {
                eta /= 2.0;
                i = 0;
            }
        }
    }
}

/// argmax of `f` (gradient `g`): argmin of −f with gradient −g.
#[inline(always)]
pub fn argmax<const N: usize>(f: impl Fn(&[f64; N]) -> f64, g: impl Fn(&[f64; N]) -> [f64; N], x0: [f64; N]) -> [f64; N] {
    argmin(
        |x| -f(x),
        |x| {
            let mut d = g(x);
            for v in d.iter_mut() {
                *v *= -1.0;
            }
            d
        },
        x0,
    )
}
