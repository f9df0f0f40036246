; Float instructions in reverse mode, each from its row of the rules table.
;
; REV: @quot args=active,active ret=active
; AT: @quot 1.5, 2.0
; AT: @quot -0.7, 3.25
; REV: @arith args=active,active ret=active
; AT: @arith 1.5, 2.0
; AT: @arith 7.3, -1.75
; REV: @relu args=active ret=active
; AT: @relu 0.5
; AT: @relu -0.5
; REV: @mixed args=active ret=active tol=1e-2
; AT: @mixed 0.3
; REV: @lanes args=dup ret=active
; AT: @lanes [1, 2, 3, 4]

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; x / y: both adjoints share one division, q = ȳ/y; x̄ = q, ȳ' = -(x/y)·q.
define double @quot(double %x, double %y) {
  %q = fdiv double %x, %y
  ret double %q
}
; CHECK-LABEL: define internal { double, double, double } @quot.oxidase.rev{{[0-9]+}}(double %0, double %1, double %2)
; CHECK: fdiv double %0, %1
; CHECK: fdiv double %{{[0-9]+}}, %1
; CHECK-NOT: fdiv
; CHECK: fmul double %{{[0-9]+}}, %{{[0-9]+}}
; CHECK-NEXT: fneg double
; CHECK: ret

; (x - y)·(x + y) - frem(x, y) - (-x)
define double @arith(double %x, double %y) {
  %d = fsub double %x, %y
  %s = fadd double %x, %y
  %p = fmul double %d, %s
  %r = frem double %x, %y
  %n = fneg double %x
  %t = fsub double %p, %r
  %u = fsub double %t, %n
  ret double %u
}

; max(x, 0): the adjoint goes through one select on the primal's condition.
define double @relu(double %x) {
  %c = fcmp olt double %x, 0.0
  %r = select i1 %c, double 0.0, double %x
  ret double %r
}
; CHECK-LABEL: define internal { double, double } @relu.oxidase.rev{{[0-9]+}}(double %0, double %1)
; CHECK: select i1 %{{[0-9]+}}, double -0.000000e+00, double %{{[0-9]+}}

; f32 arithmetic in the middle of f64: fptrunc, fpext.
define double @mixed(double %x) {
  %f = fptrunc double %x to float
  %g = fmul float %f, %f
  %h = fpext float %g to double
  %k = fmul double %h, %x
  ret double %k
}
; CHECK-LABEL: @mixed.oxidase.rev
; CHECK: fpext float %{{[0-9]+}} to double

; Σ xᵢ² through vector.reduce.fadd: the adjoint is splat into every lane.
define double @lanes(ptr noalias readonly %x) {
  %v = load <4 x double>, ptr %x, align 8
  %sq = fmul <4 x double> %v, %v
  %s = call double @llvm.vector.reduce.fadd.v4f64(double -0.0, <4 x double> %sq)
  ret double %s
}
declare double @llvm.vector.reduce.fadd.v4f64(double, <4 x double>)
; CHECK-LABEL: @lanes.oxidase.rev
; CHECK: insertelement <4 x double> undef, double %{{[0-9]+}}, i32 0

; ---- report ----
; CHECK: activity of quot:
; CHECK-NEXT: active   argument double %x
; CHECK-NEXT: active   argument double %y
; CHECK-NEXT: active   %q = fdiv double %x, %y
; CHECK: oxidase: reverse derivative of quot (Combined): 1 values kept in stack slots, 0 kept once per loop execution, 0 in buffers of 0 loops sized by their trip counts, 0 on the tape (0 bytes per pass through the loops), 0 recomputed
; CHECK: activity of relu:
; CHECK: constant %c = fcmp olt double %x, 0.000000e+00
; CHECK: active   %r = select i1 %c, double 0.000000e+00, double %x
