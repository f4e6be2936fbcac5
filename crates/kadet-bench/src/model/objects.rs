//! Bodies of the smaller objects: configmaps, TokenRequests, events and
//! leases.

use rand::Rng;

use crate::body::{a, arg, n, o, s, slot, J};
use crate::model::random::{hexstr, Rng64};

const CONFIG_KEYS: &[&str] = &[
    "listen",
    "upstream",
    "timeout",
    "retries",
    "pool_size",
    "cache",
    "log_level",
    "tracing",
    "region",
    "feature_flags",
    "rate_limit",
    "max_body",
    "compression",
    "tls_min_version",
    "workers",
];

fn config_text(rng: &mut Rng64, lines: usize) -> String {
    let mut t = String::new();
    for i in 0..lines {
        let k = CONFIG_KEYS[rng.random_range(0..CONFIG_KEYS.len())];
        match rng.random_range(0..5) {
            0 => t.push_str(&format!(
                "{k}_{i}:\n  enabled: true\n  value: {}\n",
                rng.random_range(0..10_000)
            )),
            1 => t.push_str(&format!(
                "{k}_{i}: \"http://svc-{i}.internal:8080/path?a=1&b=2\"\n"
            )),
            2 => t.push_str(&format!(
                "# {k} tuned on 2026-10-{:02} <ops>\n{k}_{i}: {}\n",
                rng.random_range(1..31),
                rng.random_range(0..100)
            )),
            3 => t.push_str(&format!(
                "{k}_{i}: [\"{}\", \"{}\"]\n",
                hexstr(rng, 8),
                hexstr(rng, 8)
            )),
            _ => t.push_str(&format!(
                "{k}_{i}: {}\n",
                ["on", "off", "auto"][rng.random_range(0..3)]
            )),
        }
    }
    t
}

/// A configmap of `app` whose configuration file has `lines` random lines.
pub fn configmap_json(rng: &mut Rng64, app: &str, lines: usize) -> J {
    let data = o([
        (&format!("{app}.yaml") as &str, s(config_text(rng, lines))),
        ("run.sh", s("#!/bin/sh\nset -e\n[ -f /etc/app/env ] && . /etc/app/env\nexec /app/server --config /etc/app/app.yaml 2>&1\n")),
    ]);
    o([
        ("kind", s("ConfigMap")),
        ("apiVersion", s("v1")),
        (
            "metadata",
            o([
                ("name", s(arg(slot::NAME))),
                ("namespace", s(arg(slot::NAMESPACE))),
                ("uid", s(arg(slot::UID))),
                ("resourceVersion", s(arg(slot::RV))),
                ("creationTimestamp", s("2026-09-14T08:31:05Z")),
                (
                    "labels",
                    o([("app", s(app)), ("app.kubernetes.io/managed-by", s("Helm"))]),
                ),
            ]),
        ),
        ("data", data),
    ])
}

/// A TokenRequest: `exp` seconds for `audiences` (none: the API server's),
/// bound to a pod or not; `resp` gives the response with a token, and
/// `minimal` the bare body of [`long_lived_token_request`].
pub fn token_request(
    audiences: Option<&[&str]>,
    exp: i64,
    bound_pod: bool,
    resp: bool,
    minimal: bool,
) -> J {
    let meta = if minimal {
        o([("creationTimestamp", J::Null)])
    } else {
        o([
            ("name", s(arg(slot::NAME))),
            ("namespace", s(arg(slot::NAMESPACE))),
            ("creationTimestamp", J::Null),
        ])
    };
    let aud = match audiences {
        Some(list) => a(list.iter().map(|x| s(*x)).collect()),
        None => J::Null,
    };
    let bound = if bound_pod {
        o([
            ("kind", s("Pod")),
            ("apiVersion", s("v1")),
            ("name", s(arg(slot::AUX))),
            ("uid", s(arg(slot::UID))),
        ])
    } else {
        J::Null
    };
    let status = if resp {
        o([
            ("token", s("eyJhbGciOi.FAKE.FAKE")),
            ("expirationTimestamp", s(arg(slot::CREATED))),
        ])
    } else if minimal {
        o([("token", s(""))])
    } else {
        o([("token", s("")), ("expirationTimestamp", J::Null)])
    };
    o([
        ("kind", s("TokenRequest")),
        ("apiVersion", s("authentication.k8s.io/v1")),
        ("metadata", meta),
        (
            "spec",
            o([
                ("audiences", aud),
                ("expirationSeconds", n(exp)),
                ("boundObjectRef", bound),
            ]),
        ),
        ("status", status),
    ])
}

/// The exact request body of the Stratus Red Team `k8s.persistence.create-token` technique.
pub fn long_lived_token_request() -> J {
    token_request(None, 946_080_000, false, false, true)
}

/// An event of the kubelet about a pod.
pub fn event_json() -> J {
    o([
        ("kind", s("Event")),
        ("apiVersion", s("v1")),
        (
            "metadata",
            o([
                ("name", s(format!("{}.17a3f0c2d5e8b901", arg(slot::AUX)))),
                ("namespace", s(arg(slot::NAMESPACE))),
                ("creationTimestamp", J::Null),
            ]),
        ),
        (
            "involvedObject",
            o([
                ("kind", s("Pod")),
                ("namespace", s(arg(slot::NAMESPACE))),
                ("name", s(arg(slot::AUX))),
                ("uid", s(arg(slot::UID))),
                ("apiVersion", s("v1")),
                ("fieldPath", s("spec.containers{app}")),
            ]),
        ),
        ("reason", s("Pulled")),
        (
            "message",
            s("Container image \"registry.example.com/shop/app:1.0\" already present on machine"),
        ),
        (
            "source",
            o([("component", s("kubelet")), ("host", s(arg(slot::NODE)))]),
        ),
        ("firstTimestamp", s(arg(slot::CREATED))),
        ("lastTimestamp", s(arg(slot::CREATED))),
        ("count", n(1)),
        ("type", s("Normal")),
        ("eventTime", J::Null),
        ("reportingComponent", s("kubelet")),
        ("reportingInstance", s(arg(slot::NODE))),
    ])
}

/// A lease, as renewed by its holder.
pub fn lease_json() -> J {
    o([
        ("kind", s("Lease")),
        ("apiVersion", s("coordination.k8s.io/v1")),
        (
            "metadata",
            o([
                ("name", s(arg(slot::NAME))),
                ("namespace", s(arg(slot::NAMESPACE))),
                ("uid", s(arg(slot::UID))),
                ("resourceVersion", s(arg(slot::RV))),
                ("creationTimestamp", s("2026-09-14T08:02:11Z")),
            ]),
        ),
        (
            "spec",
            o([
                ("holderIdentity", s(arg(slot::AUX))),
                ("leaseDurationSeconds", n(15)),
                ("acquireTime", s("2026-10-30T17:45:02.000000Z")),
                ("renewTime", s(arg(slot::CREATED))),
                ("leaseTransitions", n(3)),
            ]),
        ),
    ])
}
