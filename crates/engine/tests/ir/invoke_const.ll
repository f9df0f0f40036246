; An invoke whose arguments are all constant, returning a value that later meets
; differentiated data.
;
; FWD: @inv_const width=1 args=dual,const
; AT: @inv_const 1.5, 3.0
; EXPECT: @inv_const args=dual,const at 2.0, 3.0 seed 1.0 => 9.0

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare i32 @__gxx_personality_v0(...)

define double @may_throw(double %x) {
  %r = fmul double %x, %x
  ret double %r
}

; may_throw(k) * x with k constant
define double @inv_const(double %x, double %k) personality ptr @__gxx_personality_v0 {
entry:
  %c = invoke double @may_throw(double %k)
          to label %ok unwind label %lp

ok:
  %s = fmul double %c, %x
  ret double %s

lp:
  %l = landingpad { ptr, i32 }
          cleanup
  resume { ptr, i32 } %l
}
