//! Enzyme-style type trees, behind rustc's type-tree C API (see [`crate::exports`]).
//!
//! A type tree maps an offset path to a concrete type: `[-1]:Pointer, [-1,0]:Float@double`
//! reads "a pointer (at any offset), pointing to a double at offset 0". `-1` means "every
//! offset". This nightly rustc never calls the API (NIGHTLY-BACKEND.md), but it resolves the
//! symbols, so they exist and behave like Enzyme's `TypeTree` for the operations rustc uses.
//! The engine has its own type analysis and does not depend on this module.
use std::collections::BTreeMap;
use std::fmt;

/// Floating-point formats, named as LLVM prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloatKind {
    Half,
    Float,
    Double,
    X86Fp80,
    BFloat16,
    Fp128,
}

impl FloatKind {
    /// Size in bytes (the stride used when a `-1` offset is expanded).
    pub fn size_bytes(self) -> i64 {
        match self {
            FloatKind::Half | FloatKind::BFloat16 => 2,
            FloatKind::Float => 4,
            FloatKind::Double => 8,
            FloatKind::X86Fp80 | FloatKind::Fp128 => 16,
        }
    }
    fn llvm_name(self) -> &'static str {
        match self {
            FloatKind::Half => "half",
            FloatKind::Float => "float",
            FloatKind::Double => "double",
            FloatKind::X86Fp80 => "x86_fp80",
            FloatKind::BFloat16 => "bfloat",
            FloatKind::Fp128 => "fp128",
        }
    }
}

/// One lattice element. `Unknown` is bottom and is never stored; `Anything` absorbs everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConcreteType {
    Anything,
    Integer,
    Pointer,
    Float(FloatKind),
    Unknown,
}

impl ConcreteType {
    /// From Enzyme's `CConcreteType` (Anything 0, Integer 1, Pointer 2, Half 3, Float 4,
    /// Double 5, Unknown 6, X86_FP80 7, BFloat16 8, FP128 9). Other values read as Unknown.
    pub fn from_c(code: u32) -> ConcreteType {
        match code {
            0 => ConcreteType::Anything,
            1 => ConcreteType::Integer,
            2 => ConcreteType::Pointer,
            3 => ConcreteType::Float(FloatKind::Half),
            4 => ConcreteType::Float(FloatKind::Float),
            5 => ConcreteType::Float(FloatKind::Double),
            7 => ConcreteType::Float(FloatKind::X86Fp80),
            8 => ConcreteType::Float(FloatKind::BFloat16),
            9 => ConcreteType::Float(FloatKind::Fp128),
            _ => ConcreteType::Unknown,
        }
    }
}

impl fmt::Display for ConcreteType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConcreteType::Anything => f.write_str("Anything"),
            ConcreteType::Integer => f.write_str("Integer"),
            ConcreteType::Pointer => f.write_str("Pointer"),
            ConcreteType::Float(k) => write!(f, "Float@{}", k.llvm_name()),
            ConcreteType::Unknown => f.write_str("Unknown"),
        }
    }
}

/// Path → type. Paths sort lexicographically, so `-1` entries come first, as in Enzyme.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypeTree {
    map: BTreeMap<Vec<i64>, ConcreteType>,
}

impl TypeTree {
    pub fn new() -> TypeTree {
        TypeTree::default()
    }

    /// The tree `{[]:ct}` describing a scalar (empty for `Unknown`).
    pub fn from_root(ct: ConcreteType) -> TypeTree {
        let mut tree = TypeTree::new();
        tree.insert(&[], ct);
        tree
    }

    pub fn get(&self, path: &[i64]) -> Option<ConcreteType> {
        self.map.get(path).copied()
    }

    pub fn entries(&self) -> impl Iterator<Item = (&[i64], ConcreteType)> {
        self.map.iter().map(|(p, t)| (p.as_slice(), *t))
    }

    /// Or-in `ct` at `path`; returns whether the tree changed. A path with `-1` replaces the
    /// concrete entries it covers with the same type; a concrete path already covered by such
    /// a `-1` entry adds nothing. Conflicts (e.g. Integer over Pointer) keep the existing entry.
    pub fn insert(&mut self, path: &[i64], ct: ConcreteType) -> bool {
        if ct == ConcreteType::Unknown {
            return false;
        }
        let covers = |general: &[i64], specific: &[i64]| {
            general.len() == specific.len()
                && general
                    .iter()
                    .zip(specific)
                    .all(|(g, s)| *g == -1 || g == s)
        };
        if self
            .map
            .iter()
            .any(|(p, t)| *t == ct && p.as_slice() != path && covers(p, path))
        {
            return false;
        }
        let before = self.map.len();
        if path.contains(&-1) {
            self.map
                .retain(|p, t| !(*t == ct && p.as_slice() != path && covers(path, p)));
        }
        let removed = self.map.len() != before;
        let changed = match self.map.get_mut(path) {
            None => {
                self.map.insert(path.to_vec(), ct);
                true
            }
            Some(ConcreteType::Anything) => false,
            Some(existing) if ct == ConcreteType::Anything => {
                *existing = ct;
                true
            }
            Some(_) => false, // equal, or a conflict: keep what is there
        };
        changed || removed
    }

    /// Union with `other`; returns whether `self` changed.
    pub fn merge(&mut self, other: &TypeTree) -> bool {
        let mut changed = false;
        for (path, ct) in other.entries() {
            changed |= self.insert(path, ct);
        }
        changed
    }

    /// Enzyme's `Only(x)`: prepends `x` to every path ("this tree, found at offset x").
    /// Paths already `max_depth` long are dropped.
    pub fn only(&self, x: i64, max_depth: usize) -> TypeTree {
        let mut out = TypeTree::new();
        for (path, ct) in self.entries().filter(|(p, _)| p.len() < max_depth) {
            let mut next = Vec::with_capacity(path.len() + 1);
            next.push(x);
            next.extend_from_slice(path);
            out.insert(&next, ct);
        }
        out
    }

    /// Enzyme's `Data0()`: what a pointer described by this tree points to. Keeps paths whose
    /// first index is `-1` or `0`, without that index (the `-1` entries take precedence).
    pub fn data0(&self) -> TypeTree {
        let mut out = TypeTree::new();
        for first in [-1, 0] {
            for (path, ct) in self.entries().filter(|(p, _)| p.first() == Some(&first)) {
                out.insert(&path[1..], ct);
            }
        }
        out
    }

    /// Enzyme's `ShiftIndices(dl, offset, max_size, add_offset)`: keeps entries whose first index
    /// lies in `[offset, offset + max_size)` (no upper bound when `max_size == -1`), moved to
    /// start at `add_offset`. A `-1` first index stays `-1` when unbounded (becoming
    /// `add_offset` if that is non-zero, as in Enzyme); when bounded it is expanded to every
    /// element offset in the window, stepping by the element size.
    pub fn shift_indices(
        &self,
        pointer_bytes: i64,
        offset: i64,
        max_size: i64,
        add_offset: i64,
    ) -> TypeTree {
        let mut out = TypeTree::new();
        for (path, ct) in self.entries() {
            let Some(&first) = path.first() else {
                if matches!(ct, ConcreteType::Pointer | ConcreteType::Anything) {
                    out.insert(path, ct);
                }
                continue;
            };
            let mut next = path.to_vec();
            if first == -1 {
                if max_size == -1 {
                    if add_offset != 0 {
                        next[0] = add_offset;
                    }
                    out.insert(&next, ct);
                    continue;
                }
                let chunk = match self.get(&[first]) {
                    Some(ConcreteType::Float(k)) => k.size_bytes(),
                    Some(ConcreteType::Pointer) => pointer_bytes,
                    _ => 1,
                };
                let mut i = (chunk - offset.rem_euclid(chunk)) % chunk;
                while i < max_size {
                    next[0] = i + add_offset;
                    out.insert(&next, ct);
                    i += chunk;
                }
                continue;
            }
            if first < offset || (max_size != -1 && first - offset >= max_size) {
                continue;
            }
            next[0] = first - offset + add_offset;
            out.insert(&next, ct);
        }
        out
    }
}

impl fmt::Display for TypeTree {
    /// Enzyme's text form: `{[-1]:Pointer, [-1,0]:Float@double}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (path, ct)) in self.entries().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let idx: Vec<String> = path.iter().map(i64::to_string).collect();
            write!(f, "{sep}[{}]:{ct}", idx.join(","))?;
        }
        f.write_str("}")
    }
}

/// Pointer size in bytes from an LLVM data-layout string (`p:64:64` / `p0:64:64:64`); 8 if absent.
pub fn pointer_bytes(data_layout: &str) -> i64 {
    data_layout
        .split('-')
        .find_map(|spec| {
            let rest = spec
                .strip_prefix("p0:")
                .or_else(|| spec.strip_prefix("p:"))?;
            rest.split(':').next()?.parse::<i64>().ok()
        })
        .map_or(8, |bits| bits / 8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConcreteType::*;
    const F64: ConcreteType = Float(FloatKind::Double);
    const F32: ConcreteType = Float(FloatKind::Float);

    fn tree(entries: &[(&[i64], ConcreteType)]) -> TypeTree {
        let mut t = TypeTree::new();
        for (p, ct) in entries {
            t.insert(p, *ct);
        }
        t
    }

    #[test]
    fn prints_like_enzyme() {
        let t = tree(&[(&[-1, 0], F64), (&[-1], Pointer), (&[8], Integer)]);
        assert_eq!(
            t.to_string(),
            "{[-1]:Pointer, [-1,0]:Float@double, [8]:Integer}"
        );
        assert_eq!(TypeTree::new().to_string(), "{}");
        assert_eq!(TypeTree::from_root(F32).to_string(), "{[]:Float@float}");
        assert_eq!(TypeTree::from_root(Unknown).to_string(), "{}");
    }

    #[test]
    fn merge_reports_change_and_keeps_existing_on_conflict() {
        let mut a = tree(&[(&[0], Pointer)]);
        assert!(a.merge(&tree(&[(&[8], F64)])));
        assert!(!a.merge(&tree(&[(&[8], F64)])));
        assert!(!a.merge(&tree(&[(&[0], Integer)])));
        assert_eq!(a.get(&[0]), Some(Pointer));
        assert!(a.merge(&tree(&[(&[0], Anything)])));
        assert_eq!(a.get(&[0]), Some(Anything));
        assert!(!a.merge(&tree(&[(&[0], Integer)])));
    }

    #[test]
    fn minus_one_subsumes_concrete_offsets() {
        let mut t = tree(&[(&[0], F32), (&[4], F32), (&[8], Integer)]);
        assert!(t.insert(&[-1], F32));
        assert_eq!(t.to_string(), "{[-1]:Float@float, [8]:Integer}");
        assert!(!t.insert(&[12], F32));
    }

    #[test]
    fn only_prepends_and_respects_depth() {
        let t = TypeTree::from_root(F64).only(-1, 6);
        assert_eq!(t.to_string(), "{[-1]:Float@double}");
        let t = t.only(-1, 6);
        assert_eq!(t.to_string(), "{[-1,-1]:Float@double}");
        assert_eq!(t.only(0, 2).to_string(), "{}");
    }

    #[test]
    fn data0_strips_leading_zero_or_any() {
        let t = tree(&[
            (&[-1], Pointer),
            (&[-1, 0], F64),
            (&[0, 8], Integer),
            (&[8, 0], F32),
        ]);
        assert_eq!(
            t.data0().to_string(),
            "{[]:Pointer, [0]:Float@double, [8]:Integer}"
        );
    }

    #[test]
    fn shift_indices_windows_and_offsets() {
        let t = tree(&[
            (&[0], Pointer),
            (&[8], F64),
            (&[16], Integer),
            (&[8, 0], F32),
        ]);
        assert_eq!(
            t.shift_indices(8, 8, 8, 0).to_string(),
            "{[0]:Float@double, [0,0]:Float@float}"
        );
        assert_eq!(
            t.shift_indices(8, 8, -1, 4).to_string(),
            "{[4]:Float@double, [4,0]:Float@float, [12]:Integer}"
        );
        let any = tree(&[(&[-1], F32)]);
        assert_eq!(
            any.shift_indices(8, 0, -1, 0).to_string(),
            "{[-1]:Float@float}"
        );
        assert_eq!(
            any.shift_indices(8, 0, 8, 0).to_string(),
            "{[0]:Float@float, [4]:Float@float}"
        );
        assert_eq!(
            any.shift_indices(8, 2, 8, 100).to_string(),
            "{[102]:Float@float, [106]:Float@float}"
        );
    }

    #[test]
    fn data_layout_pointer_size() {
        assert_eq!(
            pointer_bytes(
                "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
            ),
            8
        );
        assert_eq!(pointer_bytes("e-p:32:32-i64:64"), 4);
    }
}
