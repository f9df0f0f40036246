; Requests the engine must refuse with a diagnostic (no crash, the module stays valid), and a
; valid request on the same engine afterwards.
;
; FWD-ERROR: @calls_mystery width=1 args=dual => "mystery" "`calls_mystery`"
; FWD-ERROR: @calls_mystery_later width=1 args=dual,dual => "mystery" "`calls_mystery_later`"
; FWD-ERROR: @store_to_const width=1 args=const,dual => "`store_to_const`" "out" "not differentiated"
; FWD-ERROR: @store_to_global width=1 args=dual => "`store_to_global`" "mutable global" "G"
; FWD-ERROR: @indirect width=1 args=const,dual => "`indirect`" "function pointer"
; FWD-ERROR: @asm_call width=1 args=dual => "`asm_call`" "inline assembly"
; FWD-ERROR: @calls_bad_helper width=1 args=dual => "mystery" "`bad_helper`"
; FWD-ERROR: @ok width=1 args=dual,dual => "2 activities were given for 1 parameters"
; FWD-ERROR: @ok width=0 args=dual => "width 0"
; FWD-ERROR: @mystery width=1 args=dual => "no body"
;
; A constant argument into the unknown function is fine:
; FWD: @calls_mystery width=1 args=const
; FWD: @ok width=1 args=dual
; CHECK-LABEL: define internal { double, double } @calls_mystery.oxidase.fwd{{[0-9]+}}(double %0)
; CHECK: call double @mystery(double %0)
; CHECK-LABEL: define internal { double, double } @ok.oxidase.fwd{{[0-9]+}}(double %0, double %1)
; CHECK-NOT: mystery
; CHECK-NOT: bad_helper.oxidase

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

@G = global double 0.0

declare double @mystery(double)

define double @calls_mystery(double %x) {
  %y = call double @mystery(double %x)
  ret double %y
}

define double @calls_mystery_later(double %x, double %z) {
  %a = fmul double %x, %z
  %y = call double @mystery(double %a)
  %r = fadd double %y, %x
  ret double %r
}

define void @store_to_const(ptr %out, double %x) {
  %x2 = fmul double %x, %x
  store double %x2, ptr %out, align 8
  ret void
}

define void @store_to_global(double %x) {
  %x2 = fmul double %x, %x
  store double %x2, ptr @G, align 8
  ret void
}

define double @indirect(ptr %fn, double %x) {
  %y = call double %fn(double %x)
  ret double %y
}

define double @asm_call(double %x) {
  %y = call double asm "", "=x,0"(double %x)
  ret double %y
}

define double @bad_helper(double %x) {
  %y = call double @mystery(double %x)
  ret double %y
}

; the error is inside a callee: the caller's partial derivative must be undone too
define double @calls_bad_helper(double %x) {
  %y = call double @bad_helper(double %x)
  %r = fmul double %y, %x
  ret double %r
}

define double @ok(double %x) {
  %r = fmul double %x, 3.0
  ret double %r
}
