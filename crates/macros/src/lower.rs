//! Expansion: checks (SEMANTICS.md §6–§7), the generated signature (§3) and its body.
//!
//! # The marker contract (read by `oxidase-cc`)
//!
//! The body of a generated function calls
//! `oxidase_autodiff_v1_{fwd|rev}_w{W}__use_cargo_autodiff_to_build(desc, shim, consts, act, ret,
//! dact_0 … dact_{W-1}, dret_0 … dret_{W-1})`, all pointers:
//! * `desc`: a NUL-terminated `path::of::f\0file.rs:line\0` and the `Const` arguments' names
//!   (`` `a`, `b` ``, then `\0`) naming the primal for diagnostics;
//! * `shim`: `fn(&C, &A, &mut MaybeUninit<R>)` (three pointers) that reads the `Const`
//!   arguments from `consts` and the differentiated ones from `act` (two tuples), calls the
//!   primal and writes its result to `ret`;
//! * `dact_k`: a tuple of `act`'s type holding lane `k`'s shadows (zero for `Active` scalars);
//! * `dret_k`: lane `k`'s shadow of the result: the tangent (forward) or the seed (reverse).
//!
//! The pass generates the derivative of `shim` with `consts` constant and `act`, `ret`
//! differentiated (forward: `Dual`; reverse: `Duplicated`, so gradients of `Active` scalars
//! accumulate into `dact_k` and seeds are consumed from `dret_k`), and calls it instead.

use crate::attr::{self, Activity, Config, Mode};
use crate::item::{self, Function, Param};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::{GenericParam, Ident, Type};

pub const MARKER_PREFIX: &str = "oxidase_autodiff_v1_";

pub fn expand(mode: Mode, args: TokenStream, item: TokenStream) -> TokenStream {
    let item = item::redirect_builtin_attrs(item);
    let func = match item::parse(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let e = e.to_compile_error();
            return quote!(#e #item);
        }
    };
    let original = func.tokens.clone();
    let config = match attr::parse(args, func.sig.ident.span()) {
        Ok(c) => c,
        Err(e) => {
            let e = e.to_compile_error();
            return quote!(#original #e);
        }
    };
    let params = func.params();
    let ret = func.ret();
    match check(mode, &config, &params, ret.as_ref()) {
        Ok(()) => {
            let generated = generate(mode, &config, &func, &params, ret.as_ref());
            quote!(#original #generated)
        }
        Err(e) => {
            let e = e.to_compile_error();
            quote!(#original #e)
        }
    }
}

fn error(errors: &mut Option<syn::Error>, span: Span, msg: impl std::fmt::Display) {
    let e = syn::Error::new(span, msg);
    match errors {
        Some(all) => all.combine(e),
        None => *errors = Some(e),
    }
}

/// The checks of upstream's `gen_enzyme_decl`, in its order, plus ours: `Active` on a reference
/// and width > 1 with `Active` in reverse mode.
fn check(mode: Mode, config: &Config, params: &[Param], ret: Option<&Type>) -> Result<(), syn::Error> {
    let expected = params.len() + usize::from(ret.is_some());
    let found = config.activities.len();
    if expected != found {
        return Err(syn::Error::new(config.span, format!("expected {expected} activities, but found {found}")));
    }
    let mut errors = None;
    for (p, &(a, span)) in params.iter().zip(&config.activities) {
        if !a.valid_input(mode) {
            error(&mut errors, span, format!("{} can not be used in {} Mode", a.word(), mode.word()));
        }
        if matches!(a, Activity::Duplicated | Activity::DuplicatedOnly) && !item::is_indirection(&p.ty) {
            error(&mut errors, p.span, format!("{} can not be used for this type", a.word()));
        }
        if matches!(a, Activity::Active | Activity::ActiveOnly) && item::is_indirection(&p.ty) {
            error(
                &mut errors,
                p.span,
                format!(
                    "{} can not be used for this type: `{}` is a reference or pointer; use Duplicated and read the gradient from its shadow",
                    a.word(),
                    p.name
                ),
            );
        }
        if matches!(a, Activity::Dualv | Activity::DualvOnly) && !item::is_slice_ref(&p.ty) {
            error(&mut errors, p.span, format!("{} can only be used on slices (`&[T]`, `&mut [T]`)", a.word()));
        }
        if matches!(a, Activity::Active | Activity::ActiveOnly) && config.width > 1 {
            error(
                &mut errors,
                span,
                format!("{} needs width 1 in Reverse Mode (batched gradients of scalars are undefined upstream); use Duplicated", a.word()),
            );
        }
    }
    if let (Some(_), Some(&(a, span))) = (ret, config.activities.last()) {
        if !a.valid_return(mode) {
            error(&mut errors, span, format!("invalid return activity {} in {} Mode", a.word(), mode.word()));
        } else if mode == Mode::Reverse && a != Activity::Const && config.width > 1 {
            error(&mut errors, span, format!("invalid return activity {} with width > 1 in Reverse Mode; use Const and a Duplicated output", a.word()));
        }
    }
    errors.map_or(Ok(()), Err)
}

/// One parameter with its activity and its generated shadows.
struct Arg<'a> {
    /// Position among the primal's parameters.
    index: usize,
    p: &'a Param,
    a: Activity,
    shadows: Vec<Ident>,
}

fn shadow_names(mode: Mode, width: u32, p: &Param, a: Activity) -> Vec<Ident> {
    let prefix = if mode == Mode::Forward { "b" } else { "d" };
    let n = match a {
        Activity::Const | Activity::Active | Activity::ActiveOnly => 0,
        Activity::Dualv | Activity::DualvOnly => 1,
        _ => width,
    };
    (0..n).map(|k| format_ident!("{}{}_{}", prefix, p.name, k, span = p.name.span())).collect()
}

fn generate(mode: Mode, config: &Config, func: &Function, params: &[Param], ret: Option<&Type>) -> TokenStream {
    let args: Vec<Arg> = params
        .iter()
        .zip(&config.activities)
        .enumerate()
        .map(|(index, (p, &(a, _)))| Arg { index, p, a, shadows: shadow_names(mode, config.width, p, a) })
        .collect();
    let ret_act = ret.map(|_| config.activities.last().unwrap().0);
    let sig = signature(mode, config, func, &args, ret, ret_act);
    let body = body(mode, config, func, &args, ret, ret_act);
    let vis = &func.vis;
    let cfgs = func.cfg_attrs();
    let inline = func.has_inline_never().then(|| quote!(#[inline(never)]));
    let doc = format!(
        " {} derivative of [`{}`], generated by oxidase.",
        if mode == Mode::Forward { "Forward-mode" } else { "Reverse-mode" },
        func.sig.ident
    );
    quote! {
        #(#cfgs)*
        #[doc = #doc]
        #inline
        #[allow(unused_unsafe, unused_mut, unused_variables, non_snake_case, clippy::too_many_arguments, clippy::type_complexity)]
        #vis #sig {
            #body
        }
    }
}

fn signature(mode: Mode, config: &Config, func: &Function, args: &[Arg], ret: Option<&Type>, ret_act: Option<Activity>) -> TokenStream {
    let name = &config.name;
    let generics = func.generics();
    let where_clause = &generics.where_clause;
    let unsafety = args.iter().any(|a| a.a.is_only_input()).then(|| quote!(unsafe));
    let mut inputs = Vec::new();
    for arg in args {
        let ty = &arg.p.ty;
        match &arg.p.receiver {
            Some(r) => {
                let (and, lt, m) = (r.reference.as_ref().map(|(a, _)| a), r.reference.as_ref().and_then(|(_, l)| l.as_ref()), &r.mutability);
                let s = &r.self_token;
                inputs.push(quote!(#and #lt #m #s));
            }
            None => {
                let n = &arg.p.name;
                inputs.push(quote!(#n: #ty));
            }
        }
        let shadow_ty = match arg.a {
            Activity::Duplicated | Activity::DuplicatedOnly => item::mutable_indirection(ty),
            _ => ty.clone(),
        };
        for s in &arg.shadows {
            inputs.push(quote!(#s: #shadow_ty));
        }
    }
    if mode == Mode::Reverse && matches!(ret_act, Some(Activity::Active | Activity::ActiveOnly)) {
        inputs.push(quote!(dret: #ret));
    }
    let output = returned(mode, config.width, args, ret_act).ty(ret);
    quote!(#unsafety fn #name #generics (#(#inputs),*) -> #output #where_clause)
}

fn tuple_or_single(parts: &[TokenStream]) -> TokenStream {
    match parts {
        [] => quote!(()),
        [one] => one.clone(),
        many => quote!((#(#many),*)),
    }
}

/// The expression naming the primal, with the generic arguments of the generated function.
fn primal_path(func: &Function, args: &[Arg]) -> TokenStream {
    let ident = &func.sig.ident;
    let generic_args: Vec<TokenStream> = func
        .generics()
        .params
        .iter()
        .filter_map(|g| match g {
            GenericParam::Type(t) => Some(t.ident.to_token_stream()),
            GenericParam::Const(c) => Some(c.ident.to_token_stream()),
            GenericParam::Lifetime(_) => None,
        })
        .collect();
    let turbofish = if generic_args.is_empty() { quote!() } else { quote!(::<#(#generic_args),*>) };
    let method = func.in_trait || args.iter().any(|a| a.p.receiver.is_some());
    if method {
        quote!(Self::#ident #turbofish)
    } else {
        quote!(#ident #turbofish)
    }
}

fn body(mode: Mode, config: &Config, func: &Function, args: &[Arg], ret: Option<&Type>, ret_act: Option<Activity>) -> TokenStream {
    let w = config.width as usize;
    let rt = quote!(::oxidase::__rt);
    let value = |a: &Arg| -> TokenStream {
        if a.p.receiver.is_some() {
            quote!(self)
        } else {
            a.p.name.to_token_stream()
        }
    };

    // Shadow lengths, checked before anything moves; a `Dualv` primal's length is kept to cut
    // its shadow into lanes.
    let mut checks = Vec::new();
    for a in args {
        if !item::has_len(&a.p.ty) {
            continue;
        }
        let x = value(a);
        if matches!(a.a, Activity::Dualv | Activity::DualvOnly) {
            let n = primal_len(a);
            checks.push(quote!(let #n = #x.len();));
        }
        let xname = a.p.name.to_string();
        for s in &a.shadows {
            let sname = s.to_string();
            let lanes = if matches!(a.a, Activity::Dualv | Activity::DualvOnly) { w } else { 1 };
            checks.push(quote_spanned!(a.p.span=> #rt::check_shadow_len(#sname, #s.len(), #xname, #x.len(), #lanes);));
        }
    }

    let consts: Vec<&Arg> = args.iter().filter(|a| a.a == Activity::Const).collect();
    let act: Vec<&Arg> = args.iter().filter(|a| a.a != Activity::Const).collect();
    let const_values: Vec<TokenStream> = consts.iter().map(|a| value(a)).collect();
    let act_values: Vec<TokenStream> = act.iter().map(|a| value(a)).collect();

    // Lane k's shadow tuple: shadows written field by field into zeroed storage of act's type.
    let mut lanes = Vec::new();
    let dact: Vec<Ident> = (0..w).map(|k| format_ident!("__oxidase_dact_{}", k)).collect();
    for (k, d) in dact.iter().enumerate() {
        let mut puts = Vec::new();
        for (j, a) in act.iter().enumerate() {
            let j = syn::Index::from(j);
            let shadow = match a.a {
                Activity::Active | Activity::ActiveOnly => continue,
                Activity::Dualv | Activity::DualvOnly => {
                    let s = &a.shadows[0];
                    let n = primal_len(a);
                    let mutable = matches!(&a.p.ty, Type::Reference(r) if r.mutability.is_some());
                    if mutable {
                        quote!(::core::ptr::slice_from_raw_parts_mut(#s.as_mut_ptr().add(#k * #n), #n))
                    } else {
                        quote!(::core::ptr::slice_from_raw_parts(#s.as_ptr().add(#k * #n), #n))
                    }
                }
                _ => a.shadows[k].to_token_stream(),
            };
            puts.push(quote!(#rt::put(&raw mut (*#d.as_mut_ptr()).#j, #shadow);));
        }
        lanes.push(quote! {
            let mut #d = #rt::zeroed_like(&*__oxidase_act);
            unsafe { #(#puts)* }
        });
    }

    // Result storage: the primal's, and lane k's tangent (forward) or seed (reverse).
    let ret_ty = ret.map(|r| r.to_token_stream()).unwrap_or(quote!(()));
    let dret: Vec<Ident> = (0..w).map(|k| format_ident!("__oxidase_dret_{}", k)).collect();
    let seeded = mode == Mode::Reverse && matches!(ret_act, Some(Activity::Active | Activity::ActiveOnly));
    let dret_init: Vec<TokenStream> = dret
        .iter()
        .map(|d| {
            if seeded {
                quote!(let mut #d = ::core::mem::MaybeUninit::<#ret_ty>::new(dret);)
            } else {
                quote!(let mut #d = ::core::mem::MaybeUninit::<#ret_ty>::zeroed();)
            }
        })
        .collect();

    // The shim: unpack both tuples, call the primal, store its result.
    // The shim's local for argument `i` is `__p{i}`, whichever tuple it comes from.
    let local = |a: &Arg| format_ident!("__p{}", a.index);
    let pnames: Vec<Ident> = args.iter().map(local).collect();
    let pick = |set: &[&Arg]| -> (Vec<Ident>, Vec<TokenStream>) { set.iter().map(|a| (local(a), item::nameable(&a.p.ty))).unzip() };
    let (cn, ct) = pick(&consts);
    let (an, at) = pick(&act);
    let primal = primal_path(func, args);
    // Fields are read one by one: reading a whole tuple by value would, in unoptimized code,
    // return pointers and floats in one aggregate.
    let ci = (0..cn.len()).map(syn::Index::from);
    let ai = (0..an.len()).map(syn::Index::from);
    // The shim takes references, not raw pointers: rustc then marks the tuples `noalias
    // readonly` (when they hold no `UnsafeCell`) and the result `noalias`, which tells the
    // engine that the memory the arguments point to is not written by the shim's own stores,
    // as the primal's own parameter attributes tell the nightly route (`modref`).
    let shim = quote! {
        |__c: &(#(#ct,)*), __a: &(#(#at,)*), __r: &mut ::core::mem::MaybeUninit<#ret_ty>| unsafe {
            #(let #cn = ::core::ptr::read(&raw const __c.#ci);)*
            #(let #an = ::core::ptr::read(&raw const __a.#ai);)*
            __r.write(#primal(#(#pnames),*));
        }
    };

    let marker = format!(
        "{MARKER_PREFIX}{}_w{}__use_cargo_autodiff_to_build",
        if mode == Mode::Forward { "fwd" } else { "rev" },
        w
    );
    let lane_params: Vec<TokenStream> = (0..2 * w).map(|i| {
        let n = format_ident!("s{}", i);
        quote!(#n: *mut u8)
    }).collect();
    let fname = func.sig.ident.to_string();
    let const_names = consts.iter().map(|a| format!("`{}`", a.p.name)).collect::<Vec<_>>().join(", ");
    let result = result(mode, config, args, ret_act, &dact, &dret);
    quote! {
        #(#checks)*
        let __oxidase_consts = ::core::mem::ManuallyDrop::new((#(#const_values,)*));
        let __oxidase_act = ::core::mem::ManuallyDrop::new((#(#act_values,)*));
        #(#lanes)*
        let mut __oxidase_ret = ::core::mem::MaybeUninit::<#ret_ty>::uninit();
        #(#dret_init)*
        unsafe extern "C" {
            #[link_name = #marker]
            fn __oxidase_marker(desc: *const u8, shim: *const u8, consts: *const u8, act: *const u8, ret: *mut u8, #(#lane_params),*);
        }
        let __oxidase_shim: fn(&(#(#ct,)*), &(#(#at,)*), &mut ::core::mem::MaybeUninit<#ret_ty>) = #shim;
        unsafe {
            __oxidase_marker(
                ::core::concat!(::core::module_path!(), "::", #fname, "\0", ::core::file!(), ":", ::core::line!(), "\0", #const_names, "\0").as_ptr(),
                __oxidase_shim as *const u8,
                &*__oxidase_consts as *const _ as *const u8,
                &*__oxidase_act as *const _ as *const u8,
                __oxidase_ret.as_mut_ptr() as *mut u8,
                #(#dact.as_mut_ptr() as *mut u8,)*
                #(#dret.as_mut_ptr() as *mut u8,)*
            );
        }
        #result
    }
}

/// The variable holding the length of a `Dualv` slice argument.
fn primal_len(a: &Arg) -> Ident {
    format_ident!("__oxidase_len_{}", a.p.name)
}

fn result(mode: Mode, config: &Config, args: &[Arg], ret_act: Option<Activity>, dact: &[Ident], dret: &[Ident]) -> TokenStream {
    let value = returned(mode, config.width, args, ret_act).value(dact, dret);
    quote!(unsafe { #value })
}

/// One value the generated function returns (SEMANTICS §3.2).
enum Part<'a> {
    /// The primal's result.
    Primal,
    /// Lane `k`'s tangent of the result (forward mode).
    Tangent(usize),
    /// The gradient of the `Active` argument stored at field `j` of the differentiated tuple.
    Gradient(usize, &'a Type),
}

/// What the generated function returns: a single value or tuple of `parts`, or an array of them
/// (width > 1 in forward mode). The signature and the body are both derived from it.
struct Returned<'a> {
    parts: Vec<Part<'a>>,
    array: bool,
}

fn returned<'a>(mode: Mode, width: u32, args: &'a [Arg], ret_act: Option<Activity>) -> Returned<'a> {
    let w = width as usize;
    let tangents = |n: usize| (0..n).map(Part::Tangent);
    match mode {
        Mode::Forward => match ret_act {
            None => Returned { parts: Vec::new(), array: false },
            Some(Activity::Const) => Returned { parts: vec![Part::Primal], array: false },
            // Upstream quirk (§11): `Dualv` returns one tangent whatever the width.
            Some(Activity::Dualv) => Returned { parts: vec![Part::Primal, Part::Tangent(0)], array: false },
            Some(Activity::Dual) => Returned { parts: std::iter::once(Part::Primal).chain(tangents(w)).collect(), array: w > 1 },
            Some(_) => Returned { parts: tangents(w).collect(), array: w > 1 },
        },
        Mode::Reverse => {
            let primal = ret_act.is_some_and(|a| a != Activity::ActiveOnly).then_some(Part::Primal);
            let gradients = args
                .iter()
                .filter(|a| a.a != Activity::Const)
                .enumerate()
                .filter(|(_, a)| a.a == Activity::Active)
                .map(|(j, a)| Part::Gradient(j, &a.p.ty));
            Returned { parts: primal.into_iter().chain(gradients).collect(), array: false }
        }
    }
}

impl Returned<'_> {
    fn ty(&self, ret: Option<&Type>) -> TokenStream {
        let r = ret.map(|r| r.to_token_stream()).unwrap_or(quote!(()));
        if self.array {
            let n = self.parts.len();
            return quote!([#r; #n]);
        }
        let types: Vec<TokenStream> = self
            .parts
            .iter()
            .map(|p| match p {
                Part::Primal | Part::Tangent(_) => r.clone(),
                Part::Gradient(_, ty) => ty.to_token_stream(),
            })
            .collect();
        tuple_or_single(&types)
    }

    fn value(&self, dact: &[Ident], dret: &[Ident]) -> TokenStream {
        let values: Vec<TokenStream> = self
            .parts
            .iter()
            .map(|p| match p {
                Part::Primal => quote!(__oxidase_ret.assume_init()),
                Part::Tangent(k) => {
                    let d = &dret[*k];
                    quote!(#d.assume_init())
                }
                Part::Gradient(j, _) => {
                    let (d, j) = (&dact[0], syn::Index::from(*j));
                    quote!(::core::ptr::read(&raw const (*#d.as_ptr()).#j))
                }
            })
            .collect();
        if self.array {
            quote!([#(#values),*])
        } else {
            tuple_or_single(&values)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(mode: Mode, args: &str, item: &str) -> String {
        expand(mode, args.parse().unwrap(), item.parse().unwrap()).to_string()
    }

    #[test]
    fn diagnostics_use_upstream_wording() {
        let f = "fn f(x: f64) -> f64 { x }";
        assert!(expand_str(Mode::Forward, "d, 4294967296, Dual, Dual", f).contains("autodiff width must fit u32, but is 4294967296"));
        assert!(expand_str(Mode::Forward, "d, Forward, Dual, Dual", f).contains("did not recognize Activity: `Forward`"));
        assert!(expand_str(Mode::Reverse, "d, Active", f).contains("expected 2 activities, but found 1"));
        assert!(expand_str(Mode::Reverse, "d, Dual, Active", f).contains("Dual can not be used in Reverse Mode"));
        assert!(expand_str(Mode::Forward, "d, Dual, Active", f).contains("invalid return activity Active in Forward Mode"));
        assert!(expand_str(Mode::Reverse, "d, Duplicated, Active", f).contains("Duplicated can not be used for this type"));
        assert!(expand_str(Mode::Reverse, "", f).contains("autodiff requires at least a name and mode"));
        assert!(expand_str(Mode::Reverse, "d, Active", "struct S;").contains("autodiff must be applied to function"));
    }

    #[test]
    fn builtin_sibling_attributes_become_ours() {
        let out = expand_str(
            Mode::Forward,
            "d, Dual, Dual",
            "#[std::autodiff::autodiff_reverse(r, Active, Active)] #[inline] #[::core::autodiff::autodiff_forward(g, Dual, Dual)] #[my::autodiff::autodiff_forward(h)] fn f(x: f64) -> f64 { x }",
        );
        assert!(out.contains("# [:: oxidase :: autodiff :: autodiff_reverse (r , Active , Active)]"), "{out}");
        assert!(out.contains("# [:: oxidase :: autodiff :: autodiff_forward (g , Dual , Dual)]"), "{out}");
        assert!(out.contains("# [my :: autodiff :: autodiff_forward (h)]"), "{out}");
        assert!(!out.contains("std :: autodiff") && !out.contains("core :: autodiff"), "{out}");
    }

    #[test]
    fn generated_signatures() {
        let sig = |mode, args: &str, item: &str| {
            let out = expand_str(mode, args, item);
            let start = out.find("fn d").expect("generated function");
            out[start..out[start..].find('{').unwrap() + start].trim().to_string()
        };
        assert_eq!(sig(Mode::Reverse, "d, Active, Active", "fn f(x: f64) -> f64 { x }"), "fn d (x : f64 , dret : f64) -> (f64 , f64)");
        assert_eq!(sig(Mode::Reverse, "d, Active, ActiveOnly", "fn f(x: f64) -> f64 { x }"), "fn d (x : f64 , dret : f64) -> f64");
        assert_eq!(
            sig(Mode::Reverse, "d, 2, Duplicated, Duplicated", "fn f(x: &[f64], y: &mut f64) {}"),
            "fn d (x : & [f64] , dx_0 : & mut [f64] , dx_1 : & mut [f64] , y : & mut f64 , dy_0 : & mut f64 , dy_1 : & mut f64) -> ()"
        );
        assert_eq!(sig(Mode::Forward, "d, 4, Dual, DualOnly", "fn f(x: &[f64; 2]) -> f64 { x[0] }"), "fn d (x : & [f64 ; 2] , bx_0 : & [f64 ; 2] , bx_1 : & [f64 ; 2] , bx_2 : & [f64 ; 2] , bx_3 : & [f64 ; 2]) -> [f64 ; 4usize]");
        assert!(expand_str(Mode::Forward, "d, Dual, DualOnly", "fn f(x: &f64, y: &mut f64) {}").contains("unsafe fn d"));
    }
}
