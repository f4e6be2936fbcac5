//! The time an object's key says its events are from, for the layouts the
//! clouds write audit logs in, so that `--since`/`--until` skip whole
//! objects without reading them:
//!
//! | layout | key | span |
//! |---|---|---|
//! | AKS diagnostic settings to a storage account | `resourceId=/…/y=2024/m=05/d=01/h=10/m=00/PT1H.json` | the hour |
//! | Kinesis Data Firehose to S3 (default prefix) | `…/2024/05/01/10/stream-1-2024-05-01-10-15-00-…` | the hour |
//! | GKE (Cloud Logging sink to Cloud Storage) | `cloudaudit.googleapis.com/activity/2024/05/01/10:00:00_10:59:59_S0.json` | the hours named |
//! | any other `YYYY/MM/DD` path | `…/2024/05/01/…` | the day, with a day and a half of slack (it may be a local date) |
//!
//! Keys with no date (a CloudWatch Logs export: `exportedlogs/<task>/<stream>/000000.gz`)
//! have no span: every such object is read, and events are filtered by time.

use crate::time::EventTime;

/// A span of event time, `[start, end)`, and how far outside it the
/// object may still hold events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The first instant in it.
    pub start: EventTime,
    /// The first instant after it.
    pub end: EventTime,
    /// Seconds of slack on each side: an hour for the clouds' hourly
    /// layouts (Firehose buffers records before it writes), a day and a
    /// half for a bare date (it may be a local date, or the upload's).
    pub slack_secs: i64,
}

/// The slack of an hourly layout.
const HOUR_SLACK_SECS: i64 = 3600;
/// The slack of a bare `YYYY/MM/DD`: any time zone, and a late upload.
const DAY_SLACK_SECS: i64 = 36 * 3600;

impl Span {
    /// True when the span, widened by its slack, and `[since, until)`
    /// share an instant.
    pub fn overlaps(&self, since: Option<EventTime>, until: Option<EventTime>) -> bool {
        let slack = self.slack_secs.saturating_mul(1_000_000);
        since.is_none_or(|s| self.end.0.saturating_add(slack) > s.0)
            && until.is_none_or(|u| self.start.0.saturating_sub(slack) < u.0)
    }
}

/// The part of a path segment that is a number of `len` digits, after an
/// optional `name=` (AKS writes `y=2024`).
fn number(segment: &str, name: &str, len: usize) -> Option<u32> {
    let digits = segment.strip_prefix(name).unwrap_or(segment);
    (digits.len() == len && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn at(year: u32, month: u32, day: u32, hour: u32) -> Option<EventTime> {
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?)
            .ok()?;
    let t = date
        .with_hms(u8::try_from(hour).ok()?, 0, 0)
        .ok()?
        .assume_utc();
    Some(EventTime(t.unix_timestamp().saturating_mul(1_000_000)))
}

/// GKE's file names: `10:00:00_10:59:59_S0.json` → hours 10 to 11.
fn hour_range(segment: &str) -> Option<(u32, u32)> {
    let (first, rest) = segment.split_once('_')?;
    let (last, _) = rest.split_once('_').unwrap_or((rest, ""));
    let hour = |t: &str| -> Option<u32> {
        let h = number(t.get(..2)?, "", 2)?;
        (t.get(2..3) == Some(":") && h < 24).then_some(h)
    };
    let (from, to) = (hour(first)?, hour(last)? + 1);
    (to > from).then_some((from, to))
}

/// The span an object key names, when it names one (the rightmost date in
/// it counts).
pub fn span(key: &str) -> Option<Span> {
    let segments: Vec<&str> = key.split('/').collect();
    (0..segments.len().saturating_sub(2)).rev().find_map(|i| {
        let year = number(segments[i], "y=", 4).filter(|y| (1970..=9999).contains(y))?;
        let month = number(segments[i + 1], "m=", 2).filter(|m| (1..=12).contains(m))?;
        let day = number(segments[i + 2], "d=", 2).filter(|d| (1..=31).contains(d))?;
        let next = segments.get(i + 3).copied().unwrap_or("");
        let (from, to, slack_secs) = match (number(next, "h=", 2), hour_range(next)) {
            (Some(h), _) if h < 24 => (h, h + 1, HOUR_SLACK_SECS),
            (_, Some((from, to))) => (from, to, HOUR_SLACK_SECS),
            _ => (0, 24, DAY_SLACK_SECS),
        };
        let start = at(year, month, day, from)?;
        let hours = i64::from(to.saturating_sub(from));
        let end = EventTime(start.0.saturating_add(hours.saturating_mul(3_600_000_000)));
        Some(Span {
            start,
            end,
            slack_secs,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> EventTime {
        EventTime::parse(s).unwrap()
    }

    fn hour(start: &str, end: &str) -> Option<Span> {
        Some(Span {
            start: t(start),
            end: t(end),
            slack_secs: HOUR_SLACK_SECS,
        })
    }

    #[test]
    fn the_clouds_layouts_name_their_hours() {
        let aks = "resourceId=/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PROD/y=2024/m=05/d=01/h=10/m=00/PT1H.json";
        assert_eq!(
            span(aks),
            hour("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z")
        );
        let firehose = "eks-audit/2024/05/01/23/kadet-stream-1-2024-05-01-23-15-00-3f1e";
        assert_eq!(
            span(firehose),
            hour("2024-05-01T23:00:00Z", "2024-05-02T00:00:00Z")
        );
        let gke = "cloudaudit.googleapis.com/activity/2024/05/01/10:00:00_10:59:59_S0.json";
        assert_eq!(
            span(gke),
            hour("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z")
        );
        let day = "archive/2024/05/01/audit.log.gz";
        assert_eq!(
            span(day),
            Some(Span {
                start: t("2024-05-01T00:00:00Z"),
                end: t("2024-05-02T00:00:00Z"),
                slack_secs: DAY_SLACK_SECS,
            })
        );
        // Hours out of order name no hours (and overflow nothing).
        let odd = "a/2024/05/01/23:00:00_01:59:59_S0.json";
        assert_eq!(span(odd).map(|s| s.slack_secs), Some(DAY_SLACK_SECS));
        assert_eq!(
            span("exportedlogs/1a2b/kube-apiserver-audit-abc/000000.gz"),
            None
        );
        assert_eq!(span("2024/13/01/x"), None);
    }

    #[test]
    fn overlap_counts_the_slack() {
        let s = Span {
            start: t("2024-05-01T10:00:00Z"),
            end: t("2024-05-01T11:00:00Z"),
            slack_secs: 0,
        };
        assert!(s.overlaps(Some(t("2024-05-01T10:30:00Z")), None));
        assert!(!s.overlaps(Some(t("2024-05-01T11:00:00Z")), None));
        assert!(!s.overlaps(None, Some(t("2024-05-01T10:00:00Z"))));
        assert!(s.overlaps(None, None));
        let slack = Span {
            slack_secs: 3600,
            ..s
        };
        assert!(slack.overlaps(Some(t("2024-05-01T11:30:00Z")), None));
    }
}
