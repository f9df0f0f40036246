; Regression (was an engine bug): an integer read from shadowed memory is "active" (it carries a
; shadow of the same bits, in case it is a float in disguise), so when it reaches an operand
; whose partial is `Inactive` — here powi's exponent — the request fails with
;   "a differentiated value flows into operand 1 of `%r = call double @llvm.powi.f64.i32(...)`,
;    which is not differentiable".
; This is what `fn f(p: &Params) -> f64 { p.x.powi(p.n) }` with `p` Duplicated looks like.
; Expected: an integer operand with an Inactive partial contributes nothing; d/dx = n x^(n-1).
;
; FWD: @powi_from_memory width=1 args=dual,dual
; AT: @powi_from_memory [1.5], i64[3]
; EXPECT: @powi_from_memory args=dual,dual at [2.0], i64[3] seed [1.0], i64[0] => 12.0, 1.0

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare double @llvm.powi.f64.i32(double, i32)

define double @powi_from_memory(ptr %xs, ptr %ns) {
  %x = load double, ptr %xs, align 8
  %n = load i32, ptr %ns, align 8
  %r = call double @llvm.powi.f64.i32(double %x, i32 %n)
  ret double %r
}
