; Regression (was an engine bug): intrinsics that take a float and return an integer or a flag
; (llvm.fptosi.sat / llvm.fptoui.sat — what Rust's `x as i32` lowers to —, llvm.lround,
; llvm.is.fpclass) have no derivative rule, so a Dual operand makes `classify` return
; CallKind::External and the request fails with
;   "call to `llvm.fptosi.sat.i32.f64`, which has no body in this program and no derivative rule".
; Expected: the result is an integer, so it carries no tangent; the call should be copied as is
; (like the `fptosi` instruction) and the derivatives below are floor-like: d/dx = n.
;
; FWD: @cast_sat width=1 args=dual
; AT: @cast_sat 2.5
; EXPECT: @cast_sat args=dual at 2.5 seed 1.0 => 2.0
; FWD: @cast_usat width=1 args=dual
; AT: @cast_usat 3.25
; FWD: @rounded width=1 args=dual
; AT: @rounded 2.3
; EXPECT: @rounded args=dual at 2.3 seed 1.0 => 2.0
; FWD: @nan_guard width=1 args=dual
; AT: @nan_guard 2.5
; EXPECT: @nan_guard args=dual at 2.5 seed 1.0 => 5.0

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare i32 @llvm.fptosi.sat.i32.f64(double)
declare i32 @llvm.fptoui.sat.i32.f64(double)
declare i64 @llvm.lround.i64.f64(double)
declare i1 @llvm.is.fpclass.f64(double, i32 immarg)

; (x as i32) as f64 * x
define double @cast_sat(double %x) {
  %i = call i32 @llvm.fptosi.sat.i32.f64(double %x)
  %f = sitofp i32 %i to double
  %r = fmul double %f, %x
  ret double %r
}

define double @cast_usat(double %x) {
  %i = call i32 @llvm.fptoui.sat.i32.f64(double %x)
  %f = uitofp i32 %i to double
  %r = fmul double %f, %x
  ret double %r
}

define double @rounded(double %x) {
  %i = call i64 @llvm.lround.i64.f64(double %x)
  %f = sitofp i64 %i to double
  %r = fmul double %f, %x
  ret double %r
}

; if x.is_nan() { 0 } else { x * x }
define double @nan_guard(double %x) {
  %nan = call i1 @llvm.is.fpclass.f64(double %x, i32 3)
  %xx = fmul double %x, %x
  %r = select i1 %nan, double 0.0, double %xx
  ret double %r
}
