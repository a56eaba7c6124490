//! libbpf's section names for tc classifiers: `tc`, `tc/ingress`, `tc/egress`,
//! `tcx/ingress`, `tcx/egress` and the older `action` (beside `classifier`, which aya
//! knows). aya 0.14 refuses an object whose program sits in one of them ("invalid program
//! section `tc`"), so both the checker and the loader hand aya a copy of the object in
//! which each such section is renamed `classifier/NAME` (`classifier/tc/ingress`): the
//! ELF section names get a new string table appended at the end of the file, and so do
//! the names in the BTF string table that `.BTF.ext` (func/line info, CO-RE relocations)
//! uses to find the section — so BTF, line info and relocations keep working. Everything
//! else is byte for byte the same; the object's hash is that of the original file, and the
//! names shown to the user are the original ones.
//!
//! Pure: bytes in, bytes out. Only 64-bit little-endian ELF (every BPF object clang makes
//! on x86/arm hosts); anything else is returned unchanged, for aya to judge.

use std::borrow::Cow;

/// The sections libbpf loads as tc classifiers that aya does not know.
pub const LIBBPF_TC_SECTIONS: [&str; 6] = ["tc", "tc/ingress", "tc/egress", "tcx/ingress", "tcx/egress", "action"];

/// The attach direction a section name implies: `Some(true)` ingress, `Some(false)`
/// egress, `None` either.
pub fn section_direction(section: &str) -> Option<bool> {
    match section.split_once('/').map(|(_, d)| d) {
        Some("ingress") if section.starts_with("tc") => Some(true),
        Some("egress") if section.starts_with("tc") => Some(false),
        _ => None,
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
fn cstr(b: &[u8], at: usize) -> Option<&str> {
    let rest = b.get(at..)?;
    std::str::from_utf8(&rest[..rest.iter().position(|c| *c == 0)?]).ok()
}

struct Header {
    at: usize,
    name: u32,
    offset: usize,
    size: usize,
}

/// `bytes` with libbpf's tc section names renamed for aya (see the module doc); the
/// input itself when it has none, or is not a 64-bit little-endian ELF.
pub fn aya_compatible(bytes: &[u8]) -> Cow<'_, [u8]> {
    rename(bytes).map(Cow::Owned).unwrap_or(Cow::Borrowed(bytes))
}

fn rename(bytes: &[u8]) -> Option<Vec<u8>> {
    // ELF64 (class 2), little-endian (data 1).
    if bytes.get(..4)? != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return None;
    }
    let shoff = u64_at(bytes, 0x28)? as usize;
    let shentsize = u16_at(bytes, 0x3a)? as usize;
    let shnum = u16_at(bytes, 0x3c)? as usize;
    let shstrndx = u16_at(bytes, 0x3e)? as usize;
    if shentsize < 64 {
        return None;
    }
    let mut headers = Vec::with_capacity(shnum);
    for i in 0..shnum {
        let at = shoff.checked_add(i.checked_mul(shentsize)?)?;
        headers.push(Header { at, name: u32_at(bytes, at)?, offset: u64_at(bytes, at + 24)? as usize, size: u64_at(bytes, at + 32)? as usize });
    }
    let strtab = headers.get(shstrndx)?;
    let names = bytes.get(strtab.offset..strtab.offset.checked_add(strtab.size)?)?;
    let name_of = |h: &Header| cstr(names, h.name as usize);
    let renamed: Vec<usize> = (0..shnum).filter(|&i| name_of(&headers[i]).is_some_and(|n| LIBBPF_TC_SECTIONS.contains(&n))).collect();
    if renamed.is_empty() {
        return None;
    }
    let mut out = bytes.to_vec();
    // The section names: a new string table at the end of the file.
    let mut new_names = names.to_vec();
    for &i in &renamed {
        let old = name_of(&headers[i])?.to_string();
        put_u32(&mut out, headers[i].at, new_names.len() as u32);
        new_names.extend_from_slice(format!("classifier/{old}\0").as_bytes());
    }
    let mut moves = vec![(shstrndx, new_names)];
    // The BTF string table and the section references of .BTF.ext.
    let btf = (0..shnum).find(|&i| name_of(&headers[i]) == Some(".BTF"));
    let ext = (0..shnum).find(|&i| name_of(&headers[i]) == Some(".BTF.ext"));
    if let (Some(btf), Some(ext)) = (btf, ext) {
        let old_names: Vec<String> = renamed.iter().filter_map(|&i| name_of(&headers[i]).map(str::to_string)).collect();
        if let Some(new_btf) = rename_btf(bytes, &mut out, &headers[btf], &headers[ext], &old_names) {
            moves.push((btf, new_btf));
        }
    }
    for (i, data) in moves {
        let at = headers[i].at;
        let end = out.len() as u64;
        put_u64(&mut out, at + 24, end);
        put_u64(&mut out, at + 32, data.len() as u64);
        out.extend_from_slice(&data);
    }
    Some(out)
}

/// Appends `classifier/NAME` for each renamed section to the BTF strings and points the
/// `.BTF.ext` section records (in `out`) at them; returns the new `.BTF` contents.
fn rename_btf(bytes: &[u8], out: &mut [u8], btf: &Header, ext: &Header, old_names: &[String]) -> Option<Vec<u8>> {
    let data = bytes.get(btf.offset..btf.offset.checked_add(btf.size)?)?;
    if u16_at(data, 0)? != 0xeb9f {
        return None;
    }
    let hdr_len = u32_at(data, 4)? as usize;
    let str_off = u32_at(data, 16)? as usize;
    let str_len = u32_at(data, 20)? as usize;
    let strings_start = hdr_len + str_off;
    // Appending is only safe when the strings end the section (as clang lays it out).
    if strings_start + str_len != data.len() {
        return None;
    }
    let mut new = data.to_vec();
    let mut map: Vec<(u32, u32)> = Vec::new();
    for name in old_names {
        // The old name's offset in the BTF strings (search the whole table).
        let strings = &data[strings_start..];
        let mut at = 0;
        let mut old_off = None;
        while at < strings.len() {
            let s = cstr(strings, at)?;
            if s == name {
                old_off = Some(at as u32);
                break;
            }
            at += s.len() + 1;
        }
        let Some(old_off) = old_off else { continue };
        map.push((old_off, (new.len() - strings_start) as u32));
        new.extend_from_slice(format!("classifier/{name}\0").as_bytes());
    }
    let len = (new.len() - strings_start) as u32;
    put_u32(&mut new, 20, len);
    // .BTF.ext: func_info, line_info and (when present) core_relo blocks.
    let e = ext.offset;
    let ext_data = bytes.get(e..e.checked_add(ext.size)?)?;
    if u16_at(ext_data, 0)? != 0xeb9f {
        return None;
    }
    let ext_hdr = u32_at(ext_data, 4)? as usize;
    let mut blocks = vec![(u32_at(ext_data, 8)?, u32_at(ext_data, 12)?), (u32_at(ext_data, 16)?, u32_at(ext_data, 20)?)];
    if ext_hdr >= 32 {
        blocks.push((u32_at(ext_data, 24)?, u32_at(ext_data, 28)?));
    }
    for (off, len) in blocks {
        if len == 0 {
            continue;
        }
        let start = ext_hdr + off as usize;
        let end = start + len as usize;
        let rec_size = u32_at(ext_data, start)? as usize;
        let mut at = start + 4;
        while at + 8 <= end {
            let sec = u32_at(ext_data, at)?;
            let n = u32_at(ext_data, at + 4)? as usize;
            if let Some(&(_, new_off)) = map.iter().find(|(o, _)| *o == sec) {
                put_u32(out, e + at, new_off);
            }
            at += 8 + n.checked_mul(rec_size)?;
        }
    }
    Some(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_of_section_names() {
        assert_eq!(section_direction("tcx/ingress"), Some(true));
        assert_eq!(section_direction("tc/egress"), Some(false));
        assert_eq!(section_direction("tc"), None);
        assert_eq!(section_direction("classifier/ingress"), None);
    }

    #[test]
    fn other_bytes_pass_unchanged() {
        assert!(matches!(aya_compatible(b"garbage"), Cow::Borrowed(_)));
        assert!(matches!(aya_compatible(&[]), Cow::Borrowed(_)));
    }
}
