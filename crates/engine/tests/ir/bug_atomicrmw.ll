; ENGINE BUG (test ignored): `atomicrmw fadd` of a Dual value into Dual memory is neither
; differentiated nor rejected: activity analysis ignores atomicrmw (no shadow requirement, not
; active) and forward mode copies it, so the shadow memory is left unchanged and the tangent is
; silently wrong.
; Expected: shadow[0] += 2 x dx (or an AdError). Got: shadow[0] keeps its seed.
; E.g. p = [1.0], x = 2.0, seeds p' = [0.0], x' = 1.0: expected p' = [4.0], got [0.0].
;
; FWD: @atomic_acc width=1 args=dual,dual
; AT: @atomic_acc [1.0], 2.0
; EXPECT: @atomic_acc args=dual,dual at [1.0], 2.0 seed [0.0], 1.0 => 4.0

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; p[0] += x * x, atomically (AtomicF64-style accumulation)
define void @atomic_acc(ptr %p, double %x) {
  %xx = fmul double %x, %x
  %old = atomicrmw fadd ptr %p, double %xx monotonic, align 8
  ret void
}
