; fcmp + select, including selects between an active and a constant value and between pointers.
;
; FWD: @pick width=1 args=dual,dual
; FWD: @pick width=2 args=dual,dual
; AT: @pick 2.0, 1.0
; AT: @pick 0.5, 1.5
; EXPECT: @pick args=dual,dual at 2.0, 1.0 seed 1.0, 1.0 => 4.0
; EXPECT: @pick args=dual,dual at 0.5, 1.5 seed 1.0, 1.0 => 3.0
;
; FWD: @clamp width=1 args=dual,const,const
; FWD: @clamp width=1 args=dual,dual,dual
; AT: @clamp 0.5, 0.0, 1.0
; AT: @clamp -1.0, 0.0, 1.0
; AT: @clamp 2.0, 0.0, 1.0
; EXPECT: @clamp args=dual,const,const at 2.0, 0.0, 1.0 seed 1.0 => 1.0
; EXPECT: @clamp args=dual,const,const at 0.5, 0.0, 1.0 seed 1.0 => 1.0
;
; FWD: @relu width=1 args=dual
; AT: @relu 1.5
; AT: @relu -0.5
;
; FWD: @select_ptr width=1 args=dual,dual,dual
; AT: @select_ptr [2.0], [3.0], -1.5
; AT: @select_ptr [2.0], [3.0], 0.75

;
; FWD: @select_global width=1 args=dual,dual
; AT: @select_global [2.0, 3.0], -1.5
; AT: @select_global [2.0, 3.0], 0.75
; EXPECT: @select_global args=dual,dual at [2.0, 3.0], 0.75 seed [0.0, 0.0], 1.0 => 12.0, 0.0, 0.0
; FWD: @vselect width=1 args=dual,dual
; AT: @vselect 0.5, -2.0
; AT: @vselect -0.5, 2.0
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; x > y ? x*x : 3y
define double @pick(double %x, double %y) {
  %c = fcmp ogt double %x, %y
  %a = fmul double %x, %x
  %b = fmul double %y, 3.0
  %r = select i1 %c, double %a, double %b
  ret double %r
}

; clamp(x, lo, hi) * x
define double @clamp(double %x, double %lo, double %hi) {
  %c1 = fcmp olt double %x, %lo
  %t = select i1 %c1, double %lo, double %x
  %c2 = fcmp ogt double %t, %hi
  %r = select i1 %c2, double %hi, double %t
  %s = fmul double %r, %x
  ret double %s
}

define double @relu(double %x) {
  %c = fcmp olt double %x, 0.0
  %r = select i1 %c, double 0.0, double %x
  ret double %r
}
; CHECK-LABEL: define internal { double, double } @relu.oxidase.fwd{{[0-9]+}}(double %0, double %1)
; CHECK: select i1 %{{[0-9]+}}, double 0.000000e+00, double %1

; (x < 0 ? *a : *b) * x
define double @select_ptr(ptr %a, ptr %b, double %x) {
  %c = fcmp olt double %x, 0.0
  %p = select i1 %c, ptr %a, ptr %b
  %v = load double, ptr %p, align 8
  %r = fmul double %v, %x
  ret double %r
}

@TABLE = private unnamed_addr constant [2 x double] [double 5.0, double 7.0]

; p = x < 0 ? a : TABLE; (p[0] + p[1]) * x: the constant global gets a zero shadow
define double @select_global(ptr %a, double %x) {
  %c = fcmp olt double %x, 0.0
  %p = select i1 %c, ptr %a, ptr @TABLE
  %v0 = load double, ptr %p, align 8
  %p1 = getelementptr inbounds double, ptr %p, i64 1
  %v1 = load double, ptr %p1, align 8
  %s = fadd double %v0, %v1
  %r = fmul double %s, %x
  ret double %r
}

; a vector select with a vector condition
define double @vselect(double %x, double %y) {
  %v0 = insertelement <2 x double> poison, double %x, i32 0
  %v1 = insertelement <2 x double> %v0, double %y, i32 1
  %sq = fmul <2 x double> %v1, %v1
  %neg = fneg <2 x double> %v1
  %c = fcmp olt <2 x double> %v1, zeroinitializer
  %s = select <2 x i1> %c, <2 x double> %sq, <2 x double> %neg
  %e0 = extractelement <2 x double> %s, i32 0
  %e1 = extractelement <2 x double> %s, i32 1
  %r = fmul double %e0, %e1
  ret double %r
}
