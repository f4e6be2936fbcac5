//! Cluster names: one rule for every place a name comes from (a request's
//! path or query, `[listen] cluster`, a `[[sources]]` entry, or the record
//! itself: an EKS log group, an AKS resource id, a GKE resource label, a
//! Panther source label). A name is 1 to 100 of ASCII letters, digits, `.`,
//! `_`, `-` and `:`; it is shown in alerts, Slack text and metrics, and is
//! part of every alert's identity.

/// The longest cluster name.
pub const MAX_CLUSTER_NAME: usize = 100;

/// True when `name` is a valid cluster name.
pub fn is_valid(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_CLUSTER_NAME && name.chars().all(allowed)
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._-:".contains(c)
}

/// A cluster name taken from a record: what the record says when it is a
/// valid name, else the same with every other character replaced by `_`
/// and cut to [`MAX_CLUSTER_NAME`] (a Panther label may hold spaces; a
/// forged log group may hold markup or line breaks); `None` when nothing
/// is left.
pub fn from_record(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if is_valid(raw) {
        return Some(raw.to_string());
    }
    let clean: String = raw
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .take(MAX_CLUSTER_NAME)
        .collect();
    (!clean.trim_matches('_').is_empty()).then_some(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_records_are_kept_when_valid_and_made_safe_otherwise() {
        assert_eq!(from_record("prod-eu-1").as_deref(), Some("prod-eu-1"));
        assert_eq!(
            from_record("My EKS (prod)").as_deref(),
            Some("My_EKS__prod_")
        );
        assert_eq!(
            from_record("<!channel>\n*[CRITICAL]*").as_deref(),
            Some("__channel____CRITICAL__")
        );
        assert_eq!(from_record(" \n "), None);
        assert_eq!(from_record("<>"), None);
        assert_eq!(
            from_record(&"a".repeat(300)).map(|n| n.len()),
            Some(MAX_CLUSTER_NAME)
        );
        assert!(is_valid("gke_proj_us-central1_c:1"));
        assert!(!is_valid("bad name"));
    }
}
