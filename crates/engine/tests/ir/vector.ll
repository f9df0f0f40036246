; <4 x double> arithmetic in a loop body, llvm.vector.reduce.fadd, insert/extractelement,
; shufflevector, vector intrinsics.
;
; FWD: @dot4 width=1 args=dual,dual,const
; FWD: @dot4 width=1 args=dual,const,const
; FWD: @dot4 width=2 args=dual,dual,const
; AT: @dot4 [1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 2.0, 0.25], 1
; AT: @dot4 [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [0.5, -1.0, 2.0, 0.25, 1.5, 1.5, -2.0, 3.0], 2
; EXPECT: @dot4 args=dual,const,const at [1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 2.0, 0.25], 1 seed [1.0, 1.0, 1.0, 1.0] => 1.75, 1.0, 1.0, 1.0, 1.0
;
; FWD: @vec_misc width=1 args=dual,dual
; FWD: @vec_misc width=3 args=dual,dual
; AT: @vec_misc 1.5, -0.75
; AT: @vec_misc 0.2, 2.0
;
; FWD: @vsin width=1 args=dual
; AT: @vsin 0.4
; EXPECT: @vsin args=dual at 0.0 seed 1.0 => 10.0

;
; FWD: @vfma width=1 args=dual,dual
; FWD: @vfma width=2 args=dual,dual
; AT: @vfma 0.7, 3.0
; EXPECT: @vfma args=dual,dual at 0.7, 3.0 seed 1.0, 0.0 => -3.0
;
; FWD: @vminmax width=1 args=dual,dual
; AT: @vminmax 0.7, -1.5
; AT: @vminmax -0.7, 0.2
;
; FWD: @vpowi3 width=1 args=dual
; AT: @vpowi3 0.7
; EXPECT: @vpowi3 args=dual at 2.0 seed 1.0 => 12.0
;
; FWD: @f32x8 width=1 args=dual
; FWD: @f32x8 width=2 args=dual
; AT: @f32x8 0.7
; EXPECT: @f32x8 args=dual at 1.0 seed 1.0 => 72.0
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare double @llvm.vector.reduce.fadd.v4f64(double, <4 x double>)
declare <4 x double> @llvm.sin.v4f64(<4 x double>)
declare <4 x double> @llvm.sqrt.v4f64(<4 x double>)

; sum over chunks of a[4c..4c+4] * b[4c..4c+4]; chunks >= 1
define double @dot4(ptr %a, ptr %b, i64 %chunks) {
entry:
  br label %loop

loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi <4 x double> [ zeroinitializer, %entry ], [ %acc1, %loop ]
  %off = mul i64 %i, 4
  %pa = getelementptr inbounds double, ptr %a, i64 %off
  %pb = getelementptr inbounds double, ptr %b, i64 %off
  %va = load <4 x double>, ptr %pa, align 8
  %vb = load <4 x double>, ptr %pb, align 8
  %m = fmul <4 x double> %va, %vb
  %acc1 = fadd <4 x double> %acc, %m
  %i1 = add i64 %i, 1
  %c = icmp ult i64 %i1, %chunks
  br i1 %c, label %loop, label %exit

exit:
  %s = call double @llvm.vector.reduce.fadd.v4f64(double -0.0, <4 x double> %acc1)
  ret double %s
}
; CHECK-LABEL: define internal { double, double } @dot4.oxidase.fwd{{[0-9]+}}(
; CHECK: phi <4 x double>
; CHECK: phi <4 x double>
; CHECK: exit:
; CHECK-COUNT-2: call double @llvm.vector.reduce.fadd.v4f64(

; builds (x, y, 2, 3), multiplies by its shuffle (y, x, 3, 2), takes sqrt lane-wise,
; then reduces starting from x and adds lane 2 and lane 0
define double @vec_misc(double %x, double %y) {
  %v0 = insertelement <4 x double> poison, double %x, i32 0
  %v1 = insertelement <4 x double> %v0, double %y, i32 1
  %v2 = insertelement <4 x double> %v1, double 2.0, i32 2
  %v3 = insertelement <4 x double> %v2, double 3.0, i32 3
  %sh = shufflevector <4 x double> %v3, <4 x double> poison, <4 x i32> <i32 1, i32 0, i32 3, i32 2>
  %p = fmul <4 x double> %v3, %sh
  %sq = fmul <4 x double> %p, %p
  %rt = call <4 x double> @llvm.sqrt.v4f64(<4 x double> %sq)
  %e0 = extractelement <4 x double> %rt, i32 0
  %e2 = extractelement <4 x double> %v3, i64 1
  %s = call double @llvm.vector.reduce.fadd.v4f64(double %x, <4 x double> %rt)
  %t = fadd double %s, %e0
  %u = fmul double %t, %e2
  ret double %u
}

; sum of sin(x * (1, 2, 3, 4))
define double @vsin(double %x) {
  %i = insertelement <4 x double> poison, double %x, i32 0
  %s = shufflevector <4 x double> %i, <4 x double> poison, <4 x i32> zeroinitializer
  %m = fmul <4 x double> %s, <double 1.0, double 2.0, double 3.0, double 4.0>
  %v = call <4 x double> @llvm.sin.v4f64(<4 x double> %m)
  %r = call double @llvm.vector.reduce.fadd.v4f64(double 0.0, <4 x double> %v)
  ret double %r
}

declare <4 x double> @llvm.fmuladd.v4f64(<4 x double>, <4 x double>, <4 x double>)
declare <2 x double> @llvm.fabs.v2f64(<2 x double>)
declare <2 x double> @llvm.maxnum.v2f64(<2 x double>, <2 x double>)
declare <4 x double> @llvm.powi.v4f64.i32(<4 x double>, i32)
declare float @llvm.vector.reduce.fadd.v8f32(float, <8 x float>)

; -(x * y + 4), lane 3 of a splat fmuladd
define double @vfma(double %x, double %y) {
  %v0 = insertelement <4 x double> poison, double %x, i32 0
  %vx = shufflevector <4 x double> %v0, <4 x double> poison, <4 x i32> zeroinitializer
  %w0 = insertelement <4 x double> poison, double %y, i32 0
  %vy = shufflevector <4 x double> %w0, <4 x double> poison, <4 x i32> zeroinitializer
  %f = call <4 x double> @llvm.fmuladd.v4f64(<4 x double> %vx, <4 x double> %vy, <4 x double> <double 1.0, double 2.0, double 3.0, double 4.0>)
  %n = fneg <4 x double> %f
  %e = extractelement <4 x double> %n, i32 3
  ret double %e
}

; lane-wise max(|v|, swap(v)), then the product of the lanes
define double @vminmax(double %x, double %y) {
  %v0 = insertelement <2 x double> poison, double %x, i32 0
  %v1 = insertelement <2 x double> %v0, double %y, i32 1
  %a = call <2 x double> @llvm.fabs.v2f64(<2 x double> %v1)
  %sw = shufflevector <2 x double> %v1, <2 x double> poison, <2 x i32> <i32 1, i32 0>
  %m = call <2 x double> @llvm.maxnum.v2f64(<2 x double> %a, <2 x double> %sw)
  %e0 = extractelement <2 x double> %m, i32 0
  %e1 = extractelement <2 x double> %m, i32 1
  %r = fmul double %e0, %e1
  ret double %r
}

; a vector powi with a constant exponent
define double @vpowi3(double %x) {
  %v0 = insertelement <4 x double> poison, double %x, i32 0
  %v = shufflevector <4 x double> %v0, <4 x double> poison, <4 x i32> zeroinitializer
  %p = call <4 x double> @llvm.powi.v4f64.i32(<4 x double> %v, i32 3)
  %e = extractelement <4 x double> %p, i32 2
  ret double %e
}

; sum over k = 1..8 of k x^2 in <8 x float>
define float @f32x8(float %x) {
  %v0 = insertelement <8 x float> poison, float %x, i32 0
  %v = shufflevector <8 x float> %v0, <8 x float> poison, <8 x i32> zeroinitializer
  %m = fmul <8 x float> %v, <float 1.0, float 2.0, float 3.0, float 4.0, float 5.0, float 6.0, float 7.0, float 8.0>
  %mm = fmul <8 x float> %m, %v
  %r = call float @llvm.vector.reduce.fadd.v8f32(float 0.0, <8 x float> %mm)
  ret float %r
}
