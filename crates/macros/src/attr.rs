//! The attribute's argument list: `NAME [, WIDTH] (, ACTIVITY)*` (SEMANTICS.md §2).

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::{Ident, LitInt};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Forward,
    Reverse,
}

impl Mode {
    pub fn word(self) -> &'static str {
        match self {
            Mode::Forward => "Forward",
            Mode::Reverse => "Reverse",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    Const,
    Active,
    ActiveOnly,
    Dual,
    DualOnly,
    Dualv,
    DualvOnly,
    Duplicated,
    DuplicatedOnly,
}

impl Activity {
    fn parse(word: &str) -> Option<Activity> {
        Some(match word {
            "Const" => Activity::Const,
            "Active" => Activity::Active,
            "ActiveOnly" => Activity::ActiveOnly,
            "Dual" => Activity::Dual,
            "DualOnly" => Activity::DualOnly,
            "Dualv" => Activity::Dualv,
            "DualvOnly" => Activity::DualvOnly,
            "Duplicated" => Activity::Duplicated,
            "DuplicatedOnly" => Activity::DuplicatedOnly,
            _ => return None,
        })
    }

    pub fn word(self) -> &'static str {
        match self {
            Activity::Const => "Const",
            Activity::Active => "Active",
            Activity::ActiveOnly => "ActiveOnly",
            Activity::Dual => "Dual",
            Activity::DualOnly => "DualOnly",
            Activity::Dualv => "Dualv",
            Activity::DualvOnly => "DualvOnly",
            Activity::Duplicated => "Duplicated",
            Activity::DuplicatedOnly => "DuplicatedOnly",
        }
    }

    /// Allowed on an input in this mode (`valid_input_activity` upstream).
    pub fn valid_input(self, mode: Mode) -> bool {
        use Activity::*;
        match mode {
            Mode::Forward => matches!(self, Const | Dual | DualOnly | Dualv | DualvOnly),
            Mode::Reverse => matches!(self, Const | Active | ActiveOnly | Duplicated | DuplicatedOnly),
        }
    }

    /// Allowed on the return value in this mode (`valid_ret_activity` upstream).
    pub fn valid_return(self, mode: Mode) -> bool {
        use Activity::*;
        match mode {
            Mode::Forward => matches!(self, Const | Dual | DualOnly | Dualv | DualvOnly),
            Mode::Reverse => matches!(self, Const | Active | ActiveOnly),
        }
    }

    /// The generated function is `unsafe` when an input has one of these (the primal effects on
    /// that argument may be skipped).
    pub fn is_only_input(self) -> bool {
        matches!(self, Activity::DualOnly | Activity::DuplicatedOnly)
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub name: Ident,
    pub width: u32,
    pub activities: Vec<(Activity, Span)>,
    /// Span of the whole argument list, for count errors.
    pub span: Span,
}

/// Splits the list at top-level commas.
fn split(args: TokenStream) -> Vec<TokenStream> {
    let mut parts = vec![TokenStream::new()];
    for tt in args {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == ',' => parts.push(TokenStream::new()),
            _ => parts.last_mut().unwrap().extend([tt]),
        }
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// Parses the argument list. Unknown activities and bad widths are all reported (upstream
/// reports them first and then emits no generated function).
pub fn parse(args: TokenStream, item_span: Span) -> Result<Config, syn::Error> {
    let span = if args.is_empty() { item_span } else { args.span() };
    let parts = split(args);
    let Some(first) = parts.first() else {
        return Err(syn::Error::new(item_span, "autodiff requires at least a name and mode"));
    };
    let name: Ident = syn::parse2(first.clone())
        .map_err(|_| syn::Error::new(first.span(), "autodiff expects the name of the function to generate first"))?;
    let mut rest = &parts[1..];
    let mut width = 1u32;
    let mut errors: Vec<syn::Error> = Vec::new();
    if let Some(Ok(lit)) = rest.first().map(|p| syn::parse2::<LitInt>(p.clone())) {
        match lit.base10_parse::<u128>() {
            Ok(w) if w > u32::MAX as u128 => {
                errors.push(syn::Error::new(lit.span(), format!("autodiff width must fit u32, but is {w}")))
            }
            Ok(0) => errors.push(syn::Error::new(lit.span(), "autodiff width must be at least 1")),
            Ok(w) => width = w as u32,
            Err(e) => errors.push(e),
        }
        rest = &rest[1..];
    }
    let mut activities = Vec::new();
    for p in rest {
        let text = p.to_string();
        match syn::parse2::<Ident>(p.clone()).ok().and_then(|i| Activity::parse(&i.to_string())) {
            Some(a) => activities.push((a, p.span())),
            None => errors.push(syn::Error::new(p.span(), format!("did not recognize Activity: `{text}`"))),
        }
    }
    if let Some(mut e) = errors.pop() {
        for other in errors {
            e.combine(other);
        }
        return Err(e);
    }
    Ok(Config { name, width, activities, span })
}
