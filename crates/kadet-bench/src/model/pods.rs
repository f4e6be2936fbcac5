//! Pod bodies: the pod a controller creates and the one the API server
//! returns.

use crate::body::{a, arg, eo, n, o, s, slot, J};
use crate::model::containers::{container_json, managed_fields, ContainerDef};
use crate::model::spec::WorkloadSpec;

/// A pod of workload `d`, created by its replicaset (or daemonset) with
/// template hash `hash`. `full` gives the object as the API server returns
/// it (name, uid, service account token volume, `managedFields`, status)
/// rather than as the controller sends it.
pub fn pod_json(
    d: &WorkloadSpec,
    hash: &str,
    rs_uid: &str,
    cs: &[ContainerDef],
    sa: &str,
    full: bool,
) -> J {
    let meta = pod_metadata(d, hash, rs_uid, cs, full);
    let spec = pod_spec(d, cs, sa, full);
    let status = if full {
        o([("phase", s("Pending")), ("qosClass", s("Burstable"))])
    } else {
        eo()
    };
    o([
        ("kind", s("Pod")),
        ("apiVersion", s("v1")),
        ("metadata", meta),
        ("spec", spec),
        ("status", status),
    ])
}

fn pod_metadata(d: &WorkloadSpec, hash: &str, rs_uid: &str, cs: &[ContainerDef], full: bool) -> J {
    let owner_kind = if d.daemonset {
        "DaemonSet"
    } else {
        "ReplicaSet"
    };
    let owner_name = if d.daemonset {
        d.name.to_string()
    } else {
        format!("{}-{hash}", d.name)
    };
    let mut labels = o([("app", s(&d.name))]);
    if d.daemonset {
        labels.push("controller-revision-hash", s(hash));
    } else {
        labels.push("pod-template-hash", s(hash));
    }
    let mut meta = o([]);
    if full {
        meta.push("name", s(arg(slot::NAME)));
    }
    meta.push("generateName", s(format!("{owner_name}-")));
    meta.push("namespace", s(arg(slot::NAMESPACE)));
    if full {
        meta.push("uid", s(arg(slot::UID)));
        meta.push("resourceVersion", s(arg(slot::RV)));
        meta.push("creationTimestamp", s(arg(slot::CREATED)));
    } else {
        meta.push("creationTimestamp", J::Null);
    }
    meta.push("labels", labels);
    meta.push(
        "annotations",
        o([
            (
                "kubectl.kubernetes.io/restartedAt",
                s("2026-10-28T09:12:44Z"),
            ),
            ("prometheus.io/scrape", s("true")),
            ("prometheus.io/port", s("9102")),
        ]),
    );
    meta.push(
        "ownerReferences",
        a(vec![o([
            ("apiVersion", s("apps/v1")),
            ("kind", s(owner_kind)),
            ("name", s(owner_name)),
            ("uid", s(rs_uid)),
            ("controller", J::B(true)),
            ("blockOwnerDeletion", J::B(true)),
        ])]),
    );
    if full {
        meta.push(
            "managedFields",
            managed_fields(cs, "kube-controller-manager"),
        );
    }
    meta
}

fn pod_spec(d: &WorkloadSpec, cs: &[ContainerDef], sa: &str, full: bool) -> J {
    let mut volumes = vec![
        o([
            ("name", s("config")),
            (
                "configMap",
                o([
                    ("name", s(format!("{}-config", d.name))),
                    ("defaultMode", n(420)),
                ]),
            ),
        ]),
        o([
            ("name", s("tmp")),
            ("emptyDir", o([("sizeLimit", s("256Mi"))])),
        ]),
    ];
    if full {
        volumes.push(service_account_token_volume());
    }
    let mut spec = o([("volumes", a(volumes))]);
    spec.push(
        "containers",
        a(cs.iter().map(|c| container_json(c, full)).collect()),
    );
    spec.push("restartPolicy", s("Always"));
    spec.push("terminationGracePeriodSeconds", n(30));
    spec.push("dnsPolicy", s("ClusterFirst"));
    spec.push("serviceAccountName", s(sa));
    spec.push("serviceAccount", s(sa));
    spec.push(
        "securityContext",
        o([
            ("runAsUser", n(10001)),
            ("runAsGroup", n(10001)),
            ("fsGroup", n(10001)),
            ("seccompProfile", o([("type", s("RuntimeDefault"))])),
        ]),
    );
    if d.daemonset {
        spec.push("affinity", on_the_node_of_the_pod());
    }
    spec.push("schedulerName", s("default-scheduler"));
    spec.push("tolerations", not_ready_tolerations());
    spec.push("priority", n(0));
    spec.push("enableServiceLinks", J::B(true));
    spec.push("preemptionPolicy", s("PreemptLowerPriority"));
    spec
}

/// The projected volume with the service account token, `kube-root-ca.crt`
/// and the namespace, which the service account admission plugin adds.
fn service_account_token_volume() -> J {
    o([
        ("name", s(format!("kube-api-access-{}", arg(slot::AUX)))),
        (
            "projected",
            o([
                (
                    "sources",
                    a(vec![
                        o([(
                            "serviceAccountToken",
                            o([("expirationSeconds", n(3607)), ("path", s("token"))]),
                        )]),
                        o([(
                            "configMap",
                            o([
                                ("name", s("kube-root-ca.crt")),
                                (
                                    "items",
                                    a(vec![o([("key", s("ca.crt")), ("path", s("ca.crt"))])]),
                                ),
                            ]),
                        )]),
                        o([(
                            "downwardAPI",
                            o([(
                                "items",
                                a(vec![o([
                                    ("path", s("namespace")),
                                    (
                                        "fieldRef",
                                        o([
                                            ("apiVersion", s("v1")),
                                            ("fieldPath", s("metadata.namespace")),
                                        ]),
                                    ),
                                ])]),
                            )]),
                        )]),
                    ]),
                ),
                ("defaultMode", n(420)),
            ]),
        ),
    ])
}

/// The node affinity the daemonset controller gives each of its pods.
fn on_the_node_of_the_pod() -> J {
    o([(
        "nodeAffinity",
        o([(
            "requiredDuringSchedulingIgnoredDuringExecution",
            o([(
                "nodeSelectorTerms",
                a(vec![o([(
                    "matchFields",
                    a(vec![o([
                        ("key", s("metadata.name")),
                        ("operator", s("In")),
                        ("values", a(vec![s(arg(slot::NODE))])),
                    ])]),
                )])]),
            )]),
        )]),
    )])
}

/// The tolerations the DefaultTolerationSeconds admission plugin adds.
fn not_ready_tolerations() -> J {
    a(vec![
        o([
            ("key", s("node.kubernetes.io/not-ready")),
            ("operator", s("Exists")),
            ("effect", s("NoExecute")),
            ("tolerationSeconds", n(300)),
        ]),
        o([
            ("key", s("node.kubernetes.io/unreachable")),
            ("operator", s("Exists")),
            ("effect", s("NoExecute")),
            ("tolerationSeconds", n(300)),
        ]),
    ])
}
