; Atomic read-modify-write on differentiated memory has no derivative rule: the engine must refuse
; it (a silently unchanged shadow would be a wrong derivative). On memory without a shadow it is
; copied as is.
;
; FWD-ERROR: @atomic_acc width=1 args=dual,dual => "`atomic_acc`" "atomic operation" "atomicrmw"
; FWD: @atomic_counter width=1 args=const,dual
; AT: @atomic_counter [0.0], 2.0
; EXPECT: @atomic_counter args=const,dual at [0.0], 2.0 seed 1.0 => 4.0

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; p[0] += x * x, atomically (AtomicF64-style accumulation)
define void @atomic_acc(ptr %p, double %x) {
  %xx = fmul double %x, %x
  %old = atomicrmw fadd ptr %p, double %xx monotonic, align 8
  ret void
}

; A counter in Const memory next to differentiated arithmetic.
define double @atomic_counter(ptr %c, double %x) {
  %old = atomicrmw add ptr %c, i64 1 monotonic, align 8
  %xx = fmul double %x, %x
  ret double %xx
}
