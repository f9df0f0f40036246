; Reversals skipped at run time when the adjoints they receive are zero. In kmeans' cost,
; Σ_i min_j ‖c_j − p_i‖², the distance loop hands its sum to the `min`, whose reversal gives
; every centroid but the nearest a zero adjoint: the distance loop's reversal is skipped for
; them ([`zero_test`]). A loop that stores into differentiated memory is never skipped (its
; reversal reads and clears the shadow, whatever the adjoints), nor is one that keeps values on
; the tape inside.
;
; REV: @cost args=const,dup,const,const,const ret=active
; AT: @cost [0.1, 0.2, 1.0, 1.1, -0.5, 0.3], [0.0, 0.0, 1.0, 1.0, -1.0, 0.5], 3, 3, 2
; AT: @cost [0.1, 0.2, 0.9, 1.4], [0.3, -0.2, 1.0, 1.0, 2.0, 0.5], 2, 3, 2
; REV: @scaled args=dup,const,active ret=active
; AT: @scaled [0.3, -0.2, 0.9, 0.4], 4, 0.0
; AT: @scaled [0.3, -0.2, 0.9, 0.4], 4, 1.5
; REV: @stores args=dup,dup,const,active ret=active
; AT: @stores [0.3, -0.2, 0.9], [1.0, 2.0, 3.0], 3, 0.0

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

define double @cost(ptr noalias readonly %p, ptr noalias readonly %c, i64 %n, i64 %k, i64 %d) {
entry:
  br label %point
point:
  %i = phi i64 [ 0, %entry ], [ %i1, %point.end ]
  %total = phi double [ 0.0, %entry ], [ %total1, %point.end ]
  %prow = mul i64 %i, %d
  br label %centroid
centroid:
  %j = phi i64 [ 0, %point ], [ %j1, %centroid.end ]
  %best = phi double [ 0x7FF0000000000000, %point ], [ %best1, %centroid.end ]
  %crow = mul i64 %j, %d
  br label %dim
dim:
  %t = phi i64 [ 0, %centroid ], [ %t1, %dim ]
  %dist = phi double [ 0.0, %centroid ], [ %dist1, %dim ]
  %ci = add i64 %crow, %t
  %pc = getelementptr double, ptr %c, i64 %ci
  %cv = load double, ptr %pc
  %pi = add i64 %prow, %t
  %pp = getelementptr double, ptr %p, i64 %pi
  %pv = load double, ptr %pp
  %e = fsub double %cv, %pv
  %ee = fmul double %e, %e
  %dist1 = fadd double %dist, %ee
  %t1 = add nuw i64 %t, 1
  %more.t = icmp ult i64 %t1, %d
  br i1 %more.t, label %dim, label %centroid.end
centroid.end:
  %closer = fcmp olt double %dist1, %best
  %best1 = select i1 %closer, double %dist1, double %best
  %j1 = add nuw i64 %j, 1
  %more.j = icmp ult i64 %j1, %k
  br i1 %more.j, label %centroid, label %point.end
point.end:
  %total1 = fadd double %total, %best1
  %i1 = add nuw i64 %i, 1
  %more.i = icmp ult i64 %i1, %n
  br i1 %more.i, label %point, label %done
done:
  ret double %total1
}

; s · Σ x_i²: at s = 0 the loop's reversal is skipped, and x̄ = 0 still; s̄ comes from the
; sum, which the forward sweep computed.
define double @scaled(ptr noalias readonly %x, i64 %n, double %s) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  %px = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %px
  %sq = fmul double %xi, %xi
  %acc1 = fadd double %acc, %sq
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  %r = fmul double %acc1, %s
  ret double %r
}

; y_i = x_i² (stored into differentiated memory) and s · Σ x_i²: the adjoint of the sum is zero
; at s = 0, but the reversal of the stores still carries ȳ into x̄.
define double @stores(ptr noalias readonly %x, ptr noalias %y, i64 %n, double %s) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  %px = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %px
  %sq = fmul double %xi, %xi
  %py = getelementptr double, ptr %y, i64 %i
  store double %sq, ptr %py
  %acc1 = fadd double %acc, %sq
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  %r = fmul double %acc1, %s
  ret double %r
}

; The distance loop's reversal starts with the test of the adjoint of its sum; around it, the
; reversal goes on with the centroid loop's.
; CHECK-LABEL: define {{.*}} @cost.oxidase.rev
; CHECK: [[NZ:%[0-9]+]] = call i1 @oxidase.nonzero.double(double {{%[0-9]+}})
; CHECK-NEXT: br i1 [[NZ]], label %rev.loop.run, label %rev.loop.skip
; CHECK: rev.loop.run:
; CHECK-NEXT: br label %dim.rev
; CHECK: rev.loop.skip:
; CHECK-NEXT: br label %centroid.rev
; The test: not zero, NaN included.
; CHECK-LABEL: define internal i1 @oxidase.nonzero.double(double %0)
; CHECK-NEXT: entry:
; CHECK-NEXT: fcmp une double %0, 0.000000e+00
; CHECK-LABEL: define {{.*}} @scaled.oxidase.rev
; CHECK: call i1 @oxidase.nonzero.double
; CHECK-LABEL: define {{.*}} @stores.oxidase.rev
; CHECK-NOT: oxidase.nonzero
; CHECK: oxidase: reverse derivative of cost (Combined): {{.*}}; 1 loop reversals skipped when the adjoints they receive are zero
; CHECK: oxidase: reverse derivative of scaled (Combined): {{.*}}; 1 loop reversals skipped when the adjoints they receive are zero
; CHECK: oxidase: reverse derivative of stores (Combined): {{.*}} skipped{{$}}
