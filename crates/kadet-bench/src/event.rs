//! One audit event, and its serialisation as kube-apiserver writes it.

use crate::body::{slot, Template};
use crate::json::{qstr, ts, uint};
use crate::model::{Flavor, Kind, Principal, Res};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Metadata,
    Request,
    RequestResponse,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Metadata => "Metadata",
            Level::Request => "Request",
            Level::RequestResponse => "RequestResponse",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    RequestReceived,
    ResponseComplete,
}

pub static NOBODY: Principal = Principal {
    username: "",
    user_json: "{}",
    ip: "",
    ua: "",
    reason: "",
    kind: Kind::Human,
};

/// The event being generated. Reused across events (strings keep their
/// capacity).
#[derive(Debug)]
pub struct Ev {
    pub flavor: Flavor,
    pub level: Level,
    pub stage: Stage,
    pub audit_id: [u8; 36],
    pub uri: String,
    pub verb: &'static str,
    pub user: &'static Principal,
    pub ip: &'static str,
    pub ua: &'static str,
    pub res: Option<&'static Res>,
    pub namespace: &'static str,
    pub name: String,
    pub sub: &'static str,
    pub code: u16,
    /// Message of a failed response (`responseStatus.message`).
    pub fail_msg: String,
    pub req: Option<&'static Template>,
    pub resp: Option<&'static Template>,
    pub obj_uid: String,
    pub created: String,
    pub rv: String,
    pub node: &'static str,
    pub aux: String,
    pub allow: bool,
    pub reason: &'static str,
    pub psa: Option<&'static str>,
    pub webhook: bool,
    /// Whether a RequestReceived stage event precedes the final one.
    pub pair: bool,
    pub recv_us: i64,
    pub stage_us: i64,
}

impl Default for Ev {
    fn default() -> Self {
        Ev {
            flavor: Flavor::Eks,
            level: Level::Metadata,
            stage: Stage::ResponseComplete,
            audit_id: [b'0'; 36],
            uri: String::with_capacity(256),
            verb: "get",
            user: &NOBODY,
            ip: "",
            ua: "",
            res: None,
            namespace: "",
            name: String::with_capacity(64),
            sub: "",
            code: 200,
            fail_msg: String::new(),
            req: None,
            resp: None,
            obj_uid: String::new(),
            created: String::new(),
            rv: String::new(),
            node: "",
            aux: String::new(),
            allow: true,
            reason: "",
            psa: None,
            webhook: false,
            pair: false,
            recv_us: 0,
            stage_us: 0,
        }
    }
}

/// `reason` and kind of a failed response.
pub fn status_reason(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        410 => "Expired",
        422 => "Invalid",
        429 => "TooManyRequests",
        _ => "InternalError",
    }
}

impl Ev {
    pub fn args(&self) -> [&str; slot::COUNT] {
        [
            &self.name,
            self.namespace,
            &self.obj_uid,
            &self.created,
            &self.rv,
            self.node,
            &self.aux,
        ]
    }

    pub fn failed(&self) -> bool {
        self.code >= 400
    }

    /// The request object, when the level and stage carry one.
    pub fn request_object(&self) -> Option<&'static Template> {
        if self.level >= Level::Request && self.stage == Stage::ResponseComplete {
            self.req
        } else {
            None
        }
    }

    /// The response object, when the level and stage carry one.
    pub fn response_object(&self) -> Option<&'static Template> {
        if self.level == Level::RequestResponse
            && self.stage == Stage::ResponseComplete
            && !self.failed()
        {
            self.resp
        } else {
            None
        }
    }
}

/// Writes the event as compact JSON (no trailing newline).
pub fn write_event(out: &mut Vec<u8>, ev: &Ev) {
    out.extend_from_slice(b"{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"");
    out.extend_from_slice(ev.level.as_str().as_bytes());
    out.extend_from_slice(b"\",\"auditID\":\"");
    out.extend_from_slice(&ev.audit_id);
    out.extend_from_slice(match ev.stage {
        Stage::RequestReceived => b"\",\"stage\":\"RequestReceived\",\"requestURI\":" as &[u8],
        Stage::ResponseComplete => b"\",\"stage\":\"ResponseComplete\",\"requestURI\":",
    });
    qstr(out, &ev.uri);
    out.extend_from_slice(b",\"verb\":");
    qstr(out, ev.verb);
    out.extend_from_slice(b",\"user\":");
    out.extend_from_slice(ev.user.user_json.as_bytes());
    out.extend_from_slice(b",\"sourceIPs\":[");
    qstr(out, ev.ip);
    out.extend_from_slice(b"],\"userAgent\":");
    qstr(out, ev.ua);
    if let Some(res) = ev.res {
        out.extend_from_slice(b",\"objectRef\":{\"resource\":");
        qstr(out, res.resource);
        if !ev.namespace.is_empty() {
            out.extend_from_slice(b",\"namespace\":");
            qstr(out, ev.namespace);
        }
        // The API server fills in the name of created objects only once it
        // has decoded the body, i.e. not at RequestReceived.
        let name_unknown_yet =
            ev.stage == Stage::RequestReceived && ev.verb == "create" && ev.sub.is_empty();
        if !ev.name.is_empty() && !name_unknown_yet {
            out.extend_from_slice(b",\"name\":");
            qstr(out, &ev.name);
        }
        if !res.group.is_empty() {
            out.extend_from_slice(b",\"apiGroup\":");
            qstr(out, res.group);
        }
        out.extend_from_slice(b",\"apiVersion\":");
        qstr(out, res.version);
        if !ev.sub.is_empty() {
            out.extend_from_slice(b",\"subresource\":");
            qstr(out, ev.sub);
        }
        out.push(b'}');
    }
    if ev.stage == Stage::ResponseComplete {
        out.extend_from_slice(b",\"responseStatus\":{\"metadata\":{}");
        if ev.failed() {
            out.extend_from_slice(b",\"status\":\"Failure\",\"message\":");
            qstr(out, &ev.fail_msg);
            out.extend_from_slice(b",\"reason\":\"");
            out.extend_from_slice(status_reason(ev.code).as_bytes());
            out.push(b'"');
            if let Some(res) = ev.res {
                out.extend_from_slice(b",\"details\":{");
                if !ev.name.is_empty() {
                    out.extend_from_slice(b"\"name\":");
                    qstr(out, &ev.name);
                    out.push(b',');
                }
                if !res.group.is_empty() {
                    out.extend_from_slice(b"\"group\":");
                    qstr(out, res.group);
                    out.push(b',');
                }
                out.extend_from_slice(b"\"kind\":");
                qstr(out, res.resource);
                out.push(b'}');
            }
        }
        out.extend_from_slice(b",\"code\":");
        uint(out, ev.code as u64);
        out.push(b'}');
    }
    let args = ev.args();
    if let Some(t) = ev.request_object() {
        out.extend_from_slice(b",\"requestObject\":");
        t.write(out, &args);
    }
    if let Some(t) = ev.response_object() {
        out.extend_from_slice(b",\"responseObject\":");
        t.write(out, &args);
    }
    out.extend_from_slice(b",\"requestReceivedTimestamp\":\"");
    ts(out, ev.recv_us, 6);
    out.extend_from_slice(b"\",\"stageTimestamp\":\"");
    ts(out, ev.stage_us, 6);
    out.push(b'"');
    if ev.stage == Stage::ResponseComplete {
        out.extend_from_slice(b",\"annotations\":{\"authorization.k8s.io/decision\":\"");
        out.extend_from_slice(if ev.allow {
            b"allow" as &[u8]
        } else {
            b"forbid"
        });
        out.extend_from_slice(b"\",\"authorization.k8s.io/reason\":");
        qstr(out, if ev.allow { ev.reason } else { "" });
        if ev.webhook && !ev.failed() {
            out.extend_from_slice(
                b",\"mutation.webhook.admission.k8s.io/round_0_index_0\":\"{\\\"configuration\\\":\\\"pod-identity-webhook\\\",\\\"webhook\\\":\\\"iam-for-pods.amazonaws.com\\\",\\\"mutated\\\":false}\"",
            );
        }
        if let Some(p) = ev.psa {
            if !ev.failed() {
                out.extend_from_slice(b",\"pod-security.kubernetes.io/enforce-policy\":");
                qstr(out, p);
            }
        }
        out.push(b'}');
    }
    out.push(b'}');
}
