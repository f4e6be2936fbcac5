//! Event time: microseconds since the Unix epoch, parsed from the timestamp
//! forms audit sources use.

use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A point in event time, in microseconds since 1970-01-01T00:00:00Z.
/// Stored (serde) as that integer.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct EventTime(pub i64);

impl EventTime {
    /// Parses RFC 3339 (`2024-01-02T03:04:05.123456Z`, any offset), the
    /// space-separated UTC form Panther writes (`2022-11-29 00:09:04.38`), and
    /// a date-time without offset, which is taken as UTC.
    pub fn parse(text: &str) -> Option<EventTime> {
        let text = text.trim();
        if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
            return Some(Self::from_datetime(t));
        }
        // Normalise "YYYY-MM-DD HH:MM:SS[.f]" and offset-less forms.
        let b = text.as_bytes();
        if b.len() < 19 || !b[..19].is_ascii() || !matches!(b[10], b' ' | b'T' | b't') {
            return None;
        }
        let mut s = String::with_capacity(text.len() + 1);
        s.push_str(&text[..10]);
        s.push('T');
        s.push_str(&text[11..]);
        let has_offset = s[19..].contains(['Z', 'z', '+', '-']);
        if !has_offset {
            s.push('Z');
        }
        OffsetDateTime::parse(&s, &Rfc3339)
            .ok()
            .map(Self::from_datetime)
    }

    /// A bound given on the command line (`--since`, `--until`): RFC 3339
    /// as [`EventTime::parse`] reads it, or a date `YYYY-MM-DD` (midnight
    /// UTC).
    pub fn parse_bound(text: &str) -> Option<EventTime> {
        Self::parse(text).or_else(|| Self::parse(&format!("{}T00:00:00Z", text.trim())))
    }

    /// From milliseconds since the epoch (CloudWatch `timestamp`).
    pub fn from_millis(ms: i64) -> EventTime {
        EventTime(ms.saturating_mul(1000))
    }

    fn from_datetime(t: OffsetDateTime) -> EventTime {
        let micros = t.unix_timestamp_nanos() / 1000;
        EventTime(i64::try_from(micros).unwrap_or(i64::MAX))
    }

    /// Adds minutes.
    pub fn plus_minutes(self, minutes: i64) -> EventTime {
        EventTime(self.0.saturating_add(minutes.saturating_mul(60_000_000)))
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2024-01-02T03:04:05.123456Z`.
    pub fn to_rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1000;
        match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            Ok(t) => {
                let (y, mo, d) = (t.year(), u8::from(t.month()), t.day());
                let (h, mi, s) = (t.hour(), t.minute(), t.second());
                let us = t.microsecond();
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}Z")
            }
            Err(_) => String::from("1970-01-01T00:00:00.000000Z"),
        }
    }

    /// Seconds since the epoch.
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// Milliseconds since the epoch.
    pub fn unix_millis(self) -> i64 {
        self.0.div_euclid(1000)
    }
}

impl fmt::Display for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_sources_use() {
        let a = EventTime::parse("2022-11-29T00:09:04.38Z").unwrap();
        let b = EventTime::parse("2022-11-29 00:09:04.38").unwrap();
        let c = EventTime::parse("2022-11-29T01:09:04.380+01:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.to_rfc3339(), "2022-11-29T00:09:04.380000Z");
        assert!(EventTime::parse("yesterday").is_none());
        assert!(EventTime::parse("2022-11-29é00:09:04").is_none());
    }

    #[test]
    fn millis_and_minutes() {
        let t = EventTime::from_millis(1_700_000_000_123);
        assert_eq!(t.unix_millis(), 1_700_000_000_123);
        assert_eq!(t.plus_minutes(60).0 - t.0, 3_600_000_000);
    }
}
