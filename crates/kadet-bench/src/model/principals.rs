//! Principals (who talks to the API server), their serialised `user`
//! objects, user agents and the RBAC reasons the API server gives.

use crate::body::{a, o, ov, s};
use crate::model::random::{leak, uuid, Rng64};

/// Broad class of a principal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Node,
    ControlPlane,
    SystemSa,
    Platform,
    AppSa,
    Human,
}

/// Someone who talks to the API server.
#[derive(Debug)]
pub struct Principal {
    pub username: &'static str,
    /// The whole `user` object, serialised.
    pub user_json: &'static str,
    pub ip: &'static str,
    pub ua: &'static str,
    /// `authorization.k8s.io/reason` when allowed.
    pub reason: &'static str,
    pub kind: Kind,
}

pub fn user_json(
    username: &str,
    uid: Option<&str>,
    groups: &[&str],
    extra: &[(&str, String)],
) -> &'static str {
    let mut u = o([("username", s(username))]);
    if let Some(uid) = uid {
        u.push("uid", s(uid));
    }
    u.push("groups", a(groups.iter().map(|g| s(*g)).collect()));
    if !extra.is_empty() {
        u.push(
            "extra",
            ov(extra
                .iter()
                .map(|(k, v)| (k.to_string(), a(vec![s(v.clone())])))
                .collect()),
        );
    }
    leak(String::from_utf8(u.to_vec()).unwrap())
}

pub fn principal(
    username: &str,
    user_json: &'static str,
    ip: &str,
    ua: &str,
    reason: String,
    kind: Kind,
) -> &'static Principal {
    Box::leak(Box::new(Principal {
        username: leak(username.to_string()),
        user_json,
        ip: leak(ip.to_string()),
        ua: leak(ua.to_string()),
        reason: leak(reason),
        kind,
    }))
}

pub const K8S_VERSION: &str = "v1.29.3";
pub const K8S_COMMIT: &str = "6813625";

pub fn core_ua(component: &str, suffix: &str) -> String {
    if suffix.is_empty() {
        format!("{component}/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}")
    } else {
        format!("{component}/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}/{suffix}")
    }
}

/// A worker node and its kubelet.
#[allow(clippy::too_many_arguments)]
pub fn sa_principal(
    rng: &mut Rng64,
    ns: &str,
    sa: &str,
    pod: Option<(&str, &str)>,
    ip: &str,
    ua: &str,
    reason: String,
    kind: Kind,
) -> &'static Principal {
    let username = format!("system:serviceaccount:{ns}:{sa}");
    let uid = uuid(rng);
    let mut extra = vec![(
        "authentication.kubernetes.io/credential-id",
        format!("JTI={}", uuid(rng)),
    )];
    if let Some((node, pod)) = pod {
        extra.push(("authentication.kubernetes.io/node-name", node.to_string()));
        extra.push(("authentication.kubernetes.io/node-uid", uuid(rng)));
        extra.push(("authentication.kubernetes.io/pod-name", pod.to_string()));
        extra.push(("authentication.kubernetes.io/pod-uid", uuid(rng)));
    }
    let groups = [
        "system:serviceaccounts".to_string(),
        format!("system:serviceaccounts:{ns}"),
        "system:authenticated".to_string(),
    ];
    let g: Vec<&str> = groups.iter().map(|x| x.as_str()).collect();
    let uj = user_json(&username, Some(&uid), &g, &extra);
    principal(&username, uj, ip, ua, reason, kind)
}

pub fn rbac_reason(binding: &str, role: &str, subject: &str) -> String {
    format!(
        "RBAC: allowed by ClusterRoleBinding \"{binding}\" of ClusterRole \"{role}\" to {subject}"
    )
}
