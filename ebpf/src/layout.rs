//! The layout test: the map types of [`super`] against the BTF of the program as built.
//!
//! clang writes the program's types into its `.BTF` section (the format of the kernel's
//! `Documentation/bpf/btf.rst`). This test reads that section from the embedded object with a
//! small parser of its own and checks, for each shared struct, its size and each field's name
//! and offset against `size_of`/`offset_of!` here; for each map, its key and value sizes; and
//! that the counters map has one entry per [`Reason`]. A field added, moved or resized on one
//! side only fails it.

use core::mem::{offset_of, size_of};

use object::{Object, ObjectSection};

use super::*;
use crate::verdict::Reason;

/// BTF kinds used here (`include/uapi/linux/btf.h`).
const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// One BTF type: its kind, name, size-or-type word, and its members or array/var extras.
#[derive(Debug, Clone)]
struct BtfType {
    kind: u32,
    name: String,
    /// `size` for INT/STRUCT/UNION/ENUM, `type` for PTR/TYPEDEF/VAR/modifiers.
    size_or_type: u32,
    /// STRUCT/UNION members: (name, type id, bit offset); DATASEC entries: ("", var id, offset).
    members: Vec<(String, u32, u32)>,
    /// ARRAY: (element type, number of elements).
    array: Option<(u32, u32)>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn string_at(strings: &[u8], off: u32) -> String {
    let s = &strings[off as usize..];
    let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    String::from_utf8_lossy(&s[..end]).into_owned()
}

/// Parses a little-endian `.BTF` section: type id `i` is `types[i]` (id 0 is void).
fn parse_btf(btf: &[u8]) -> Vec<BtfType> {
    assert_eq!(
        &btf[0..2],
        &[0x9f, 0xeb],
        "BTF magic (little-endian object)"
    );
    let hdr_len = u32_at(btf, 4) as usize;
    let (type_off, type_len) = (u32_at(btf, 8) as usize, u32_at(btf, 12) as usize);
    let (str_off, str_len) = (u32_at(btf, 16) as usize, u32_at(btf, 20) as usize);
    let types = &btf[hdr_len + type_off..hdr_len + type_off + type_len];
    let strings = &btf[hdr_len + str_off..hdr_len + str_off + str_len];

    let mut out = vec![BtfType {
        kind: 0,
        name: "void".into(),
        size_or_type: 0,
        members: vec![],
        array: None,
    }];
    let mut at = 0;
    while at < types.len() {
        let name = string_at(strings, u32_at(types, at));
        let info = u32_at(types, at + 4);
        let size_or_type = u32_at(types, at + 8);
        at += 12;
        let kind = (info >> 24) & 0x1f;
        let vlen = (info & 0xffff) as usize;
        let kind_flag = info >> 31 == 1;
        let mut t = BtfType {
            kind,
            name,
            size_or_type,
            members: vec![],
            array: None,
        };
        match kind {
            KIND_INT | KIND_VAR | KIND_DECL_TAG => at += 4,
            KIND_ARRAY => {
                t.array = Some((u32_at(types, at), u32_at(types, at + 8)));
                at += 12;
            }
            KIND_STRUCT | KIND_UNION => {
                for _ in 0..vlen {
                    let m = string_at(strings, u32_at(types, at));
                    let ty = u32_at(types, at + 4);
                    let off = u32_at(types, at + 8);
                    // With kind_flag the low 24 bits are the bit offset, the high 8 a bitfield size.
                    let bits = if kind_flag { off & 0x00ff_ffff } else { off };
                    t.members.push((m, ty, bits));
                    at += 12;
                }
            }
            KIND_ENUM | KIND_FUNC_PROTO => at += 8 * vlen,
            KIND_DATASEC => {
                for _ in 0..vlen {
                    t.members
                        .push((String::new(), u32_at(types, at), u32_at(types, at + 4)));
                    at += 12;
                }
            }
            KIND_ENUM64 => at += 12 * vlen,
            _ => {} // PTR, FWD, TYPEDEF, modifiers, FUNC, FLOAT, TYPE_TAG: nothing more.
        }
        out.push(t);
    }
    out
}

/// The size in bytes of type `id`, through typedefs and modifiers.
fn size_of_type(types: &[BtfType], id: u32) -> u32 {
    let t = &types[id as usize];
    match t.kind {
        KIND_INT | KIND_STRUCT | KIND_UNION | KIND_ENUM | KIND_ENUM64 => t.size_or_type,
        KIND_PTR => 8,
        KIND_ARRAY => {
            let (elem, n) = t.array.unwrap_or_default();
            size_of_type(types, elem) * n
        }
        KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
            size_of_type(types, t.size_or_type)
        }
        k => panic!("size of BTF kind {k} ({})", t.name),
    }
}

/// The embedded object's BTF.
fn program_btf() -> Vec<BtfType> {
    let file = object::File::parse(crate::program::OBJECT).expect("the embedded object is ELF");
    let section = file.section_by_name(".BTF").expect("built with -g: .BTF");
    parse_btf(section.data().expect(".BTF data"))
}

/// The named struct.
fn find_struct<'a>(types: &'a [BtfType], name: &str) -> &'a BtfType {
    types
        .iter()
        .find(|t| t.kind == KIND_STRUCT && t.name == name)
        .unwrap_or_else(|| panic!("struct {name} not in the program's BTF"))
}

/// Checks `struct c_name` against a Rust type of `size` bytes with `fields` (name, byte offset,
/// byte size).
fn check_struct(types: &[BtfType], c_name: &str, size: usize, fields: &[(&str, usize, usize)]) {
    let s = find_struct(types, c_name);
    assert_eq!(s.size_or_type as usize, size, "size of struct {c_name}");
    let c_fields: Vec<(&str, usize, usize)> = s
        .members
        .iter()
        .map(|(n, ty, bits)| {
            (
                n.as_str(),
                *bits as usize / 8,
                size_of_type(types, *ty) as usize,
            )
        })
        .collect();
    assert_eq!(
        c_fields, fields,
        "fields (name, byte offset, byte size) of struct {c_name}"
    );
}

/// `(name, offset, size)` of field `$f` of `$t` (which implements `Default`).
macro_rules! field {
    ($t:ty, $f:ident) => {
        (
            stringify!($f),
            offset_of!($t, $f),
            core::mem::size_of_val(&<$t>::default().$f),
        )
    };
}

/// The BTF map definition of `name` (the anonymous struct of `SEC(".maps")`): its members.
fn map_def<'a>(types: &'a [BtfType], name: &str) -> &'a BtfType {
    let var = types
        .iter()
        .position(|t| t.kind == KIND_VAR && t.name == name)
        .unwrap_or_else(|| panic!("map {name} not in the program's BTF"));
    let maps = types
        .iter()
        .find(|t| t.kind == KIND_DATASEC && t.name == ".maps")
        .expect(".maps section in BTF");
    assert!(
        maps.members.iter().any(|(_, id, _)| *id as usize == var),
        "{name} is in .maps"
    );
    &types[types[var].size_or_type as usize]
}

/// A member of a map definition: `__type(key/value, T)` is `T *`, `__uint(x, N)` is `int (*)[N]`.
fn map_member(types: &[BtfType], def: &BtfType, member: &str) -> u32 {
    let (_, id, _) = def
        .members
        .iter()
        .find(|(n, _, _)| n == member)
        .unwrap_or_else(|| panic!("map member {member}"));
    let ptr = &types[*id as usize];
    assert_eq!(ptr.kind, KIND_PTR, "{member} is a pointer");
    ptr.size_or_type
}

fn map_uint(types: &[BtfType], name: &str, member: &str) -> u32 {
    let def = map_def(types, name);
    let array = &types[map_member(types, def, member) as usize];
    array.array.map(|(_, n)| n).expect("__uint is an array")
}

fn map_sizes(types: &[BtfType], name: &str) -> (u32, u32) {
    let def = map_def(types, name);
    let key = map_member(types, def, "key");
    let value = map_member(types, def, "value");
    (size_of_type(types, key), size_of_type(types, value))
}

#[test]
fn shared_structs_match_the_program() {
    let types = program_btf();
    check_struct(
        &types,
        "port_entry",
        size_of::<PortEntry>(),
        &[field!(PortEntry, cpu), field!(PortEntry, state)],
    );
    check_struct(
        &types,
        "portico_config",
        size_of::<Config>(),
        &[
            field!(Config, media_first),
            field!(Config, media_last),
            field!(Config, steering),
            field!(Config, rate_pps),
            field!(Config, rate_burst),
        ],
    );
    check_struct(
        &types,
        "verdict_counter",
        size_of::<VerdictCounter>(),
        &[
            field!(VerdictCounter, packets),
            field!(VerdictCounter, bytes),
        ],
    );
    check_struct(
        &types,
        "src_addr",
        size_of::<SrcAddr>(),
        &[field!(SrcAddr, addr)],
    );
    check_struct(
        &types,
        "ban_entry",
        size_of::<BanEntry>(),
        &[field!(BanEntry, expires_ns)],
    );
    check_struct(
        &types,
        "rate_state",
        size_of::<RateState>(),
        &[field!(RateState, tat_ns)],
    );
}

#[test]
fn maps_have_the_shared_key_and_value_sizes() {
    let types = program_btf();
    let size = |n: usize| n as u32;
    assert_eq!(
        map_sizes(&types, MAP_PORT_TABLE),
        (4, size(size_of::<PortEntry>()))
    );
    assert_eq!(
        map_sizes(&types, MAP_COUNTERS),
        (4, size(size_of::<VerdictCounter>()))
    );
    assert_eq!(
        map_sizes(&types, MAP_BAN_V4),
        (size(size_of::<u32>()), size(size_of::<BanEntry>()))
    );
    assert_eq!(
        map_sizes(&types, MAP_BAN_V6),
        (size(size_of::<SrcAddr>()), size(size_of::<BanEntry>()))
    );
    assert_eq!(
        map_sizes(&types, MAP_RATE_BUCKETS),
        (size(size_of::<SrcAddr>()), size(size_of::<RateState>()))
    );
    assert_eq!(
        map_sizes(&types, MAP_CONFIG),
        (4, size(size_of::<Config>()))
    );
    assert_eq!(map_uint(&types, MAP_CONFIG, "max_entries"), 1);
    assert_eq!(
        map_uint(&types, MAP_PORT_TABLE, "max_entries"),
        PORT_TABLE_SIZE
    );
}

#[test]
fn one_counter_per_reason() {
    let types = program_btf();
    assert_eq!(
        map_uint(&types, MAP_COUNTERS, "max_entries") as usize,
        Reason::ALL.len(),
        "REASON_COUNT in bpf/constants.h against verdict::Reason"
    );
}
