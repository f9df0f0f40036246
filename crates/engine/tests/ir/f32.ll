; f32 arithmetic, float <-> double conversions, float buffers, f32 intrinsics and libm.
;
; FWD: @f32poly width=1 args=dual,dual
; FWD: @f32poly width=2 args=dual,dual
; AT: @f32poly 1.5, 2.0
; AT: @f32poly -0.75, 3.5
; EXPECT: @f32poly args=dual,const at 2.0, 4.0 seed 1.0 => 16.25
;
; FWD: @f32mixed width=1 args=dual,dual
; AT: @f32mixed 0.5, 1.25
; EXPECT: @f32mixed args=dual,dual at 0.5, 2.0 seed 0.0, 1.0 => 0.5
;
; FWD: @f32sum width=1 args=dual,const,dual
; FWD: @f32sum width=2 args=dual,const,dual
; AT: @f32sum f32[1.0, -2.0, 0.5], 3, 1.5
; EXPECT: @f32sum args=dual,const,dual at f32[1.0, -2.0, 0.5], 3, 1.5 seed f32[0.0, 0.0, 0.0], 1.0 => -0.5, 0.0, 0.0, 0.0
;
; FWD: @f32libm width=1 args=dual
; AT: @f32libm 0.4
; AT: @f32libm -1.1
;
; FWD: @f32scale width=1 args=dual,dual
; AT: @f32scale f32[1.0, 2.0, 3.0], 0.5

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare float @llvm.sin.f32(float)
declare float @llvm.fmuladd.f32(float, float, float)
declare float @llvm.sqrt.f32(float)
declare float @expf(float)
declare float @tanhf(float)

; x*x*y + x/y - y
define float @f32poly(float %x, float %y) {
  %xx = fmul float %x, %x
  %xxy = fmul float %xx, %y
  %q = fdiv float %x, %y
  %a = fadd float %xxy, %q
  %r = fsub float %a, %y
  ret float %r
}
; CHECK-LABEL: define internal { float, float } @f32poly.oxidase.fwd{{[0-9]+}}(float %0, float %1, float %2, float %3)
; CHECK: fmul float
; CHECK: ret { float, float }

; fptrunc(fpext(x) * y) + sin(x)
define float @f32mixed(float %x, double %y) {
  %xd = fpext float %x to double
  %m = fmul double %xd, %y
  %mf = fptrunc double %m to float
  %s = call float @llvm.sin.f32(float %x)
  %r = fadd float %mf, %s
  ret float %r
}
; CHECK-LABEL: define internal { float, float } @f32mixed.oxidase.fwd{{[0-9]+}}(
; CHECK: fpext float %1 to double
; CHECK: fptrunc double

; sum of a[i] * x + a[i]^2 by fmuladd
define float @f32sum(ptr %a, i64 %n, float %x) {
entry:
  br label %loop

loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi float [ 0.0, %entry ], [ %acc2, %loop ]
  %p = getelementptr inbounds float, ptr %a, i64 %i
  %v = load float, ptr %p, align 4
  %acc1 = call float @llvm.fmuladd.f32(float %v, float %x, float %acc)
  %acc2 = call float @llvm.fmuladd.f32(float %v, float %v, float %acc1)
  %i1 = add i64 %i, 1
  %c = icmp ult i64 %i1, %n
  br i1 %c, label %loop, label %exit

exit:
  ret float %acc2
}

; expf(x) * tanhf(x) + sqrt(x*x + 1)
define float @f32libm(float %x) {
  %e = call float @expf(float %x)
  %t = call float @tanhf(float %x)
  %et = fmul float %e, %t
  %xx = fmul float %x, %x
  %x1 = fadd float %xx, 1.0
  %s = call float @llvm.sqrt.f32(float %x1)
  %r = fadd float %et, %s
  ret float %r
}

; a[i] *= s for i < 3
define void @f32scale(ptr %a, float %s) {
  br label %loop

loop:
  %i = phi i64 [ 0, %0 ], [ %i1, %loop ]
  %p = getelementptr inbounds float, ptr %a, i64 %i
  %v = load float, ptr %p, align 4
  %m = fmul float %v, %s
  store float %m, ptr %p, align 4
  %i1 = add i64 %i, 1
  %c = icmp ult i64 %i1, 3
  br i1 %c, label %loop, label %exit

exit:
  ret void
}
