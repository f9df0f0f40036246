; insertvalue / extractvalue; functions returning { double, double } and nested aggregates.
;
; FWD: @cmul width=1 args=dual,dual,dual,dual
; FWD: @cmul width=1 args=dual,dual,const,const
; FWD: @cmul width=2 args=dual,dual,dual,dual
; AT: @cmul 1.5, -0.5, 2.0, 0.25
; AT: @cmul -3.0, 4.0, 0.5, -1.0
; EXPECT: @cmul args=dual,dual,const,const at 1.0, 2.0, 3.0, 4.0 seed 1.0, 0.0 => 3.0, 4.0
; EXPECT: @cmul args=dual,dual,const,const at 1.0, 2.0, 3.0, 4.0 seed 0.0, 1.0 => -4.0, 3.0
;
; FWD: @polar width=1 args=dual,dual
; FWD: @polar width=2 args=dual,dual
; AT: @polar 2.0, 0.5
; AT: @polar 0.3, -2.5
; EXPECT: @polar args=dual,dual at 2.0, 0.0 seed 0.0, 1.0 => 0.0, 2.0
;
; FWD: @abs_sq width=1 args=dual,dual
; AT: @abs_sq 1.5, -0.5
; EXPECT: @abs_sq args=dual,dual at 3.0, 4.0 seed 1.0, 0.0 => 0.6
;
; FWD: @nested width=1 args=dual,const
; AT: @nested 1.25, 3
; EXPECT: @nested args=dual,const at 2.0, 3 seed 1.0 => 1.0, 4.0, 1.0
;
; FWD: @swap width=1 args=dual,dual
; AT: @swap 1.0, 2.0

;
; FWD: @agg_phi width=1 args=dual,const
; FWD: @agg_phi width=2 args=dual,const
; AT: @agg_phi 1.5, 1
; AT: @agg_phi 1.5, 0
; EXPECT: @agg_phi args=dual,const at 1.5, 1 seed 1.0 => 6.75
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare double @llvm.cos.f64(double)
declare double @llvm.sin.f64(double)
declare double @llvm.sqrt.f64(double)

; (a + bi)(c + di)
define { double, double } @cmul(double %a, double %b, double %c, double %d) {
  %ac = fmul double %a, %c
  %bd = fmul double %b, %d
  %re = fsub double %ac, %bd
  %ad = fmul double %a, %d
  %bc = fmul double %b, %c
  %im = fadd double %ad, %bc
  %r0 = insertvalue { double, double } undef, double %re, 0
  %r1 = insertvalue { double, double } %r0, double %im, 1
  ret { double, double } %r1
}
; CHECK-LABEL: define internal { { double, double }, { double, double } } @cmul.oxidase.fwd{{[0-9]+}}(
; CHECK: insertvalue { double, double } zeroinitializer, double %{{[0-9]+}}, 0
; CHECK: ret { { double, double }, { double, double } }

; r (cos t, sin t)
define { double, double } @polar(double %r, double %t) {
  %c = call double @llvm.cos.f64(double %t)
  %s = call double @llvm.sin.f64(double %t)
  %x = fmul double %r, %c
  %y = fmul double %r, %s
  %p0 = insertvalue { double, double } poison, double %x, 0
  %p1 = insertvalue { double, double } %p0, double %y, 1
  ret { double, double } %p1
}

; |z| through a call returning an aggregate and extractvalue
define double @abs_sq(double %a, double %b) {
  %z = call { double, double } @cmul(double %a, double %b, double %a, double %b)
  %re = extractvalue { double, double } %z, 0
  %im = extractvalue { double, double } %z, 1
  %re2 = fmul double %re, %re
  %im2 = fmul double %im, %im
  %n = fadd double %re2, %im2
  %r = call double @llvm.sqrt.f64(double %n)
  %rr = call double @llvm.sqrt.f64(double %r)
  ret double %rr
}

; { x, k, [x*x, x] }: a nested aggregate with an integer field
define { double, i32, [2 x double] } @nested(double %x, i32 %k) {
  %xx = fmul double %x, %x
  %a0 = insertvalue [2 x double] undef, double %xx, 0
  %a1 = insertvalue [2 x double] %a0, double %x, 1
  %s0 = insertvalue { double, i32, [2 x double] } undef, double %x, 0
  %s1 = insertvalue { double, i32, [2 x double] } %s0, i32 %k, 1
  %s2 = insertvalue { double, i32, [2 x double] } %s1, [2 x double] %a1, 2
  ret { double, i32, [2 x double] } %s2
}

; { y*x, x } built in the opposite order, extracting from an intermediate
define { double, double } @swap(double %x, double %y) {
  %p0 = insertvalue { double, double } undef, double %x, 0
  %p1 = insertvalue { double, double } %p0, double %y, 1
  %a = extractvalue { double, double } %p1, 0
  %b = extractvalue { double, double } %p1, 1
  %ab = fmul double %a, %b
  %q0 = insertvalue { double, double } %p1, double %ab, 0
  %q1 = insertvalue { double, double } %q0, double %a, 1
  ret { double, double } %q1
}

; a phi of aggregates: k != 0 ? x * x^2 : x * 2
define double @agg_phi(double %x, i32 %k) {
entry:
  %s0 = insertvalue { double, double } undef, double %x, 0
  %s1 = insertvalue { double, double } %s0, double 2.0, 1
  %c = icmp ne i32 %k, 0
  br i1 %c, label %t, label %join

t:
  %xx = fmul double %x, %x
  %s2 = insertvalue { double, double } %s1, double %xx, 1
  br label %join

join:
  %s = phi { double, double } [ %s1, %entry ], [ %s2, %t ]
  %a = extractvalue { double, double } %s, 0
  %b = extractvalue { double, double } %s, 1
  %r = fmul double %a, %b
  ret double %r
}
