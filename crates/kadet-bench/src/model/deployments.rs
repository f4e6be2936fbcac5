//! Deployment bodies: what `kubectl apply` sends and the object the API
//! server returns.

use crate::body::{a, arg, eo, n, o, s, slot, J};
use crate::model::containers::{container_json, ContainerDef};
use crate::model::spec::WorkloadSpec;

fn deployment_json(d: &WorkloadSpec, cs: &[ContainerDef], sa: &str, replicas: i64) -> J {
    // The object as kubectl apply sends it (kubectl writes sorted keys).
    let containers: Vec<J> = cs
        .iter()
        .map(|c| {
            o([
                ("env", a(c.env.clone())),
                ("image", s(c.image.clone())),
                ("name", s(c.name.clone())),
                (
                    "ports",
                    a(vec![o([("containerPort", n(c.port)), ("name", s("http"))])]),
                ),
                (
                    "resources",
                    o([
                        ("limits", o([("memory", s(c.mem.clone()))])),
                        (
                            "requests",
                            o([("cpu", s(c.cpu.clone())), ("memory", s(c.mem.clone()))]),
                        ),
                    ]),
                ),
            ])
        })
        .collect();
    o([
        ("apiVersion", s("apps/v1")),
        ("kind", s("Deployment")),
        (
            "metadata",
            o([
                ("annotations", eo()),
                ("labels", o([("app", s(&d.name))])),
                ("name", s(&d.name)),
                ("namespace", s(&d.namespace)),
            ]),
        ),
        (
            "spec",
            o([
                ("replicas", n(replicas)),
                ("selector", o([("matchLabels", o([("app", s(&d.name))]))])),
                (
                    "template",
                    o([
                        ("metadata", o([("labels", o([("app", s(&d.name))]))])),
                        (
                            "spec",
                            o([("containers", a(containers)), ("serviceAccountName", s(sa))]),
                        ),
                    ]),
                ),
            ]),
        ),
    ])
}

/// The patch `kubectl apply` sends for workload `d`'s deployment.
pub fn deploy_patch(d: &WorkloadSpec, cs: &[ContainerDef], sa: &str) -> J {
    let last = deployment_json(d, cs, sa, d.replicas as i64);
    let mut last_s = String::from_utf8(last.to_vec()).unwrap();
    last_s.push('\n');
    o([
        (
            "metadata",
            o([(
                "annotations",
                o([(
                    "kubectl.kubernetes.io/last-applied-configuration",
                    s(last_s),
                )]),
            )]),
        ),
        (
            "spec",
            o([(
                "template",
                o([(
                    "spec",
                    o([
                        (
                            "$setElementOrder/containers",
                            a(cs.iter()
                                .map(|c| o([("name", s(c.name.clone()))]))
                                .collect()),
                        ),
                        (
                            "containers",
                            a(vec![o([
                                ("image", s(cs[0].image.clone())),
                                ("name", s(cs[0].name.clone())),
                            ])]),
                        ),
                    ]),
                )]),
            )]),
        ),
    ])
}

/// Workload `d`'s deployment as the API server returns it.
pub fn deploy_obj(d: &WorkloadSpec, cs: &[ContainerDef], sa: &str) -> J {
    let last = deployment_json(d, cs, sa, d.replicas as i64);
    let mut last_s = String::from_utf8(last.to_vec()).unwrap();
    last_s.push('\n');
    let r = d.replicas as i64;
    o([
        ("kind", s("Deployment")),
        ("apiVersion", s("apps/v1")),
        (
            "metadata",
            o([
                ("name", s(arg(slot::NAME))),
                ("namespace", s(arg(slot::NAMESPACE))),
                ("uid", s(arg(slot::UID))),
                ("resourceVersion", s(arg(slot::RV))),
                ("generation", n(17)),
                ("creationTimestamp", s("2026-09-14T08:31:07Z")),
                ("labels", o([("app", s(&d.name))])),
                (
                    "annotations",
                    o([
                        ("deployment.kubernetes.io/revision", s("17")),
                        (
                            "kubectl.kubernetes.io/last-applied-configuration",
                            s(last_s),
                        ),
                    ]),
                ),
            ]),
        ),
        (
            "spec",
            o([
                ("replicas", n(r)),
                ("selector", o([("matchLabels", o([("app", s(&d.name))]))])),
                (
                    "template",
                    o([
                        (
                            "metadata",
                            o([
                                ("creationTimestamp", J::Null),
                                ("labels", o([("app", s(&d.name))])),
                            ]),
                        ),
                        (
                            "spec",
                            o([
                                (
                                    "containers",
                                    a(cs.iter().map(|c| container_json(c, false)).collect()),
                                ),
                                ("restartPolicy", s("Always")),
                                ("serviceAccountName", s(sa)),
                            ]),
                        ),
                    ]),
                ),
                (
                    "strategy",
                    o([
                        ("type", s("RollingUpdate")),
                        (
                            "rollingUpdate",
                            o([("maxUnavailable", s("25%")), ("maxSurge", s("25%"))]),
                        ),
                    ]),
                ),
                ("revisionHistoryLimit", n(10)),
                ("progressDeadlineSeconds", n(600)),
            ]),
        ),
        (
            "status",
            o([
                ("observedGeneration", n(17)),
                ("replicas", n(r)),
                ("updatedReplicas", n(r)),
                ("readyReplicas", n(r)),
                ("availableReplicas", n(r)),
            ]),
        ),
    ])
}
