; Declared C math functions resolved from the host libm: tanh atan2 cbrt hypot erf expm1 log1p
; (plus sin, exp and pow by their C names).
;
; FWD: @l_tanh width=1 args=dual
; AT: @l_tanh 0.5
; AT: @l_tanh -2.5
; EXPECT: @l_tanh args=dual at 0.5 seed 1.0 => 0.7864477329659274
; FWD: @l_atan2 width=1 args=dual,dual
; FWD: @l_atan2 width=2 args=dual,dual
; AT: @l_atan2 1.0, 2.0
; AT: @l_atan2 -0.5, -3.0
; EXPECT: @l_atan2 args=dual,dual at 1.0, 2.0 seed 1.0, 0.0 => 0.4
; EXPECT: @l_atan2 args=dual,dual at 1.0, 2.0 seed 0.0, 1.0 => -0.2
; FWD: @l_cbrt width=1 args=dual
; AT: @l_cbrt 8.0
; AT: @l_cbrt -0.2
; EXPECT: @l_cbrt args=dual at 8.0 seed 1.0 => 0.08333333333333333
; FWD: @l_hypot width=1 args=dual,dual
; AT: @l_hypot 3.0, 4.0
; AT: @l_hypot -0.1, 2.0
; EXPECT: @l_hypot args=dual,dual at 3.0, 4.0 seed 1.0, 0.0 => 0.6
; EXPECT: @l_hypot args=dual,dual at 3.0, 4.0 seed 0.0, 1.0 => 0.8
; FWD: @l_erf width=1 args=dual
; AT: @l_erf 0.5
; AT: @l_erf -1.7
; EXPECT: @l_erf args=dual at 0.5 seed 1.0 => 0.8787825789354448
; FWD: @l_expm1 width=1 args=dual
; AT: @l_expm1 0.5
; AT: @l_expm1 1e-3
; EXPECT: @l_expm1 args=dual at 0.5 seed 1.0 => 1.6487212707001282
; FWD: @l_log1p width=1 args=dual
; AT: @l_log1p 1.0
; AT: @l_log1p -0.4
; EXPECT: @l_log1p args=dual at 1.0 seed 1.0 => 0.5
; FWD: @l_mix width=1 args=dual,dual
; FWD: @l_mix width=3 args=dual,dual
; AT: @l_mix 0.3, 1.4
; AT: @l_mix 1.1, -0.6

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare double @tanh(double)
declare double @atan2(double, double)
declare double @cbrt(double)
declare double @hypot(double, double)
declare double @erf(double)
declare double @expm1(double)
declare double @log1p(double)
declare double @sin(double)
declare double @exp(double)
declare double @pow(double, double)

define double @l_tanh(double %x) {
  %r = call double @tanh(double %x)
  ret double %r
}
; CHECK-LABEL: define internal { double, double } @l_tanh.oxidase.fwd{{[0-9]+}}(double %0, double %1)
; CHECK: [[Y:%[0-9]+]] = call double @tanh(double %0)
; CHECK: fmul double [[Y]], [[Y]]

define double @l_atan2(double %y, double %x) {
  %r = call double @atan2(double %y, double %x)
  ret double %r
}

define double @l_cbrt(double %x) {
  %r = call double @cbrt(double %x)
  ret double %r
}

define double @l_hypot(double %x, double %y) {
  %r = call double @hypot(double %x, double %y)
  ret double %r
}

define double @l_erf(double %x) {
  %r = call double @erf(double %x)
  ret double %r
}

define double @l_expm1(double %x) {
  %r = call double @expm1(double %x)
  ret double %r
}

define double @l_log1p(double %x) {
  %r = call double @log1p(double %x)
  ret double %r
}

; pow(exp(sin(x)), y) + tanh(x*y) * erf(y) + hypot(x, cbrt(y))
define double @l_mix(double %x, double %y) {
  %s = call double @sin(double %x)
  %e = call double @exp(double %s)
  %p = call double @pow(double %e, double %y)
  %xy = fmul double %x, %y
  %t = call double @tanh(double %xy)
  %f = call double @erf(double %y)
  %tf = fmul double %t, %f
  %c = call double @cbrt(double %y)
  %h = call double @hypot(double %x, double %c)
  %a = fadd double %p, %tf
  %r = fadd double %a, %h
  ret double %r
}
