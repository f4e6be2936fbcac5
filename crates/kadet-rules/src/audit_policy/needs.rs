//! What one rule needs the API server to log: which resources, at which
//! level, at which stages. Read from the rule's detection: the resources and
//! verbs it requires (`objectRef.resource`, `objectRef.subresource`, `verb`
//! conditions that every match must meet), and the bodies it reads
//! (`requestObject`: level Request; only `responseObject`: RequestResponse).

use crate::expr::{Expr, StrOp, Test};
use crate::path::{FieldPath, Segment};
use crate::rule::Rule;

/// An audit level, in increasing order of what is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Not logged.
    None,
    /// Who, what, when: no bodies.
    Metadata,
    /// Plus the request body.
    Request,
    /// Plus the response body.
    RequestResponse,
}

impl Level {
    /// The name the Policy uses.
    pub fn name(self) -> &'static str {
        match self {
            Level::None => "None",
            Level::Metadata => "Metadata",
            Level::Request => "Request",
            Level::RequestResponse => "RequestResponse",
        }
    }

    /// Reads a Policy level name.
    pub fn parse(s: &str) -> Option<Level> {
        [
            Level::None,
            Level::Metadata,
            Level::Request,
            Level::RequestResponse,
        ]
        .into_iter()
        .find(|l| l.name() == s)
    }
}

/// Resources whose bodies hold credentials: the level kadet asks for is
/// capped, and why. Secrets at Request would write Secret values into the
/// API server's log; a TokenReview's request holds the token reviewed; a
/// TokenRequest's response holds the token minted.
pub const CAPPED: &[(&str, Level, &str)] = &[
    (
        "secrets",
        Level::Metadata,
        "a Secret's body holds its values; logging it would put them in the API server's audit log",
    ),
    (
        "tokenreviews",
        Level::Metadata,
        "a TokenReview's body holds the token under review",
    ),
    (
        "serviceaccounts/token",
        Level::Request,
        "a TokenRequest's response holds the minted token",
    ),
];

/// Streams and proxied requests: the API server logs no body for them (an
/// exec's command is in its URL), so Metadata shows all there is.
pub const NO_BODY: &[&str] = &[
    "pods/exec",
    "pods/attach",
    "pods/portforward",
    "nodes/proxy",
    "pods/proxy",
    "services/proxy",
];

/// What a rule needs logged.
#[derive(Debug, Clone, PartialEq)]
pub struct Need {
    /// The rule.
    pub rule_id: String,
    /// `pods`, `pods/exec`, `pods/*`; `None` for every resource.
    pub resources: Option<Vec<String>>,
    /// The verbs it matches; `None` for any.
    pub verbs: Option<Vec<String>>,
    /// The level at which it sees all it reads.
    pub level: Level,
    /// The lowest level at which it can fire at all (a rule that falls back
    /// on names when no body is logged fires at Metadata, seeing less).
    pub fires_at: Level,
    /// What the rule reads at `level`, for messages.
    pub reads: &'static str,
    /// True when it also takes a stream's opening (ResponseStarted).
    pub stream: bool,
}

impl Need {
    /// The level to ask for on one resource, after [`NO_BODY`] and [`CAPPED`].
    pub fn level_for(&self, resource: &str) -> Level {
        if NO_BODY.contains(&resource) {
            return self.level.min(Level::Metadata);
        }
        match CAPPED.iter().find(|(r, _, _)| *r == resource) {
            Some((_, cap, _)) => self.level.min(*cap),
            None => self.level,
        }
    }
}

/// What `rule` needs from a self-managed cluster's audit policy; `None` for
/// rules that read no kube-apiserver audit event (GKE-only and Azure
/// activity-log rules: their cloud decides what is logged).
pub fn needs_of(rule: &Rule) -> Option<Need> {
    if rule.correlation.is_some() {
        // It reads its steps' matches, whose rules have their own needs.
        return None;
    }
    let reads_audit = rule.log_types.is_empty()
        || rule
            .log_types
            .iter()
            .any(|t| t == "Kubernetes.Audit" || t == "Amazon.EKS.Audit");
    if !reads_audit {
        return None;
    }
    let mut required = Vec::new();
    required_leaves(&rule.detection, &mut required);
    let resources = strings_of(&required, &["objectRef", "resource"]);
    let subresources = strings_of(&required, &["objectRef", "subresource"]);
    let no_subresource = required.iter().any(|(p, t, neg)| {
        keys(p) == ["objectRef", "subresource"] && !neg && matches!(t, Test::NullOrEmpty)
    });
    let resources = resources.map(|rs| {
        let mut out = Vec::new();
        for r in rs {
            match (&subresources, no_subresource) {
                (Some(subs), _) => out.extend(subs.iter().map(|s| format!("{r}/{s}"))),
                (None, true) => out.push(r),
                (None, false) => {
                    out.push(format!("{r}/*"));
                    out.push(r);
                }
            }
        }
        out
    });
    let verbs = strings_of(&required, &["verb"]);
    let mut bodies = Bodies::default();
    bodies.visit(&rule.detection);
    let (level, reads) = if bodies.request {
        (Level::Request, "the request body")
    } else if bodies.response {
        (Level::RequestResponse, "the response body")
    } else {
        (Level::Metadata, "who, what and where")
    };
    let fires_at = if level == Level::Metadata || possible_without_bodies(&rule.detection) {
        Level::Metadata
    } else {
        level
    };
    Some(Need {
        rule_id: rule.id.clone(),
        resources,
        verbs,
        level,
        fires_at,
        reads,
        stream: bodies.stream,
    })
}

/// Conditions every match must meet: the leaves of the top-level `All`
/// (through named conditions), as (path, test, negated).
fn required_leaves<'e>(e: &'e Expr, out: &mut Vec<(&'e FieldPath, &'e Test, bool)>) {
    match e {
        Expr::All(children) => children.iter().for_each(|c| required_leaves(c, out)),
        Expr::Named { expr, .. } => required_leaves(expr, out),
        Expr::Leaf {
            path, test, negate, ..
        } => out.push((path, test, *negate)),
        _ => {}
    }
}

fn keys(path: &FieldPath) -> Vec<&str> {
    path.segments
        .iter()
        .filter_map(|s| match s {
            Segment::Key(k) => Some(k.as_str()),
            _ => None,
        })
        .collect()
}

/// The values a required positive `Equals`/`IsIn` on `at` allows, or `None`
/// when nothing restricts the field.
fn strings_of(required: &[(&FieldPath, &Test, bool)], at: &[&str]) -> Option<Vec<String>> {
    let mut out: Option<Vec<String>> = None;
    for (path, test, negate) in required {
        if *negate || keys(path) != at {
            continue;
        }
        let Test::Str {
            op: StrOp::Equals,
            values,
            ..
        } = test
        else {
            continue;
        };
        let these: Vec<String> = values.iter().map(|v| v.text()).collect();
        out = Some(match out {
            // Two conditions on one field: only values both allow.
            Some(prev) => prev.into_iter().filter(|v| these.contains(v)).collect(),
            None => these,
        });
    }
    out
}

/// Whether the detection can hold on an event that carries no body: every
/// condition on `requestObject` or `responseObject` is then decided (as on
/// a missing field: a positive test fails, a negated one holds), every
/// other one may go either way.
fn possible_without_bodies(e: &Expr) -> bool {
    tri(e) != Some(false)
}

/// Three-valued evaluation: `Some(b)` when decided without the event,
/// `None` when it depends on fields other than the bodies.
fn tri(e: &Expr) -> Option<bool> {
    match e {
        Expr::Const(b) => Some(*b),
        Expr::Named { expr, .. } => tri(expr),
        Expr::Leaf {
            path, test, negate, ..
        } => is_body(path).then(|| holds_on_missing(test) != *negate),
        Expr::Compare { path, negate, .. } => is_body(path).then_some(*negate),
        Expr::Elements { path, .. } => is_body(path).then_some(false),
        Expr::All(c) => {
            let v: Vec<_> = c.iter().map(tri).collect();
            if v.contains(&Some(false)) {
                Some(false)
            } else if v.iter().all(|x| *x == Some(true)) {
                Some(true)
            } else {
                None
            }
        }
        Expr::Any(c) => any_tri(c),
        Expr::OnlyOne(c) => match any_tri(c) {
            // Exactly one of several undecided children may hold.
            Some(true) => None,
            other => other,
        },
        Expr::None(c) => any_tri(c).map(|b| !b),
    }
}

fn any_tri(c: &[Expr]) -> Option<bool> {
    let v: Vec<_> = c.iter().map(tri).collect();
    if v.contains(&Some(true)) {
        Some(true)
    } else if v.iter().all(|x| *x == Some(false)) {
        Some(false)
    } else {
        None
    }
}

/// A test's verdict on a missing field: only the null and empty tests hold.
fn holds_on_missing(test: &Test) -> bool {
    matches!(test, Test::IsNull | Test::NullOrEmpty)
}

fn is_body(path: &FieldPath) -> bool {
    matches!(path.segments.first(), Some(Segment::Key(k)) if k == "requestObject" || k == "responseObject")
}

/// Which bodies and stages a detection reads anywhere.
#[derive(Default)]
struct Bodies {
    request: bool,
    response: bool,
    stream: bool,
}

impl Bodies {
    fn visit(&mut self, e: &Expr) {
        match e {
            Expr::All(c) | Expr::Any(c) | Expr::OnlyOne(c) | Expr::None(c) => {
                c.iter().for_each(|x| self.visit(x))
            }
            Expr::Named { expr, .. } => self.visit(expr),
            Expr::Leaf { path, test, .. } => {
                self.path(path);
                if keys(path) == ["stage"] {
                    if let Test::Str { values, .. } = test {
                        self.stream |= values.iter().any(|v| v.text() == "ResponseStarted");
                    }
                }
            }
            Expr::Compare { path, others, .. } => {
                self.path(path);
                others.iter().for_each(|p| self.path(p));
            }
            Expr::Elements { path, .. } => self.path(path),
            Expr::Const(_) => {}
        }
    }

    fn path(&mut self, path: &FieldPath) {
        match path.segments.first() {
            Some(Segment::Key(k)) if k == "requestObject" => self.request = true,
            Some(Segment::Key(k)) if k == "responseObject" => self.response = true,
            _ => {}
        }
    }
}
