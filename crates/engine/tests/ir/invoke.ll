; invoke / landingpad: an invoke of a defined function on differentiated data (its derivative is
; invoked with the same unwind destination), a phi after the normal destination, and an invoke
; on constant data whose result is used by differentiated code.
;
; FWD: @inv width=1 args=dual
; FWD: @inv width=2 args=dual
; AT: @inv 1.5
; AT: @inv -0.25
; EXPECT: @inv args=dual at 2.0 seed 1.0 => 12.0
;
; FWD: @inv_phi width=1 args=dual,const
; AT: @inv_phi 1.5, 1
; AT: @inv_phi 1.5, 0
; EXPECT: @inv_phi args=dual,const at 2.0, 1 seed 1.0 => 12.0
; EXPECT: @inv_phi args=dual,const at 2.0, 0 seed 1.0 => 1.0

;
; FWD: @inv_const width=1 args=dual,const
; FWD: @inv_const width=2 args=dual,const
; AT: @inv_const 1.5, 3.0
; EXPECT: @inv_const args=dual,const at 2.0, 3.0 seed 1.0 => 9.0
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare i32 @__gxx_personality_v0(...)

define double @may_throw(double %x) {
  %r = fmul double %x, %x
  ret double %r
}

; may_throw(x) * x
define double @inv(double %x) personality ptr @__gxx_personality_v0 {
entry:
  %r = invoke double @may_throw(double %x)
          to label %ok unwind label %lp

ok:
  %s = fmul double %r, %x
  ret double %s

lp:
  %l = landingpad { ptr, i32 }
          cleanup
  resume { ptr, i32 } %l
}
; CHECK-LABEL: define internal { double, double } @inv.oxidase.fwd{{[0-9]+}}(double %0, double %1) personality ptr @__gxx_personality_v0
; CHECK: invoke { double, double } @may_throw.oxidase.fwd{{[0-9]+}}(double %0, double %1)
; CHECK-NEXT: to label %invoke.cont unwind label %lp
; CHECK: landingpad { ptr, i32 }

; k != 0: may_throw(x) * x, else x; merged by a phi
define double @inv_phi(double %x, i32 %k) personality ptr @__gxx_personality_v0 {
entry:
  %c = icmp ne i32 %k, 0
  br i1 %c, label %call, label %join

call:
  %r = invoke double @may_throw(double %x)
          to label %ok unwind label %lp

ok:
  %m = fmul double %r, %x
  br label %join

join:
  %v = phi double [ %m, %ok ], [ %x, %entry ]
  ret double %v

lp:
  %l = landingpad { ptr, i32 }
          cleanup
  resume { ptr, i32 } %l
}

; an invoke whose arguments are all constant (copied as is), its result meeting a Dual value:
; may_throw(k) * x
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
; CHECK-LABEL: define internal { double, double } @inv_const.oxidase.fwd{{[0-9]+}}(double %0, double %1, double %2)
; CHECK: [[C:%[0-9]+]] = invoke double @may_throw(double %2)
; CHECK: fmul double [[C]], %1
