//! Principals (who talks to the API server), their serialised `user`
//! objects, user agents and the RBAC reasons the API server gives.

use rand::Rng;

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

/// A serialised `user` object: username, uid, groups and `extra` (each
/// value a one-element list, as the API server writes them).
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

/// A leaked principal.
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

/// Version of the simulated clusters' Kubernetes and of their components.
pub const K8S_VERSION: &str = "v1.29.3";
/// Commit of [`K8S_VERSION`] in the components' user agents.
pub const K8S_COMMIT: &str = "6813625";

/// User agent of a Kubernetes component, with an optional suffix (the
/// client's name, such as `leader-election`).
pub fn core_ua(component: &str, suffix: &str) -> String {
    if suffix.is_empty() {
        format!("{component}/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}")
    } else {
        format!("{component}/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}/{suffix}")
    }
}

/// A service account `ns/sa` with a fresh token: its `user` has the token's
/// credential id and, for a pod's token, the pod and its node.
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

/// A random address in the control plane's network, where the controller
/// manager, the scheduler and the cloud provider's principals call from.
pub fn control_plane_ip(rng: &mut Rng64) -> String {
    format!(
        "172.16.{}.{}",
        rng.random_range(0..64),
        rng.random_range(2..250)
    )
}

/// `authorization.k8s.io/reason` of a request allowed by a
/// ClusterRoleBinding.
pub fn rbac_reason(binding: &str, role: &str, subject: &str) -> String {
    format!(
        "RBAC: allowed by ClusterRoleBinding \"{binding}\" of ClusterRole \"{role}\" to {subject}"
    )
}
