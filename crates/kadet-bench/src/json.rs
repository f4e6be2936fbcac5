//! Low-level helpers for writing JSON text by hand into byte buffers.
//!
//! The generator never builds a `serde_json::Value` per event: it appends
//! literal fragments and escaped strings to a reusable `Vec<u8>`. Strings are
//! escaped the way Go's `encoding/json` does it (which is what kube-apiserver
//! uses), including `<`, `>` and `&` as `\u003c`, `\u003e` and `\u0026`.

/// Byte classes for the escaper: 0 = copy as is, otherwise the byte needs an
/// escape sequence.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'&' as usize] = true;
    t
};

/// Same as `NEEDS_ESCAPE` but without Go's HTML escaping; used when a JSON
/// document is embedded as a string inside an outer envelope written by a
/// non-Go producer (CloudWatch Logs, Azure diagnostics).
const NEEDS_ESCAPE_PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

#[inline]
fn escape_with(out: &mut Vec<u8>, s: &[u8], table: &[bool; 256]) {
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        if !table[b as usize] {
            continue;
        }
        if start < i {
            out.extend_from_slice(&s[start..i]);
        }
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    if start < s.len() {
        out.extend_from_slice(&s[start..]);
    }
}

/// Appends the contents of a JSON string (without the surrounding quotes),
/// escaped like Go's encoder does.
#[inline]
pub fn esc(out: &mut Vec<u8>, s: &str) {
    escape_with(out, s.as_bytes(), &NEEDS_ESCAPE);
}

/// Appends `"s"` (quoted and escaped, Go style).
#[inline]
pub fn qstr(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    esc(out, s);
    out.push(b'"');
}

/// Appends raw bytes (usually a whole JSON document) escaped so that they can
/// be placed between the quotes of an outer JSON string. Only `"`, `\` and
/// control characters are escaped.
#[inline]
pub fn esc_embedded(out: &mut Vec<u8>, s: &[u8]) {
    escape_with(out, s, &NEEDS_ESCAPE_PLAIN);
}

/// Appends the decimal representation of `v`.
#[inline]
pub fn uint(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Writes a random-looking UUID (version 4 layout) from 128 random bits.
pub fn uuid_into(out: &mut [u8; 36], hi: u64, lo: u64) {
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    let bits = ((hi as u128) << 64) | lo as u128;
    let mut nib = 32;
    for (i, slot) in out.iter_mut().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            *slot = b'-';
        } else {
            nib -= 1;
            *slot = HEX[((bits >> (4 * nib)) & 0xf) as usize];
        }
    }
}

/// Converts days since 1970-01-01 to a (year, month, day) civil date.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Converts a civil date to days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[inline]
fn two(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// Formats microseconds since the epoch as RFC 3339 in UTC with `frac`
/// fractional digits (0, 3, 6, 7 or 9; 7 and 9 pad the microseconds with
/// zeros the way Azure and Google timestamps look).
pub fn ts(out: &mut Vec<u8>, us: i64, frac: u32) {
    let secs = us.div_euclid(1_000_000);
    let micros = us.rem_euclid(1_000_000) as u64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    uint(out, y as u64);
    out.push(b'-');
    two(out, m);
    out.push(b'-');
    two(out, d);
    out.push(b'T');
    two(out, sod / 3600);
    out.push(b':');
    two(out, (sod / 60) % 60);
    out.push(b':');
    two(out, sod % 60);
    match frac {
        0 => {}
        3 => {
            out.push(b'.');
            let ms = micros / 1000;
            out.push(b'0' + (ms / 100) as u8);
            two(out, (ms % 100) as u32);
        }
        6 => {
            out.push(b'.');
            let s = micros;
            out.push(b'0' + (s / 100_000) as u8);
            two(out, ((s / 1000) % 100) as u32);
            out.push(b'0' + ((s / 100) % 10) as u8);
            two(out, (s % 100) as u32);
        }
        7 => {
            out.push(b'.');
            let s = micros;
            out.push(b'0' + (s / 100_000) as u8);
            two(out, ((s / 1000) % 100) as u32);
            out.push(b'0' + ((s / 100) % 10) as u8);
            two(out, (s % 100) as u32);
            out.push(b'0');
        }
        _ => {
            out.push(b'.');
            let s = micros;
            out.push(b'0' + (s / 100_000) as u8);
            two(out, ((s / 1000) % 100) as u32);
            out.push(b'0' + ((s / 100) % 10) as u8);
            two(out, (s % 100) as u32);
            out.extend_from_slice(b"000");
        }
    }
    out.push(b'Z');
}

/// Microseconds since the epoch of midnight UTC on the given date.
pub fn day_start_us(y: i64, m: u32, d: u32) -> i64 {
    days_from_civil(y, m, d) * 86_400 * 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        let mut v = Vec::new();
        qstr(&mut v, "a&b<c>\"d\\e\nf\u{1}");
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            r#""a\u0026b\u003cc\u003e\"d\\e\nf\u0001""#
        );
        let back: String = serde_json::from_slice(&v).unwrap();
        assert_eq!(back, "a&b<c>\"d\\e\nf\u{1}");
    }

    #[test]
    fn embedded_roundtrip() {
        let doc = br#"{"a":"x\u0026y","b":"q\"z"}"#;
        let mut v = vec![b'"'];
        esc_embedded(&mut v, doc);
        v.push(b'"');
        let back: String = serde_json::from_slice(&v).unwrap();
        assert_eq!(back.as_bytes(), doc);
    }

    #[test]
    fn numbers() {
        let mut v = Vec::new();
        uint(&mut v, 0);
        v.push(b' ');
        uint(&mut v, 18_446_744_073_709_551_615);
        assert_eq!(std::str::from_utf8(&v).unwrap(), "0 18446744073709551615");
    }

    #[test]
    fn timestamps() {
        let base = day_start_us(2026, 11, 2);
        let mut v = Vec::new();
        ts(&mut v, base + 10 * 3_600_000_000 + 123_456, 6);
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            "2026-11-02T10:00:00.123456Z"
        );
        v.clear();
        ts(&mut v, base + 86_399_999_999, 3);
        assert_eq!(std::str::from_utf8(&v).unwrap(), "2026-11-02T23:59:59.999Z");
        v.clear();
        ts(&mut v, base + 86_400_000_000 + 7, 9);
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            "2026-11-03T00:00:00.000007000Z"
        );
        v.clear();
        ts(&mut v, 0, 0);
        assert_eq!(std::str::from_utf8(&v).unwrap(), "1970-01-01T00:00:00Z");
        for d in [-1000i64, 0, 59, 60, 365, 10_000, 20_759, 50_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn uuid_shape() {
        let mut u = [0u8; 36];
        uuid_into(&mut u, 0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
        let s = std::str::from_utf8(&u).unwrap();
        assert_eq!(s, "01234567-89ab-4def-bedc-ba9876543210");
    }
}
