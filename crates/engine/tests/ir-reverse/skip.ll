; Blocks with nothing to reverse: a block whose reversal would have no adjoint to propagate,
; no phi adjoint and no choice between predecessors to make is left out of the reverse sweep.
; The reversal of the next reversed block goes straight to that of the previous one, so the
; forward sweep records nothing for the skipped blocks: no choice of predecessor, no trip
; count of an integer-only loop.
;
; REV: @popcount args=dup,const ret=active
; AT: @popcount [0.3, -0.2, 0.9, 0.4, 0.1, 0.5, -0.6, 0.2], 8
; AT: @popcount [0.7], 1
; REV: @parity args=dup,const ret=active
; AT: @parity [0.3, -0.2, 0.9, 0.4, 0.1], 5
; REV: @interp args=dup,const,const,active ret=active
; AT: @interp [1.0, 3.0, 2.0, -1.0, 0.5], [0.0, 1.0, 2.5, 3.0, 4.0], 5, 2.7
; AT: @interp [1.0, 3.0, 2.0, -1.0, 0.5], [0.0, 1.0, 2.5, 3.0, 4.0], 5, 0.4
; AT: @interp [1.0, 3.0, 2.0, -1.0, 0.5], [0.0, 1.0, 2.5, 3.0, 4.0], 5, 3.6

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare double @llvm.sin.f64(double)

; acc = sin(acc * (popcount(i) + 1) + x[i]): the popcount is an uncounted integer loop inside
; the counted outer loop. Nothing in it is reversed, so neither its trip count nor which way the
; outer body went (through it or around it) is kept: per outer iteration the buffer holds the
; popcount factor and the argument of sin, 16 bytes, and the tape nothing.
define double @popcount(ptr noalias readonly %x, i64 %n) {
entry:
  %empty = icmp eq i64 %n, 0
  br i1 %empty, label %done, label %outer
outer:
  %i = phi i64 [ 0, %entry ], [ %i1, %latch ]
  %acc = phi double [ 0.5, %entry ], [ %acc1, %latch ]
  %z = icmp eq i64 %i, 0
  br i1 %z, label %latch, label %bits
bits:
  %j = phi i64 [ %i, %outer ], [ %j1, %bits ]
  %k = phi i64 [ 0, %outer ], [ %k1, %bits ]
  %b = and i64 %j, 1
  %k1 = add i64 %k, %b
  %j1 = lshr i64 %j, 1
  %more = icmp ne i64 %j1, 0
  br i1 %more, label %bits, label %latch
latch:
  %kk = phi i64 [ 0, %outer ], [ %k1, %bits ]
  %k2 = add i64 %kk, 1
  %c = sitofp i64 %k2 to double
  %p = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %p
  %m = fmul double %acc, %c
  %a = fadd double %m, %xi
  %acc1 = call double @llvm.sin.f64(double %a)
  %i1 = add nuw i64 %i, 1
  %again = icmp ult i64 %i1, %n
  br i1 %again, label %outer, label %done
done:
  %r = phi double [ 0.5, %entry ], [ %acc1, %latch ]
  ret double %r
}

; An integer diamond between two reversed blocks: the scale 2 or 3 is chosen by the parity of
; i; both arms are empty of floating-point work, so the reversal of the join goes straight to
; that of the loop header and no choice is kept.
define double @parity(ptr noalias readonly %x, i64 %n) {
entry:
  %empty = icmp eq i64 %n, 0
  br i1 %empty, label %done, label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %join ]
  %acc = phi double [ 0.25, %entry ], [ %acc1, %join ]
  %odd = trunc i64 %i to i1
  br i1 %odd, label %three, label %two
two:
  %s2 = add i64 %i, 2
  br label %join
three:
  %s3 = mul i64 %i, 3
  br label %join
join:
  %s = phi i64 [ %s2, %two ], [ %s3, %three ]
  %c = uitofp i64 %s to double
  %p = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %p
  %m = fmul double %xi, %c
  %a = fadd double %acc, %m
  %acc1 = call double @llvm.sin.f64(double %a)
  %i1 = add nuw i64 %i, 1
  %again = icmp ult i64 %i1, %n
  br i1 %again, label %loop, label %done
done:
  %r = phi double [ 0.25, %entry ], [ %acc1, %join ]
  ret double %r
}

; Piecewise-linear interpolation through (t[j], x[j]) at s: a linear search over the Const knots
; (an uncounted loop with two exits) finds the interval, then one interpolation uses it. The
; search has nothing to reverse: the derivative keeps no trip count, no exit taken and no tape.
define double @interp(ptr noalias readonly %x, ptr noalias readonly %t, i64 %m, double %s) {
entry:
  %lim = add i64 %m, -2
  br label %search
search:
  %j = phi i64 [ 0, %entry ], [ %j1, %next ]
  %stop = icmp uge i64 %j, %lim
  br i1 %stop, label %found, label %cmp
cmp:
  %j1 = add i64 %j, 1
  %tp = getelementptr double, ptr %t, i64 %j1
  %tj1 = load double, ptr %tp
  %lt = fcmp olt double %tj1, %s
  br i1 %lt, label %next, label %found
next:
  br label %search
found:
  %jj = phi i64 [ %j, %search ], [ %j, %cmp ]
  %jn = add i64 %jj, 1
  %pt0 = getelementptr double, ptr %t, i64 %jj
  %pt1 = getelementptr double, ptr %t, i64 %jn
  %t0 = load double, ptr %pt0
  %t1 = load double, ptr %pt1
  %px0 = getelementptr double, ptr %x, i64 %jj
  %px1 = getelementptr double, ptr %x, i64 %jn
  %x0 = load double, ptr %px0
  %x1 = load double, ptr %px1
  %num = fsub double %s, %t0
  %den = fsub double %t1, %t0
  %w = fdiv double %num, %den
  %dx = fsub double %x1, %x0
  %dw = fmul double %dx, %w
  %r = fadd double %x0, %dw
  ret double %r
}

; The popcount loop has no reversal: the outer body's reversal goes from the latch's straight to
; the header's.
; CHECK-LABEL: define internal { double } @popcount.oxidase.rev
; CHECK-NOT: {{^}}bits.rev
; CHECK: {{^}}outer.rev:{{.*}}preds = %latch.revbody{{$}}
; CHECK-NOT: {{^}}bits.rev
; CHECK: {{^}$}}

; Neither arm of the diamond is reversed; the join's reversal goes straight to the header's.
; CHECK-LABEL: define internal { double } @parity.oxidase.rev
; CHECK-NOT: {{^}}two.rev
; CHECK-NOT: {{^}}three.rev
; CHECK: {{^}}loop.rev:{{.*}}preds = %join.revbody{{$}}
; CHECK-NOT: {{^}}two.rev
; CHECK-NOT: {{^}}three.rev
; CHECK: {{^}$}}

; The search is not reversed and nothing of it is kept: no tape at all.
; CHECK-LABEL: define internal { double, double } @interp.oxidase.rev
; CHECK-NOT: @oxidase.tape
; CHECK-NOT: {{^}}search.rev
; CHECK-NOT: {{^}}cmp.rev
; CHECK: {{^}}entry.rev:{{.*}}preds = %found.revbody{{$}}
; CHECK-NOT: @oxidase.tape
; CHECK: {{^}$}}

; Per outer iteration: the popcount factor and the argument of sin (16 bytes; the inner loop's
; trip count and the branch choice are not kept).
; CHECK: oxidase: reverse derivative of popcount (Combined): {{.*}}, 2 in buffers of 1 loops sized by their trip counts, 0 on the tape (0 bytes per pass through the loops), {{.*}}; 1 blocks with nothing to reverse skipped
; CHECK-NEXT: loop at depth 1: 16 bytes per iteration in a buffer sized by its trip count, 0 bytes taped per iteration
; CHECK: oxidase: reverse derivative of parity (Combined): {{.*}}, 2 in buffers of 1 loops sized by their trip counts, 0 on the tape (0 bytes per pass through the loops), {{.*}}; 2 blocks with nothing to reverse skipped
; CHECK-NEXT: loop at depth 1: 16 bytes per iteration in a buffer sized by its trip count, 0 bytes taped per iteration
; CHECK: oxidase: reverse derivative of interp (Combined): {{.*}}, 0 in buffers of 0 loops sized by their trip counts, 0 on the tape (0 bytes per pass through the loops), {{.*}}; 3 blocks with nothing to reverse skipped
