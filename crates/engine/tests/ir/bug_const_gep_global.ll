; ENGINE BUG (test ignored): a pointer that may point into a constant global through a constant
; GEP expression (what rustc emits for `&TABLE[1..]`) is rejected, while the plain global works
; (select.ll @select_global gets a zero shadow global). `require_rec` in activity.rs handles
; GlobalVariable but not a ConstantExpr GEP/bitcast of one, and the message says data is
; "written" although it is only read:
;   derivative data is written through a pointer whose origin cannot be shadowed:
;   `ptr getelementptr inbounds (i8, ptr @TABLE, i64 8)` (in `%p = select i1 %c, ptr %a, ...`)
; Expected: the constant expression is shadowed by the same GEP into the zero shadow global;
; at x = 0.75 (p = &TABLE[1]) d/dx = TABLE[1] = 7.
;
; FWD: @select_const_gep width=1 args=dual,dual
; AT: @select_const_gep [2.0, 3.0], -1.5
; AT: @select_const_gep [2.0, 3.0], 0.75
; EXPECT: @select_const_gep args=dual,dual at [2.0, 3.0], 0.75 seed [0.0, 0.0], 1.0 => 7.0, 0.0, 0.0

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

@TABLE = private unnamed_addr constant [3 x double] [double 5.0, double 7.0, double 11.0]

; (x < 0 ? a : &TABLE[1])[0] * x
define double @select_const_gep(ptr %a, double %x) {
  %c = fcmp olt double %x, 0.0
  %p = select i1 %c, ptr %a, ptr getelementptr inbounds (i8, ptr @TABLE, i64 8)
  %v = load double, ptr %p, align 8
  %r = fmul double %v, %x
  ret double %r
}
