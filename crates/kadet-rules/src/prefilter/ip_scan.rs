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
    fn scan(
        text: &[u8],
        sep: u8,
        min_seps: usize,
        max_len: usize,
        in_run: fn(u8) -> bool,
        parse: fn(&[u8]) -> Option<std::net::IpAddr>,
        found: &mut dyn FnMut(usize) -> bool,
    ) -> bool {
        let mut done = 0;
        for at in memchr::memchr_iter(sep, text) {
            // A separator with no address character on either side (the
            // `":"` between keys and values, `k8s.io`) starts no address.
            if at < done
                || !(at > 0 && in_run(text[at - 1])
                    || text.get(at + 1).copied().is_some_and(in_run))
            {
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
            let run = &text[s..e];
            if run.len() > max_len + 4 || run.iter().filter(|&&b| b == sep).count() < min_seps {
                continue;
            }
            // The hex digits of a `\uXXXX` escape just before the run are
            // glued to it: try the run without them too.
            let glued = (0..4)
                .find(|&j| {
                    s >= j + 2
                        && text[s - j - 2] == b'\\'
                        && text[s - j - 1] == b'u'
                        && text.len() >= s - j + 4
                        && text[s - j..s - j + 4].iter().all(u8::is_ascii_hexdigit)
                })
                .map_or(0, |j| 4 - j);
            let public = [0, glued]
                .into_iter()
                .filter(|&k| k <= run.len())
                .any(|k| parse(&run[k..]).is_some_and(|ip| !is_private(ip)));
            if public && !found(s) {
                return false;
            }
        }
        true
    }
    let v4 = |b: u8| b.is_ascii_digit() || b == b'.';
    let v6 = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
    // IPv6 text has a `::` or at least six colons (seven, or six and an
    // IPv4 tail): times of day (`10:00:00.123`) are not parsed.
    let parse_v6 = |run: &[u8]| {
        let colons = run.iter().filter(|&&b| b == b':').count();
        if colons < 6 && !run.windows(2).any(|w| w == b"::") {
            return None;
        }
        std::str::from_utf8(run)
            .ok()
            .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok())
            .map(std::net::IpAddr::V6)
    };
    if scan(text, b'.', 3, 15, v4, parse_dotted_quad, &mut found) {
        scan(text, b':', 2, 45, v6, parse_v6, &mut found);
    }
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
