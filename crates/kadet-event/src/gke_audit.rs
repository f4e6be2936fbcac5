//! Mapping a GKE Cloud Audit Logs `LogEntry` (a `protoPayload` AuditLog of
//! `serviceName: k8s.io`) to the canonical `audit.k8s.io` Event.
//!
//! | canonical field | LogEntry field |
//! |---|---|
//! | `verb` | last segment of `protoPayload.methodName` (`io.k8s.core.v1.serviceaccounts.token.create` → `create`) |
//! | `objectRef` | parsed from `protoPayload.resourceName` (`core/v1/namespaces/ns/serviceaccounts/sa/token`) |
//! | `user.username` | `protoPayload.authenticationInfo.principalEmail` |
//! | `sourceIPs` | `[protoPayload.requestMetadata.callerIp]` |
//! | `userAgent` | `protoPayload.requestMetadata.callerSuppliedUserAgent` |
//! | `responseStatus.code` | `protoPayload.status.code` (gRPC; 0 or absent is OK) |
//! | `requestObject`, `responseObject` | `protoPayload.request`, `protoPayload.response` |
//! | `requestURI` | `/api/v1/...` for `core/v1/...`, else `/apis/` + resourceName |
//! | `auditID` | `insertId` |
//! | `stageTimestamp`, `requestReceivedTimestamp` | `timestamp` |
//!
//! The entry's own fields stay reachable: a rule may still read
//! `protoPayload.methodName`.

use crate::error::DecodeError;
use crate::value::{Map, Value};
use std::borrow::Cow;

/// The parts of a GKE `resourceName`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResourceName<'a> {
    /// API group (`""` for core).
    pub api_group: &'a str,
    /// API version.
    pub api_version: &'a str,
    /// Namespace, for namespaced objects.
    pub namespace: Option<&'a str>,
    /// Resource (plural).
    pub resource: Option<&'a str>,
    /// Object name.
    pub name: Option<&'a str>,
    /// Subresource (`token`, `exec`, `status`).
    pub subresource: Option<&'a str>,
}

/// Parses `{group}/{version}/[namespaces/{ns}/]{resource}[/{name}[/{subresource}]]`.
pub fn parse_resource_name(name: &str) -> ResourceName<'_> {
    let segs: Vec<&str> = name.split('/').collect();
    let mut out = ResourceName::default();
    if segs.len() < 3 {
        return out;
    }
    out.api_group = if segs[0] == "core" { "" } else { segs[0] };
    out.api_version = segs[1];
    let mut rest = &segs[2..];
    if rest.len() >= 3 && rest[0] == "namespaces" {
        out.namespace = Some(rest[1]);
        rest = &rest[2..];
    }
    out.resource = rest.first().copied();
    out.name = rest.get(1).copied();
    out.subresource = rest.get(2).copied();
    out
}

fn s(text: &str) -> Value<'static> {
    Value::String(Cow::Owned(text.to_string()))
}

/// Maps a parsed LogEntry to the canonical Event (see the module docs).
pub fn to_audit_event(entry: Value<'_>) -> Result<Value<'_>, DecodeError> {
    let Value::Object(mut entry) = entry else {
        return Err(DecodeError::shape("LogEntry is not an object"));
    };
    let Some(Value::Object(mut proto)) = entry.remove("protoPayload") else {
        return Err(DecodeError::shape(
            "LogEntry has no \"protoPayload\" object",
        ));
    };
    let mut ev = Map::default();
    ev.insert("kind", s("Event"));
    ev.insert("apiVersion", s("audit.k8s.io/v1"));
    if let Some(id) = entry.get("insertId").cloned() {
        ev.insert("auditID", id);
    }
    let method = proto
        .get("methodName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let resource_name = proto
        .get("resourceName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(verb) = method.rsplit('.').next().filter(|v| !v.is_empty()) {
        ev.insert("verb", s(verb));
    }
    let mut object_ref = Map::default();
    let rn = parse_resource_name(&resource_name);
    if let Some(r) = rn.resource {
        object_ref.insert("resource", s(r));
    } else if let Some(r) = resource_from_method(&method) {
        object_ref.insert("resource", s(&r.0));
        if let Some(sub) = r.1 {
            object_ref.insert("subresource", s(&sub));
        }
    }
    if let Some(ns) = rn.namespace {
        object_ref.insert("namespace", s(ns));
    }
    if let Some(n) = rn.name {
        object_ref.insert("name", s(n));
    }
    if let Some(sub) = rn.subresource {
        object_ref.insert("subresource", s(sub));
    }
    if !rn.api_version.is_empty() {
        object_ref.insert("apiGroup", s(rn.api_group));
        object_ref.insert("apiVersion", s(rn.api_version));
    }
    if !object_ref.is_empty() {
        ev.insert("objectRef", Value::Object(object_ref));
    }
    if let Some(uri) = request_uri(&resource_name) {
        ev.insert("requestURI", s(&uri));
    }
    if let Some(Value::Object(auth)) = proto.get("authenticationInfo") {
        let mut user = Map::default();
        if let Some(email) = auth.get("principalEmail") {
            user.insert("username", email.clone());
        }
        if !user.is_empty() {
            ev.insert("user", Value::Object(user));
        }
    }
    if let Some(Value::Object(meta)) = proto.get("requestMetadata") {
        if let Some(ip) = meta.get("callerIp").or_else(|| meta.get("callerIP")) {
            ev.insert("sourceIPs", Value::Array(vec![ip.clone()]));
        }
        if let Some(ua) = meta.get("callerSuppliedUserAgent") {
            ev.insert("userAgent", ua.clone());
        }
    }
    if let Some(Value::Object(status)) = proto.get("status") {
        let mut rs = Map::default();
        rs.insert(
            "code",
            status
                .get("code")
                .cloned()
                .unwrap_or(Value::Number(0.into())),
        );
        if let Some(m) = status.get("message") {
            rs.insert("message", m.clone());
        }
        ev.insert("responseStatus", Value::Object(rs));
    }
    if let Some(req) = proto.remove("request") {
        ev.insert("requestObject", req);
    }
    if let Some(resp) = proto.remove("response") {
        ev.insert("responseObject", resp);
    }
    if let Some(ts) = entry.get("timestamp").cloned() {
        ev.insert("requestReceivedTimestamp", ts.clone());
        ev.insert("stageTimestamp", ts);
    }
    // Keep the source fields reachable under their own names.
    entry.insert("protoPayload", Value::Object(proto));
    for (k, v) in entry.0 {
        if ev.get(&k).is_none() {
            ev.0.push((k, v));
        }
    }
    Ok(Value::Object(ev))
}

/// The kube-apiserver request path for a resourceName: `core/v1/...` is
/// `/api/v1/...`, `{group}/{version}/...` is `/apis/{group}/{version}/...`.
pub fn request_uri(resource_name: &str) -> Option<String> {
    if resource_name.is_empty() {
        return None;
    }
    Some(match resource_name.strip_prefix("core/") {
        Some(rest) => format!("/api/{rest}"),
        None => format!("/apis/{resource_name}"),
    })
}

/// `io.k8s.core.v1.serviceaccounts.token.create` → (`serviceaccounts`, `token`).
fn resource_from_method(method: &str) -> Option<(String, Option<String>)> {
    let rest = method.strip_prefix("io.k8s.")?;
    let segs: Vec<&str> = rest.split('.').collect();
    // group, version, resource, [subresource], verb
    match segs.len() {
        4 => Some((segs[2].to_string(), None)),
        5 => Some((segs[2].to_string(), Some(segs[3].to_string()))),
        n if n > 5 => Some((segs[n - 3].to_string(), Some(segs[n - 2].to_string()))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_parse() {
        let r = parse_resource_name("core/v1/namespaces/kube-system/serviceaccounts/sa1/token");
        assert_eq!(r.api_group, "");
        assert_eq!(r.namespace, Some("kube-system"));
        assert_eq!(r.resource, Some("serviceaccounts"));
        assert_eq!(r.name, Some("sa1"));
        assert_eq!(r.subresource, Some("token"));
        let r = parse_resource_name("rbac.authorization.k8s.io/v1/clusterroles/admin");
        assert_eq!(r.api_group, "rbac.authorization.k8s.io");
        assert_eq!(r.namespace, None);
        assert_eq!(r.resource, Some("clusterroles"));
        assert_eq!(r.name, Some("admin"));
        let r = parse_resource_name("core/v1/namespaces/foo");
        assert_eq!(r.resource, Some("namespaces"));
        assert_eq!(r.name, Some("foo"));
    }

    #[test]
    fn method_names_give_resources() {
        assert_eq!(
            resource_from_method("io.k8s.core.v1.serviceaccounts.token.create"),
            Some(("serviceaccounts".into(), Some("token".into())))
        );
        assert_eq!(
            resource_from_method("io.k8s.core.v1.pods.get"),
            Some(("pods".into(), None))
        );
    }

    #[test]
    fn token_request_maps_to_canonical_fields() {
        let text = br#"{"insertId":"abc","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","authenticationInfo":{"principalEmail":"eve@example.com"},"methodName":"io.k8s.core.v1.serviceaccounts.token.create","requestMetadata":{"callerIp":"203.0.113.9","callerSuppliedUserAgent":"kubectl/v1.29"},"resourceName":"core/v1/namespaces/default/serviceaccounts/build/token","serviceName":"k8s.io","status":{"code":0},"request":{"spec":{"expirationSeconds":946080000}}},"resource":{"type":"k8s_cluster","labels":{"cluster_name":"gke-prod"}},"timestamp":"2024-05-01T10:00:00Z"}"#;
        let v = Value::from_slice(text).unwrap();
        let ev = to_audit_event(v).unwrap();
        assert_eq!(
            ev.pointer(&["verb"]).and_then(Value::as_str),
            Some("create")
        );
        assert_eq!(
            ev.pointer(&["objectRef", "subresource"])
                .and_then(Value::as_str),
            Some("token")
        );
        assert_eq!(
            ev.pointer(&["objectRef", "namespace"])
                .and_then(Value::as_str),
            Some("default")
        );
        assert_eq!(
            ev.pointer(&["user", "username"]).and_then(Value::as_str),
            Some("eve@example.com")
        );
        assert_eq!(
            ev.pointer(&["requestObject", "spec", "expirationSeconds"])
                .and_then(Value::as_i64),
            Some(946080000)
        );
        assert_eq!(
            ev.pointer(&["protoPayload", "methodName"])
                .and_then(Value::as_str),
            Some("io.k8s.core.v1.serviceaccounts.token.create")
        );
        assert_eq!(
            ev.pointer(&["auditID"]).and_then(Value::as_str),
            Some("abc")
        );
    }
}
