; ENGINE BUG (test ignored; the derivative CRASHES — SIGSEGV — which run_isolated reports):
; a defined callee with a Dual argument that returns a pointer to a constant global. The caller
; marks the returned pointer active and dereferences its shadow, but the callee's derivative
; returns `{ ptr @TABLE, ptr null }`: a constant global returned (rather than stored or merged
; by a phi/select) is never added to `shadow_globals`, so its tangent is `tan_or_zero` = null.
;   define internal { ptr, ptr } @table.oxidase.fwd1(double %0, double %1) {
;     ret { ptr, ptr } { ptr @TABLE, ptr null }
;   }
; Expected: the shadow is the zero shadow global `@TABLE.oxidase.shadow`; d/dx = TABLE[0] = 5.
;
; FWD: @table_caller width=1 args=dual
; AT: @table_caller 1.5
; EXPECT: @table_caller args=dual at 1.5 seed 1.0 => 5.0

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

@TABLE = private unnamed_addr constant [2 x double] [double 5.0, double 7.0]

; fn table(_x: f64) -> &'static [f64; 2]
define ptr @table(double %x) {
  ret ptr @TABLE
}

; table(x)[0] * x
define double @table_caller(double %x) {
  %p = call ptr @table(double %x)
  %v = load double, ptr %p, align 8
  %r = fmul double %v, %x
  ret double %r
}
