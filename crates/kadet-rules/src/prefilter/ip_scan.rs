//! The scan for the text of non-private IP addresses, which stands in for a
//! literal when a rule tests for a public address.

use crate::expr::is_private;

/// Calls `found` with the offset of each IP address text in `text` that is
/// not private, until it returns `false`. A superset of what the evaluator
/// sees: every string value that parses (trimmed) as such an address is
/// written in the record as a maximal run of address characters, perhaps
/// with the hex digits of a `\uXXXX` escape (trimmed whitespace) glued
/// before it. Runs of IPv6 characters need two colons.
pub(super) fn find_non_private_ips(text: &[u8], mut found: impl FnMut(usize) -> bool) {
    if scan(text, &IPV4, &mut found) {
        scan(text, &IPV6, &mut found);
    }
}

/// How the text of one address family is found.
struct Family {
    /// The separator of groups.
    sep: u8,
    /// At least this many separators.
    min_seps: usize,
    /// Consecutive separators at most this many bytes apart.
    max_gap: usize,
    /// At most this long.
    max_len: usize,
    /// Its characters in [`ADDRESS_BYTES`].
    class: u8,
    /// Reads a run of them.
    parse: fn(&[u8]) -> Option<std::net::IpAddr>,
}

const IPV4: Family = Family {
    sep: b'.',
    min_seps: 3,
    max_gap: 4,
    max_len: 15,
    class: V4,
    parse: parse_dotted_quad,
};

const IPV6: Family = Family {
    sep: b':',
    min_seps: 2,
    max_gap: 5,
    max_len: 45,
    class: V6,
    parse: parse_v6,
};

/// Address characters: [`V4`] for IPv4 text (digits, `.`), [`V6`] for IPv6
/// text (hex digits, `:`, `.`).
const V4: u8 = 1;
const V6: u8 = 2;
static ADDRESS_BYTES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_digit() || c == b'.' {
            t[b] |= V4;
        }
        if c.is_ascii_hexdigit() || c == b':' || c == b'.' {
            t[b] |= V6;
        }
        b += 1;
    }
    t
};

/// One pass for the addresses of one family; `false` when `found` asked to
/// stop.
///
/// In an address, consecutive separators are at most `max_gap` bytes apart
/// (a group is at most 3 digits, or 4 hex digits), so only a separator
/// followed that closely by the next one is looked at: a colon is in every
/// few bytes of JSON, nearly always far from the next one.
fn scan(text: &[u8], family: &Family, found: &mut impl FnMut(usize) -> bool) -> bool {
    let Family {
        sep,
        max_gap,
        class,
        ..
    } = *family;
    let in_run = |b: u8| ADDRESS_BYTES[usize::from(b)] & class != 0;
    let mut done = 0;
    let mut previous = None;
    for next in memchr::memchr_iter(sep, text) {
        let Some(at) = previous.replace(next) else {
            continue;
        };
        if next - at > max_gap || at < done {
            continue;
        }
        let mut s = at;
        while s > 0 && in_run(text[s - 1]) {
            s -= 1;
        }
        let mut e = at + 1;
        while e < text.len() && in_run(text[e]) {
            e += 1;
        }
        done = e;
        if is_public_address(text, s, e, family) && !found(s) {
            return false;
        }
    }
    true
}

/// True when the run of address characters `text[s..e]` is the text of a
/// non-private address of `family`, perhaps after the hex digits of a
/// `\uXXXX` escape glued before it.
fn is_public_address(text: &[u8], s: usize, e: usize, family: &Family) -> bool {
    let run = &text[s..e];
    if run.len() > family.max_len + 4
        || run.iter().filter(|&&b| b == family.sep).count() < family.min_seps
    {
        return false;
    }
    let glued = (0..4)
        .find(|&j| {
            s >= j + 2
                && text[s - j - 2] == b'\\'
                && text[s - j - 1] == b'u'
                && text.len() >= s - j + 4
                && text[s - j..s - j + 4].iter().all(u8::is_ascii_hexdigit)
        })
        .map_or(0, |j| 4 - j);
    [0, glued]
        .into_iter()
        .filter(|&k| k <= run.len())
        .any(|k| (family.parse)(&run[k..]).is_some_and(|ip| !is_private(ip)))
}

/// Parses IPv6 text. It has a `::` or at least six colons (seven, or six
/// and an IPv4 tail): times of day (`10:00:00.123`) are not parsed.
fn parse_v6(run: &[u8]) -> Option<std::net::IpAddr> {
    let colons = run.iter().filter(|&&b| b == b':').count();
    if colons < 6 && !run.windows(2).any(|w| w == b"::") {
        return None;
    }
    std::str::from_utf8(run)
        .ok()
        .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok())
        .map(std::net::IpAddr::V6)
}

/// Parses `a.b.c.d` (each part 1 to 3 digits, at most 255). Accepts at
/// least what the standard library accepts, with the same value.
fn parse_dotted_quad(run: &[u8]) -> Option<std::net::IpAddr> {
    let mut octets = [0u8; 4];
    let mut parts = run.split(|&b| b == b'.');
    for o in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 {
            return None;
        }
        let mut v = 0u16;
        for &b in part {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u16::from(b - b'0');
        }
        *o = u8::try_from(v).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(std::net::IpAddr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(text: &str) -> Vec<usize> {
        let mut out = Vec::new();
        find_non_private_ips(text.as_bytes(), |at| {
            out.push(at);
            true
        });
        out
    }

    #[test]
    fn non_private_addresses_are_found_in_the_text() {
        assert_eq!(ips(r#"{"sourceIPs":["8.8.8.8"]}"#), vec![15]);
        assert_eq!(
            ips(r#"{"sourceIPs":["10.0.0.1","172.16.6.116"]}"#),
            Vec::<usize>::new()
        );
        assert_eq!(ips(r#"{"ip":"2600:1f18::1"}"#).len(), 1);
        assert!(!ips(r#"{"ip":"::ffff:8.8.8.8"}"#).is_empty());
        assert!(
            ips(r#"{"ip":"fd00::1","t":"10:00:00","arn":"arn:aws:iam::123456789012:role/x"}"#)
                .is_empty()
        );
        // A trimmed escaped space glued before the address.
        assert_eq!(ips(r#"{"ip":" 8.8.8.8"}"#).len(), 1);
        // Stripping digits off a private address does not make a public one.
        assert!(ips(r#"{"ip":"172.16.40.247"}"#).is_empty());
    }

    /// The reference: every maximal run of address characters around any
    /// separator, checked (the scan without the gap test).
    fn every_run(text: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        for family in [&IPV4, &IPV6] {
            let in_run = |b: u8| ADDRESS_BYTES[usize::from(b)] & family.class != 0;
            for at in memchr::memchr_iter(family.sep, text) {
                let (mut s, mut e) = (at, at + 1);
                while s > 0 && in_run(text[s - 1]) {
                    s -= 1;
                }
                while e < text.len() && in_run(text[e]) {
                    e += 1;
                }
                if is_public_address(text, s, e, family) {
                    out.push(s);
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    proptest::proptest! {
        /// Looking only at separators closely followed by another finds
        /// every address the scan of every separator finds.
        #[test]
        fn the_gap_test_loses_no_address(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "8.8.8.8", "10.0.0.1", "151.101.193.140", "2600:1f18::1",
                    "2600:1f18:abcd:1234:5:6:7:8", "::ffff:8.8.8.8", "fd00::1",
                    "\\u00208.8.8.8", "\"", ":", ".", "a", "1", "12", "123", "1234",
                    "ff", "::", "10:00:00.123", "k8s.io", "\":\"", ",",
                ]),
                0..24,
            )
        ) {
            let text = parts.concat();
            let mut got = ips(&text);
            got.sort();
            got.dedup();
            proptest::prop_assert_eq!(got, every_run(text.as_bytes()), "{}", text);
        }
    }

    #[test]
    fn parse_dotted_quad_accepts_what_std_accepts() {
        for text in ["1.2.3.4", "255.255.255.255", "0.0.0.0", "10.0.0.1"] {
            assert_eq!(
                parse_dotted_quad(text.as_bytes()),
                text.parse::<std::net::IpAddr>().ok(),
                "{text}"
            );
        }
        for text in ["1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "1.2.3.4444"] {
            assert_eq!(parse_dotted_quad(text.as_bytes()), None, "{text}");
        }
    }
}
