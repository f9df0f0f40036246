; Scalar float arithmetic: fadd, fsub, fmul, fdiv, fneg, frem; folding of known-zero tangents.
;
; FWD: @poly width=1 args=dual,dual
; FWD: @poly width=1 args=dual,const
; FWD: @poly width=1 args=const,dual
; FWD: @poly width=3 args=dual,dual
; AT: @poly 1.5, 2.0
; AT: @poly -0.7, 3.25
; AT: @poly 12.5, -0.125
; EXPECT: @poly args=dual,const at 2.0, 3.0 seed 1.0 => 11.666666666666666
; EXPECT: @poly args=const,dual at 2.0, 3.0 seed 1.0 => 3.2222222222222223
; EXPECT: @poly args=dual,dual at 2.0, 3.0 seed 1.0, 2.0 => 18.11111111111111
;
; FWD: @rem width=1 args=dual,dual
; FWD: @rem width=2 args=dual,dual
; AT: @rem 7.3, 2.0
; AT: @rem -7.3, 2.0
; AT: @rem 5.5, -1.75
; EXPECT: @rem args=dual,dual at 7.3, 2.0 seed 1.0, 0.0 => 1.0
; EXPECT: @rem args=dual,dual at 7.3, 2.0 seed 0.0, 1.0 => -3.0
; EXPECT: @rem args=dual,dual at -7.3, 2.0 seed 0.0, 1.0 => 3.0
;
; FWD: @lin width=1 args=dual,const
; AT: @lin 0.3, 4.0
; FWD: @mulc width=1 args=dual,const
; AT: @mulc 0.3, 4.0
; FWD: @konst width=1 args=dual,const
; AT: @konst 0.3, 4.0
; FWD: @konst width=2 args=dual,dual
; AT: @konst 0.3, 4.0
; EXPECT: @konst args=dual,const at 0.3, 4.0 seed 1.0 => 0.0
; FWD: @quot width=2 args=const,dual
; AT: @quot 3.0, 0.5
; AT: @quot -2.0, 7.0

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; x*x*y - x/y - y
define double @poly(double %x, double %y) {
  %xx = fmul double %x, %x
  %xxy = fmul double %xx, %y
  %q = fdiv double %x, %y
  %d = fsub double %xxy, %q
  %ny = fneg double %y
  %r = fadd double %d, %ny
  ret double %r
}

; frem x, y, then scaled
define double @rem(double %x, double %y) {
  %r = frem double %x, %y
  %s = fmul double %r, 1.0
  ret double %s
}

; (x - c) + c: the tangent is dx itself, no arithmetic.
define double @lin(double %x, double %c) {
  %a = fsub double %x, %c
  %b = fadd double %a, %c
  ret double %b
}
; CHECK-LABEL: define internal { double, double } @lin.oxidase.fwd{{[0-9]+}}(double %0, double %1, double %2)
; CHECK-NOT: fmul
; CHECK: insertvalue { double, double } %{{[0-9]+}}, double %1, 1
; CHECK-NEXT: ret { double, double }

; x * c with c constant: the primal fmul and one tangent fmul, nothing else.
define double @mulc(double %x, double %c) {
  %r = fmul double %x, %c
  ret double %r
}
; CHECK-LABEL: define internal { double, double } @mulc.oxidase.fwd{{[0-9]+}}(
; CHECK-COUNT-2: fmul double
; CHECK-NOT: {{fmul|fadd|fsub}}
; CHECK: ret { double, double }

; c*c + 1: independent of x, the tangent is the constant 0.
define double @konst(double %x, double %c) {
  %cc = fmul double %c, %c
  %r = fadd double %cc, 1.0
  ret double %r
}
; CHECK-LABEL: define internal { double, double } @konst.oxidase.fwd{{[0-9]+}}(double %0, double %1, double %2)
; CHECK-COUNT-1: fmul double
; CHECK-NOT: fmul
; CHECK: insertvalue { double, double } %{{[0-9]+}}, double 0.000000e+00, 1
; CHECK-NEXT: ret { double, double }

; a / b with a constant
define double @quot(double %a, double %b) {
  %q = fdiv double %a, %b
  %n = fneg double %q
  ret double %n
}
