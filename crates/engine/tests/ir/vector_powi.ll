; Regression (was an engine bug): `llvm.powi` on a vector with a non-constant exponent. The rule's
; `IntX(1)` (forward.rs `eval`) emits `sitofp i32 %n to <4 x double>`, a scalar-to-vector cast
; the verifier rejects:
;   SIToFP source and dest must both be vector or scalar
;     %7 = sitofp i32 %2 to <4 x double>
; and the engine reports "oxidase generated an invalid derivative (internal error)".
; With a constant exponent the cast constant-folds to a splat and works (vector.ll @vpowi3).
; Expected: splat the converted exponent (sitofp to the element type, then a vector splat).
;
; FWD: @vpowi_n width=1 args=dual,const
; AT: @vpowi_n 0.7, 3
; EXPECT: @vpowi_n args=dual,const at 2.0, 3 seed 1.0 => 12.0

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare <4 x double> @llvm.powi.v4f64.i32(<4 x double>, i32)

define double @vpowi_n(double %x, i32 %n) {
  %v0 = insertelement <4 x double> poison, double %x, i32 0
  %v = shufflevector <4 x double> %v0, <4 x double> poison, <4 x i32> zeroinitializer
  %p = call <4 x double> @llvm.powi.v4f64.i32(<4 x double> %v, i32 %n)
  %e = extractelement <4 x double> %p, i32 2
  ret double %e
}
