; LLVM math intrinsics: sin cos exp log sqrt pow powi fabs maxnum minnum fma fmuladd floor,
; and a few more (exp2 log2 log10 tan atan sinh cosh copysign).
;
; FWD: @m_sin width=1 args=dual
; AT: @m_sin 0.5
; AT: @m_sin -2.0
; EXPECT: @m_sin args=dual at 0.5 seed 1.0 => 0.8775825618903728
; FWD: @m_cos width=1 args=dual
; AT: @m_cos 0.5
; EXPECT: @m_cos args=dual at 0.5 seed 1.0 => -0.479425538604203
; FWD: @m_exp width=1 args=dual
; AT: @m_exp 0.5
; EXPECT: @m_exp args=dual at 0.5 seed 1.0 => 1.6487212707001282
; FWD: @m_log width=1 args=dual
; AT: @m_log 2.0
; AT: @m_log 0.01
; EXPECT: @m_log args=dual at 2.0 seed 1.0 => 0.5
; FWD: @m_sqrt width=1 args=dual
; AT: @m_sqrt 4.0
; AT: @m_sqrt 0.3
; EXPECT: @m_sqrt args=dual at 4.0 seed 1.0 => 0.25
; FWD: @m_pow width=1 args=dual,dual
; FWD: @m_pow width=1 args=const,dual
; FWD: @m_pow width=2 args=dual,dual
; AT: @m_pow 2.0, 3.0
; AT: @m_pow 0.7, -1.5
; EXPECT: @m_pow args=dual,dual at 2.0, 3.0 seed 1.0, 0.0 => 12.0
; EXPECT: @m_pow args=dual,dual at 2.0, 3.0 seed 0.0, 1.0 => 5.545177444479562
; FWD: @m_powi width=1 args=dual,const
; AT: @m_powi 2.0, 3
; AT: @m_powi -1.5, -2
; AT: @m_powi 1.7, 0
; EXPECT: @m_powi args=dual,const at 2.0, 3 seed 1.0 => 12.0
; FWD: @m_fabs width=1 args=dual
; AT: @m_fabs -1.5
; AT: @m_fabs 2.0
; EXPECT: @m_fabs args=dual at -1.5 seed 1.0 => -1.0
; EXPECT: @m_fabs args=dual at 2.0 seed 1.0 => 1.0
; FWD: @m_maxnum width=1 args=dual,dual
; AT: @m_maxnum 1.0, 2.0
; AT: @m_maxnum 3.0, -2.0
; EXPECT: @m_maxnum args=dual,dual at 1.0, 2.0 seed 1.0, 0.0 => 0.0
; EXPECT: @m_maxnum args=dual,dual at 1.0, 2.0 seed 0.0, 1.0 => 1.0
; FWD: @m_minnum width=1 args=dual,dual
; AT: @m_minnum 1.0, 2.0
; AT: @m_minnum 3.0, -2.0
; EXPECT: @m_minnum args=dual,dual at 1.0, 2.0 seed 1.0, 0.0 => 1.0
; FWD: @m_fma width=1 args=dual,dual,dual
; FWD: @m_fma width=1 args=const,dual,const
; AT: @m_fma 2.0, 3.0, 4.0
; EXPECT: @m_fma args=dual,dual,dual at 2.0, 3.0, 4.0 seed 1.0, 1.0, 1.0 => 6.0
; FWD: @m_fmuladd width=1 args=dual,dual,dual
; AT: @m_fmuladd -1.25, 0.5, 4.0
; EXPECT: @m_fmuladd args=dual,dual,dual at 2.0, 3.0, 4.0 seed 1.0, 0.0, 0.0 => 3.0
; FWD: @m_floor width=1 args=dual
; AT: @m_floor 2.5
; AT: @m_floor -0.3
; EXPECT: @m_floor args=dual at 2.5 seed 1.0 => 2.0
; FWD: @m_floor_only width=1 args=dual
; AT: @m_floor_only 2.5
; FWD: @m_more width=1 args=dual
; FWD: @m_more width=2 args=dual
; AT: @m_more 0.5
; AT: @m_more 1.3
; FWD: @m_copysign width=1 args=dual,dual
; AT: @m_copysign 1.5, -2.0
; AT: @m_copysign -1.5, 3.0
; EXPECT: @m_copysign args=dual,dual at -1.5, 3.0 seed 1.0, 1.0 => -1.0
; FWD: @m_combo width=1 args=dual,dual
; FWD: @m_combo width=2 args=dual,dual
; AT: @m_combo 0.7, 1.9
; AT: @m_combo -1.2, 0.4

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare double @llvm.sin.f64(double)
declare double @llvm.cos.f64(double)
declare double @llvm.exp.f64(double)
declare double @llvm.log.f64(double)
declare double @llvm.sqrt.f64(double)
declare double @llvm.pow.f64(double, double)
declare double @llvm.powi.f64.i32(double, i32)
declare double @llvm.fabs.f64(double)
declare double @llvm.maxnum.f64(double, double)
declare double @llvm.minnum.f64(double, double)
declare double @llvm.fma.f64(double, double, double)
declare double @llvm.fmuladd.f64(double, double, double)
declare double @llvm.floor.f64(double)
declare double @llvm.exp2.f64(double)
declare double @llvm.log2.f64(double)
declare double @llvm.log10.f64(double)
declare double @llvm.tan.f64(double)
declare double @llvm.atan.f64(double)
declare double @llvm.sinh.f64(double)
declare double @llvm.cosh.f64(double)
declare double @llvm.copysign.f64(double, double)

define double @m_sin(double %x) {
  %r = call double @llvm.sin.f64(double %x)
  ret double %r
}
; CHECK-LABEL: define internal { double, double } @m_sin.oxidase.fwd{{[0-9]+}}(double %0, double %1)
; CHECK: call double @llvm.sin.f64(double %0)
; CHECK: [[C:%[0-9]+]] = call double @llvm.cos.f64(double %0)
; CHECK: fmul double [[C]], %1

define double @m_cos(double %x) {
  %r = call double @llvm.cos.f64(double %x)
  ret double %r
}

define double @m_exp(double %x) {
  %r = call double @llvm.exp.f64(double %x)
  ret double %r
}

define double @m_log(double %x) {
  %r = call double @llvm.log.f64(double %x)
  ret double %r
}

define double @m_sqrt(double %x) {
  %r = call double @llvm.sqrt.f64(double %x)
  ret double %r
}

define double @m_pow(double %x, double %y) {
  %r = call double @llvm.pow.f64(double %x, double %y)
  ret double %r
}

define double @m_powi(double %x, i32 %n) {
  %r = call double @llvm.powi.f64.i32(double %x, i32 %n)
  ret double %r
}

define double @m_fabs(double %x) {
  %r = call double @llvm.fabs.f64(double %x)
  ret double %r
}

define double @m_maxnum(double %x, double %y) {
  %r = call double @llvm.maxnum.f64(double %x, double %y)
  ret double %r
}

define double @m_minnum(double %x, double %y) {
  %r = call double @llvm.minnum.f64(double %x, double %y)
  ret double %r
}

define double @m_fma(double %x, double %y, double %z) {
  %r = call double @llvm.fma.f64(double %x, double %y, double %z)
  ret double %r
}

define double @m_fmuladd(double %x, double %y, double %z) {
  %r = call double @llvm.fmuladd.f64(double %x, double %y, double %z)
  ret double %r
}

; floor(x) * x
define double @m_floor(double %x) {
  %f = call double @llvm.floor.f64(double %x)
  %r = fmul double %f, %x
  ret double %r
}

; floor(x): a zero tangent, folded
define double @m_floor_only(double %x) {
  %f = call double @llvm.floor.f64(double %x)
  ret double %f
}
; CHECK-LABEL: define internal { double, double } @m_floor_only.oxidase.fwd{{[0-9]+}}(double %0, double %1)
; CHECK-NOT: fmul
; CHECK: insertvalue { double, double } %{{[0-9]+}}, double 0.000000e+00, 1

; exp2(x) + log2(x+1) + log10(x+2) + tan(x) + atan(x) + sinh(x) * cosh(x)
define double @m_more(double %x) {
  %a = call double @llvm.exp2.f64(double %x)
  %x1 = fadd double %x, 1.0
  %b = call double @llvm.log2.f64(double %x1)
  %x2 = fadd double %x, 2.0
  %c = call double @llvm.log10.f64(double %x2)
  %d = call double @llvm.tan.f64(double %x)
  %e = call double @llvm.atan.f64(double %x)
  %f = call double @llvm.sinh.f64(double %x)
  %g = call double @llvm.cosh.f64(double %x)
  %fg = fmul double %f, %g
  %s1 = fadd double %a, %b
  %s2 = fadd double %s1, %c
  %s3 = fadd double %s2, %d
  %s4 = fadd double %s3, %e
  %s5 = fadd double %s4, %fg
  ret double %s5
}

define double @m_copysign(double %x, double %y) {
  %r = call double @llvm.copysign.f64(double %x, double %y)
  ret double %r
}

; exp(sin(x) * y) + log(sqrt(x*x + y*y)) + pow(|x|, 0.5) * maxnum(x, y)
define double @m_combo(double %x, double %y) {
  %s = call double @llvm.sin.f64(double %x)
  %sy = fmul double %s, %y
  %e = call double @llvm.exp.f64(double %sy)
  %xx = fmul double %x, %x
  %n = call double @llvm.fmuladd.f64(double %y, double %y, double %xx)
  %r = call double @llvm.sqrt.f64(double %n)
  %l = call double @llvm.log.f64(double %r)
  %a = call double @llvm.fabs.f64(double %x)
  %p = call double @llvm.pow.f64(double %a, double 5.000000e-01)
  %m = call double @llvm.maxnum.f64(double %x, double %y)
  %pm = fmul double %p, %m
  %t = fadd double %e, %l
  %u = fadd double %t, %pm
  ret double %u
}
