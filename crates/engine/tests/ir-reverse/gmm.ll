; A gmm-like loop nest (GradBench's gmm objective, as rustc hands it over): per point i and
; component c, a scratch vector xc = x_i - mu_c, then qx = xc plus a strictly lower
; triangular L_c times xc, walked column by column with a second induction variable t that
; runs on across columns, then the sum of squares of qx. The scratch vectors are allocated once
; and freed at the end.
;
; What the reversal must keep: the loads of the read-only inputs (x, mu, l) are repeated; the
; triangle's t is recomputed from the row variable; xc[col] (written for each component, but
; not in the row loop) is kept once per execution of the row loop, never per iteration; where
; each loop ended follows from its exit test, so no induction variable is kept; only
; qx[j] (read in the last loop and overwritten by the next component) goes on the tape.
;
; REV: @gmm args=const,dup,dup,const,const,const ret=active
; AT: @gmm [0.3, -1.2, 0.8, 0.5, 1.1, -0.4, 0.9, 0.2, -0.7], [0.1, 0.4, -0.2, -0.3, 0.6, 0.5], [0.7, -0.5, 0.3, 0.2, 0.9, -0.6], 3, 2, 3

; The derivative's own loads and stores say which memory they touch (alias scopes): the tape,
; the shadow of each scratch vector, the shadows of the read-only parameters, primal memory.
; CHECK: define internal { double } @gmm.oxidase.rev{{[0-9]+}}
; Leaving the row loop keeps xc[col] and t's start (16 bytes), not the row variable or its
; start: its exit test (r + 1 < d) says where it ended, and its start (col + 1) is recomputed.
; CHECK: {{^}}loop.exit{{[0-9]*}}:{{ +}}; preds = %row
; CHECK-NEXT: call void @oxidase.tape.reserve(ptr %{{[0-9]+}}, i64 16)
; CHECK-NOT: @oxidase.tape.reserve
; CHECK: br label %row.exit
; CHECK: load double, ptr %{{[0-9]+}}, align 8, !alias.scope !{{[0-9]+}}, !noalias !{{[0-9]+}}
; CHECK-DAG: = distinct !{!{{[0-9]+}}, !{{[0-9]+}}, !"tape"}
; CHECK-DAG: = distinct !{!{{[0-9]+}}, !{{[0-9]+}}, !"shadow of object {{[0-9]+}}"}
; CHECK-DAG: = distinct !{!{{[0-9]+}}, !{{[0-9]+}}, !"shadow of object {{[0-9]+}}"}
; CHECK-DAG: = distinct !{!{{[0-9]+}}, !{{[0-9]+}}, !"shadows of shared parameters"}
; CHECK-DAG: = distinct !{!{{[0-9]+}}, !{{[0-9]+}}, !"primal memory"}
; CHECK: mod/ref of gmm:
; CHECK-NEXT: load again: %xv0 = load double
; CHECK-NEXT: load again: %mv = load double
; CHECK-NEXT: load again: %lt = load double
; CHECK-NEXT: carry: %xcol = load double
; CHECK-NEXT: carry: %q = load double
; CHECK-NEXT: carry: %qv = load double
; CHECK: oxidase: reverse derivative of gmm (Combined): {{[0-9]+}} values kept in stack slots, 2 kept once per loop execution, 1 in buffers of 1 loops sized by their trip counts, 0 on the tape (24 bytes per pass through the loops), {{[0-9]+}} recomputed; 0 blocks with nothing to reverse skipped; 5 loop exits whose induction variable comes from the exit test's bound (nothing kept)
; The row loop (depth 4) keeps nothing; which way a column went (through the row loop or past
; it) is the row loop's guard, recomputed from the column index; per component, qx[j] for the
; sum of squares, in a buffer reserved when the loop is entered, so no loop of the nest touches
; the tape per iteration. What the tape takes per pass through the outer loops is reported
; under them: per component, the address of the sum-of-squares loop's buffer; per column,
; xc[col] and t's start for the row loop.
; CHECK-NOT: loop at depth 4
; CHECK-NOT: = phi i32
; CHECK: loop at depth 2: 0 bytes per iteration in a buffer sized by its trip count, 8 bytes taped per iteration
; CHECK-NEXT: taped per pass through a loop: on leaving it, a loop buffer's address
; CHECK-NEXT: loop at depth 3: 0 bytes per iteration in a buffer sized by its trip count, 16 bytes taped per iteration
; CHECK-NEXT: taped per pass through a loop: on leaving it, a value an inner loop keeps per execution: {{.*}} = load double
; CHECK-NEXT: taped per pass through a loop: on leaving it, a value an inner loop keeps per execution: {{.*}} = phi i64
; CHECK-NEXT: loop at depth 3: 8 bytes per iteration in a buffer sized by its trip count, 0 bytes taped per iteration
; CHECK-NEXT: buffered per iteration: {{.*}} = load double
; CHECK-NOT: taped per pass

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare noalias ptr @malloc(i64)
declare void @free(ptr)

define double @gmm(ptr noalias readonly %x, ptr noalias readonly %mu, ptr noalias readonly %l, i64 %n, i64 %k, i64 %d) {
entry:
  %bytes = shl i64 %d, 3
  %xc = call ptr @malloc(i64 %bytes)
  %qx = call ptr @malloc(i64 %bytes)
  %dm1 = sub i64 %d, 1
  %dd = mul i64 %d, %dm1
  %tri = lshr i64 %dd, 1
  br label %pt
pt:
  %i = phi i64 [ 0, %entry ], [ %i1, %pt.latch ]
  %acc = phi double [ 0.0, %entry ], [ %accn, %pt.latch ]
  %xrow = mul i64 %i, %d
  br label %comp
comp:
  %c = phi i64 [ 0, %pt ], [ %c1, %comp.latch ]
  %acc1 = phi double [ %acc, %pt ], [ %accn, %comp.latch ]
  %murow = mul i64 %c, %d
  %lrow = mul i64 %c, %tri
  %lc = getelementptr double, ptr %l, i64 %lrow
  br label %diff
diff:
  %j = phi i64 [ 0, %comp ], [ %j1, %diff ]
  %xj = add i64 %xrow, %j
  %px = getelementptr double, ptr %x, i64 %xj
  %xv0 = load double, ptr %px
  %mj = add i64 %murow, %j
  %pm = getelementptr double, ptr %mu, i64 %mj
  %mv = load double, ptr %pm
  %dv = fsub double %xv0, %mv
  %pxc = getelementptr double, ptr %xc, i64 %j
  store double %dv, ptr %pxc
  %pq0 = getelementptr double, ptr %qx, i64 %j
  store double %dv, ptr %pq0
  %j1 = add i64 %j, 1
  %dmore = icmp slt i64 %j1, %d
  br i1 %dmore, label %diff, label %col
col:
  %cl = phi i64 [ 0, %diff ], [ %cl1, %col.latch ]
  %t0 = phi i64 [ 0, %diff ], [ %tend, %col.latch ]
  %r0 = add i64 %cl, 1
  %xcp = getelementptr double, ptr %xc, i64 %cl
  %empty = icmp sge i64 %r0, %d
  br i1 %empty, label %col.latch, label %row
row:
  %r = phi i64 [ %r0, %col ], [ %r1, %row ]
  %t = phi i64 [ %t0, %col ], [ %t1, %row ]
  %plt = getelementptr double, ptr %lc, i64 %t
  %lt = load double, ptr %plt
  %xcol = load double, ptr %xcp
  %qp = getelementptr double, ptr %qx, i64 %r
  %q = load double, ptr %qp
  %prod = fmul double %lt, %xcol
  %s = fadd double %q, %prod
  store double %s, ptr %qp
  %r1 = add i64 %r, 1
  %t1 = add i64 %t, 1
  %rmore = icmp slt i64 %r1, %d
  br i1 %rmore, label %row, label %row.exit
row.exit:
  br label %col.latch
col.latch:
  %tend = phi i64 [ %t0, %col ], [ %t1, %row.exit ]
  %cl1 = add i64 %cl, 1
  %cmore = icmp slt i64 %cl1, %d
  br i1 %cmore, label %col, label %sq
sq:
  %j2 = phi i64 [ 0, %col.latch ], [ %j21, %sq ]
  %sacc = phi double [ 0.0, %col.latch ], [ %sacc1, %sq ]
  %pqv = getelementptr double, ptr %qx, i64 %j2
  %qv = load double, ptr %pqv
  %sqv = fmul double %qv, %qv
  %sacc1 = fadd double %sacc, %sqv
  %j21 = add i64 %j2, 1
  %smore = icmp slt i64 %j21, %d
  br i1 %smore, label %sq, label %comp.latch
comp.latch:
  %accn = fadd double %acc1, %sacc1
  %c1 = add i64 %c, 1
  %kmore = icmp slt i64 %c1, %k
  br i1 %kmore, label %comp, label %pt.latch
pt.latch:
  %i1 = add i64 %i, 1
  %nmore = icmp slt i64 %i1, %n
  br i1 %nmore, label %pt, label %done
done:
  call void @free(ptr %xc)
  call void @free(ptr %qx)
  ret double %accn
}
