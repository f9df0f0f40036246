; Fused calls: a call that is the last thing a block running at most once does before it
; returns, its result only stored or returned, runs as its callee's combined derivative (the
; primal and its reversal in one), with the adjoint its result will receive read at once. The
; callee keeps what its reversal needs in registers; nothing goes on the tape. The stable route's
; shim (read the arguments from a tuple, call the user's function, store its result) is the
; case this is for: differentiated, it is the user's function's own derivative.
;
; REV: @tail args=dup,const ret=active
; AT: @tail [0.5, 0.7, -0.3, 1.2, 0.9], 5
; REV: @stored args=dup,dup,const ret=active
; AT: @stored [0.25], [0.5, 0.7, -0.3, 1.2, 0.9], 5
; REV: @scaled args=active,dup,const ret=active
; AT: @scaled 1.5, [0.5, 0.7, -0.3], 3
; REV: @loaded args=dup,dup,const ret=active
; AT: @loaded [-0.75], [0.5, 0.7, -0.3, 2.0], 4
; REV: @looped args=dup,const ret=active
; AT: @looped [0.5, 0.7, -0.3, 1.2], 4
; REV: @freeing args=dup,const ret=active
; AT: @freeing [0.5, 0.7, -0.3], 3
; REV: @from_tuple args=dup,const ret=active
; AT: @from_tuple [0.5, -1.25], 3

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; The result returned: the seed is the callee's.
define double @tail(ptr noalias readonly %x, i64 %n) {
entry:
  %r = call double @rosen(ptr %x, i64 %n)
  ret double %r
}

; The result stored and returned: its adjoint is the seed plus what `out` holds (taken).
define double @stored(ptr noalias %out, ptr noalias readonly %x, i64 %n) {
entry:
  %r = call double @rosen(ptr %x, i64 %n)
  store double %r, ptr %out
  ret double %r
}

; An Active argument: its adjoint comes back from the combined derivative.
define double @scaled(double %a, ptr noalias readonly %x, i64 %n) {
entry:
  %r = call double @wsum(double %a, ptr %x, i64 %n)
  ret double %r
}

; The Active argument is loaded (as the shim reads a scalar from its tuple): the adjoint
; accumulated at the call reaches the memory it was loaded from in the reversal.
define double @loaded(ptr noalias %pa, ptr noalias readonly %x, i64 %n) {
entry:
  %a = load double, ptr %pa
  %a2 = fmul double %a, %a
  %r = call double @wsum(double %a2, ptr %x, i64 %n)
  ret double %r
}

; A call in a loop is reversed after the loop's later iterations: split.
define double @looped(ptr noalias readonly %x, i64 %n) {
entry:
  br label %loop
loop:
  %k = phi i64 [ 0, %entry ], [ %k1, %loop ]
  %s = phi double [ 0.0, %entry ], [ %s1, %loop ]
  %r = call double @rosen(ptr %x, i64 %n)
  %s1 = fadd double %s, %r
  %k1 = add i64 %k, 1
  %more = icmp ult i64 %k1, 2
  br i1 %more, label %loop, label %done
done:
  ret double %s1
}

; A callee that may free memory its caller passed (here on a path never taken), whose shadow
; the caller's reversal then writes (the load of `c`), which a combined derivative would
; release on returning, and a split one keeps until the end: split.
define double @freeing(ptr noalias %x, i64 %n) {
entry:
  %pc = getelementptr double, ptr %x, i64 2
  %c = load double, ptr %pc
  %r = call double @product_or_free(ptr %x, i64 %n, double %c)
  ret double %r
}

define internal double @product_or_free(ptr %x, i64 %n, double %c) noinline {
entry:
  %odd = icmp eq i64 %n, 12345
  br i1 %odd, label %gone, label %product
gone:
  call void @free(ptr %x)
  ret double 0.0
product:
  %a = load double, ptr %x
  %p1 = getelementptr double, ptr %x, i64 1
  %b = load double, ptr %p1
  %ab = fmul double %a, %b
  %abc = fmul double %ab, %c
  ret double %abc
}

declare void @free(ptr)

; The callee may free memory it did not allocate, but all the caller's reversal touches is the
; shadow of its own `noalias` tuple, which the callee cannot reach (the shim's case: its
; tuples are read, only the values passed): fused.
define double @from_tuple(ptr noalias readonly %t, i64 %n) {
entry:
  %a = load double, ptr %t
  %pb = getelementptr double, ptr %t, i64 1
  %b = load double, ptr %pb
  %r = call double @product_or_drop(double %a, double %b, i64 %n)
  ret double %r
}

define internal double @product_or_drop(double %a, double %b, i64 %n) noinline {
entry:
  %odd = icmp eq i64 %n, 12345
  br i1 %odd, label %gone, label %product
gone:
  %p = inttoptr i64 %n to ptr
  call void @free(ptr %p)
  ret double 0.0
product:
  %ab = fmul double %a, %b
  %abb = fmul double %ab, %b
  ret double %abb
}

; Σ (1 − xᵢ)² + 100 (xᵢ₊₁ − xᵢ²)²
define internal double @rosen(ptr noalias readonly %x, i64 %n) noinline {
entry:
  %m = sub i64 %n, 1
  %empty = icmp sle i64 %m, 0
  br i1 %empty, label %done, label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  %pi = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %pi
  %i1 = add i64 %i, 1
  %pj = getelementptr double, ptr %x, i64 %i1
  %xj = load double, ptr %pj
  %a = fsub double 1.0, %xi
  %a2 = fmul double %a, %a
  %sq = fmul double %xi, %xi
  %b = fsub double %xj, %sq
  %b2 = fmul double %b, %b
  %b3 = fmul double 100.0, %b2
  %t = fadd double %a2, %b3
  %acc1 = fadd double %acc, %t
  %more = icmp slt i64 %i1, %m
  br i1 %more, label %loop, label %done
done:
  %r = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  ret double %r
}

; a · Σ xᵢ³
define internal double @wsum(double %a, ptr noalias readonly %x, i64 %n) noinline {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  %p = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %p
  %sq = fmul double %xi, %xi
  %cube = fmul double %sq, %xi
  %acc1 = fadd double %acc, %cube
  %i1 = add i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  %r = fmul double %a, %acc1
  ret double %r
}

; The derivative of @tail calls rosen's combined derivative with its own seed, and keeps nothing.
; CHECK-LABEL: define {{.*}} @tail.oxidase.rev{{[0-9]+}}(ptr {{.*}}%0, ptr {{.*}}%1, i64 %2, double %3)
; CHECK: call { double } @rosen.oxidase.rev{{[0-9]+}}(ptr {{.*}}%0, ptr {{.*}}%1, i64 %2, double %3)
; CHECK-NOT: oxidase.aug
; CHECK: ret
; The derivative of @stored takes what `out`'s shadow holds, clears it, and adds the seed.
; CHECK-LABEL: define {{.*}} @stored.oxidase.rev
; CHECK: [[HELD:%.*]] = load double, ptr %1
; CHECK-NEXT: store double 0.000000e+00, ptr %1
; CHECK-NEXT: [[D:%.*]] = fadd {{.*}}double %5, [[HELD]]
; CHECK-NEXT: call { double } @rosen.oxidase.rev{{[0-9]+}}(ptr {{.*}}%2, ptr {{.*}}%3, i64 %4, double [[D]])
; CHECK-NOT: oxidase.aug
; CHECK: ret
; The Active argument's adjoint is the second field of wsum's combined result.
; CHECK-LABEL: define {{.*}} @scaled.oxidase.rev
; CHECK: [[R:%.*]] = call { double, double } @wsum.oxidase.rev{{[0-9]+}}(double %0,
; CHECK: extractvalue { double, double } [[R]], 1
; CHECK-NOT: oxidase.aug
; CHECK: ret
; CHECK-LABEL: define {{.*}} @looped.oxidase.rev
; CHECK: call {{.*}} @rosen.oxidase.aug
; CHECK-LABEL: define {{.*}} @freeing.oxidase.rev
; CHECK: call {{.*}} @product_or_free.oxidase.aug

; CHECK: oxidase: reverse derivative of tail (Combined): 0 values kept in stack slots, {{.*}}, 0 on the tape {{.*}}; 1 calls fused with their reversal
; CHECK: oxidase: reverse derivative of rosen (Combined)
; CHECK: oxidase: reverse derivative of stored (Combined): {{.*}}; 1 calls fused with their reversal
; CHECK: oxidase: reverse derivative of scaled (Combined): {{.*}}; 1 calls fused with their reversal
; CHECK: oxidase: reverse derivative of wsum (Combined)
; CHECK: oxidase: reverse derivative of loaded (Combined): {{.*}}; 1 calls fused with their reversal
; A callee's split derivative is reported before its caller's, whose reversal asks which
; arguments it reads.
; CHECK: oxidase: reverse derivative of rosen (Split)
; CHECK: oxidase: reverse derivative of looped (Combined): {{.*}} skipped{{$}}
; CHECK: oxidase: reverse derivative of freeing (Combined): {{.*}} skipped{{$}}
; CHECK: oxidase: reverse derivative of from_tuple (Combined): {{.*}}; 1 calls fused with their reversal
; CHECK: oxidase: reverse derivative of product_or_drop (Combined)
