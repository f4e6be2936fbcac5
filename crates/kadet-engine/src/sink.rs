//! Sinks: where alerts and matches go. JSON lines, a table for terminals,
//! and OCSF Detection Findings.

use crate::alert::Alert;
use crate::matches::{Match, MatchRecord};
use kadet_rules::{Rule, Severity};
use std::io::{self, Write};

/// Receives alerts and matches.
pub trait Sink {
    /// An alert.
    fn alert(&mut self, alert: &Alert) -> io::Result<()>;
    /// A match (with `--emit matches`).
    fn matched(&mut self, m: &Match, rule: &Rule) -> io::Result<()>;
    /// End of output.
    fn finish(&mut self) -> io::Result<()>;
}

/// JSON lines.
pub struct JsonLinesSink<W: Write> {
    out: W,
}

impl<W: Write> JsonLinesSink<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        JsonLinesSink { out }
    }
}

impl<W: Write> Sink for JsonLinesSink<W> {
    fn alert(&mut self, alert: &Alert) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, alert)?;
        self.out.write_all(b"\n")
    }
    fn matched(&mut self, m: &Match, rule: &Rule) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &MatchRecord::new(m, rule))?;
        self.out.write_all(b"\n")
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// OCSF Detection Findings, one per line.
pub struct OcsfSink<'r, W: Write> {
    out: W,
    rules: &'r [Rule],
}

impl<'r, W: Write> OcsfSink<'r, W> {
    /// Writes to `out`; `rules` gives descriptions and ATT&CK ids.
    pub fn new(out: W, rules: &'r [Rule]) -> Self {
        OcsfSink { out, rules }
    }
}

impl<W: Write> Sink for OcsfSink<'_, W> {
    fn alert(&mut self, alert: &Alert) -> io::Result<()> {
        let rule = kadet_rules::by_id(self.rules, &alert.rule_id);
        serde_json::to_writer(&mut self.out, &crate::ocsf::detection_finding(alert, rule))?;
        self.out.write_all(b"\n")
    }
    fn matched(&mut self, _m: &Match, _rule: &Rule) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "OCSF output is for alerts; use --format jsonl with --emit matches",
        ))
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A table, printed when the scan ends. Severity is coloured when `color`.
pub struct TableSink<W: Write> {
    out: W,
    color: bool,
    width: Option<u16>,
    rows: Vec<[String; 5]>,
    severities: Vec<Severity>,
    matches_mode: bool,
}

/// Narrower than this, a table is unreadable: the terminal's width is taken
/// to be unknown.
pub const MIN_TABLE_WIDTH: u16 = 20;
/// The width of a table when the terminal's is unknown.
pub const FALLBACK_TABLE_WIDTH: u16 = 80;

impl<W: Write> TableSink<W> {
    /// A table `width` columns wide (`None`: the terminal's width).
    pub fn new(out: W, color: bool, width: Option<u16>) -> Self {
        TableSink {
            out,
            color,
            width,
            rows: Vec::new(),
            severities: Vec::new(),
            matches_mode: false,
        }
    }
}

fn short_time(t: Option<&str>) -> String {
    // 2024-05-01T10:00:00.000000Z -> 2024-05-01 10:00 (to the minute: the
    // exact times are in the JSON output; the table must fit 80 columns)
    t.map(|t| t.get(..16).unwrap_or(t).replace('T', " "))
        .unwrap_or_else(|| "-".into())
}

/// First and last seen in one cell, two lines when they differ.
fn seen(first: Option<&str>, last: Option<&str>) -> String {
    let (f, l) = (short_time(first), short_time(last));
    if f == l {
        f
    } else {
        format!("{f}\n{l}")
    }
}

impl<W: Write> Sink for TableSink<W> {
    fn alert(&mut self, a: &Alert) -> io::Result<()> {
        self.severities.push(a.severity);
        self.rows.push([
            a.severity.name().to_string(),
            a.title.clone(),
            a.event_count.to_string(),
            seen(a.first_seen.as_deref(), a.last_seen.as_deref()),
            a.cluster.clone().unwrap_or_else(|| "-".into()),
        ]);
        Ok(())
    }
    fn matched(&mut self, m: &Match, _rule: &Rule) -> io::Result<()> {
        self.matches_mode = true;
        self.severities.push(m.outcome.severity);
        let t = m.time.map(|t| t.to_rfc3339());
        self.rows.push([
            m.outcome.severity.name().to_string(),
            m.outcome.title.clone(),
            m.location.to_string(),
            short_time(t.as_deref()),
            m.cluster.clone().unwrap_or_else(|| "-".into()),
        ]);
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, Color, ContentArrangement, Table};
        if self.rows.is_empty() {
            writeln!(self.out, "No alerts.")?;
            return self.out.flush();
        }
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
        // A terminal that reports no width (0 columns, as some CI consoles
        // and serial lines do) gets the classic 80.
        match self.width.filter(|&w| w >= MIN_TABLE_WIDTH) {
            Some(w) => {
                t.set_width(w);
            }
            None if t.width().is_none_or(|w| w < MIN_TABLE_WIDTH) => {
                t.set_width(FALLBACK_TABLE_WIDTH);
            }
            None => {}
        }
        let header: [&str; 5] = if self.matches_mode {
            ["Severity", "Title", "Location", "Time (UTC)", "Cluster"]
        } else {
            ["Severity", "Title", "Count", "Seen (UTC)", "Cluster"]
        };
        // The cluster column only when some row names a cluster.
        let columns = if self.rows.iter().any(|r| r[4] != "-") {
            5
        } else {
            4
        };
        t.set_header(&header[..columns]);
        for (row, sev) in self.rows.iter().zip(&self.severities) {
            let mut sev_cell = Cell::new(&row[0]);
            if self.color {
                sev_cell = sev_cell.fg(match sev {
                    Severity::Critical => Color::Magenta,
                    Severity::High => Color::Red,
                    Severity::Medium => Color::Yellow,
                    Severity::Low => Color::Cyan,
                    Severity::Info => Color::Grey,
                });
            }
            let mut cells = vec![sev_cell];
            cells.extend(row[1..columns].iter().map(Cell::new));
            t.add_row(cells);
        }
        writeln!(self.out, "{t}")?;
        self.out.flush()
    }
}
