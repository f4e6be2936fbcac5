//! Builds a simulated cluster from the RNG.

use rand::Rng;

use crate::body::Template;
use crate::model::containers::containers;
use crate::model::deployments::{deploy_obj, deploy_patch};
use crate::model::objects::{
    configmap_json, event_json, lease_json, long_lived_token_request, token_request,
};
use crate::model::pods::pod_json;
use crate::model::principals::{core_ua, principal, rbac_reason, sa_principal, user_json, Kind};
use crate::model::random::{
    hexstr, k8s_suffix, leak, rand_from, uuid, Rng64, LOWER_ALNUM, UPPER_ALNUM,
};
use crate::model::resources::*;
use crate::model::*;

const fn acc(verb: &'static str, res: &'static Res, ns: NsSel, name: NameSel) -> Access {
    Access {
        verb,
        res,
        ns,
        name,
        sub: "",
    }
}

const AWS_ACCOUNT: &str = "123456789012";
// Access key ids in `user.extra` are 16 characters long ("ASIAEXAMPLE" plus
// five), four short of a real one, so that secret scanners never mistake
// them for credentials.

pub struct WorkloadDef {
    pub ns: &'static str,
    pub name: &'static str,
    pub image: &'static str,
    pub replicas: usize,
    pub containers: usize,
    pub env: usize,
    pub port: i64,
    pub system: bool,
    pub daemonset: bool,
}

const fn wd(
    ns: &'static str,
    name: &'static str,
    image: &'static str,
    replicas: usize,
    containers: usize,
    env: usize,
    port: i64,
) -> WorkloadDef {
    WorkloadDef {
        ns,
        name,
        image,
        replicas,
        containers,
        env,
        port,
        system: false,
        daemonset: false,
    }
}

const fn sys(
    ns: &'static str,
    name: &'static str,
    image: &'static str,
    replicas: usize,
    daemonset: bool,
) -> WorkloadDef {
    WorkloadDef {
        ns,
        name,
        image,
        replicas,
        containers: 1,
        env: 4,
        port: 8080,
        system: true,
        daemonset,
    }
}

const USER_WORKLOADS: &[WorkloadDef] = &[
    wd(
        "shop",
        "frontend",
        "registry.example.com/shop/frontend:2.14.1",
        3,
        2,
        12,
        8080,
    ),
    wd(
        "shop",
        "cart",
        "registry.example.com/shop/cart:1.9.0",
        2,
        1,
        10,
        8080,
    ),
    wd(
        "shop",
        "checkout",
        "registry.example.com/shop/checkout:3.2.7",
        2,
        3,
        28,
        8443,
    ),
    wd(
        "shop",
        "catalog",
        "registry.example.com/shop/catalog:5.0.2",
        3,
        2,
        16,
        8080,
    ),
    wd(
        "payments",
        "payments-api",
        "registry.example.com/payments/api:7.1.0",
        3,
        4,
        46,
        9000,
    ),
    wd(
        "payments",
        "ledger-worker",
        "registry.example.com/payments/ledger:7.1.0",
        2,
        2,
        30,
        9100,
    ),
    wd("web", "nginx", "nginx:1.25.4", 2, 1, 3, 80),
    wd(
        "web",
        "api",
        "registry.example.com/web/api:0.42.3",
        2,
        2,
        18,
        8080,
    ),
    wd(
        "data",
        "etl-runner",
        "registry.example.com/data/etl:2026.10.3",
        1,
        3,
        40,
        8080,
    ),
    wd(
        "default",
        "hello",
        "registry.example.com/demo/hello:1.0.0",
        1,
        1,
        2,
        8080,
    ),
    wd(
        "monitoring",
        "grafana",
        "grafana/grafana:10.4.1",
        1,
        2,
        14,
        3000,
    ),
    wd(
        "monitoring",
        "kube-state-metrics",
        "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.11.0",
        1,
        1,
        2,
        8080,
    ),
    wd(
        "argocd",
        "argocd-server",
        "quay.io/argoproj/argocd:v2.10.4",
        2,
        1,
        20,
        8080,
    ),
    wd(
        "argocd",
        "argocd-repo-server",
        "quay.io/argoproj/argocd:v2.10.4",
        2,
        2,
        18,
        8081,
    ),
];

const USER_NAMESPACES: &[&str] = &[
    "default",
    "shop",
    "payments",
    "web",
    "data",
    "monitoring",
    "argocd",
];

/// Builds the cluster for a flavour.
pub fn build_cluster(rng: &mut Rng64, opts: ClusterOpts) -> &'static Cluster {
    let flavor = opts.flavor;
    // Nodes.
    let mut nodes = Vec::new();
    let aks_vmss = format!("{:08}", rng.random_range(10_000_000..99_999_999u32));
    let gke_pool = hexstr(rng, 8);
    for i in 0..opts.nodes {
        let (name, ip) = match flavor {
            Flavor::Eks => {
                let subnet = 1 + (i % 3);
                let host = rng.random_range(10..250);
                (
                    format!("ip-10-0-{subnet}-{host}.ec2.internal"),
                    format!("10.0.{subnet}.{host}"),
                )
            }
            Flavor::Aks => (
                format!("aks-nodepool1-{aks_vmss}-vmss{i:06}"),
                format!("10.224.0.{}", 4 + i),
            ),
            Flavor::Gke => (
                format!(
                    "gke-bench-gke-default-pool-{gke_pool}-{}",
                    rand_from(rng, LOWER_ALNUM, 4)
                ),
                format!("10.128.0.{}", 10 + i),
            ),
        };
        let username = format!("system:node:{name}");
        let uj = match flavor {
            Flavor::Eks => {
                let instance = format!("i-0{}", hexstr(rng, 16));
                user_json(
                    &username,
                    Some(&format!("aws-iam-authenticator:{AWS_ACCOUNT}:AROAEXAMPLENODEROLE01")),
                    &["system:bootstrappers", "system:nodes", "system:authenticated"],
                    &[
                        ("accessKeyId", format!("ASIAEXAMPLE{}", rand_from(rng, UPPER_ALNUM, 5))),
                        ("arn", format!("arn:aws:sts::{AWS_ACCOUNT}:assumed-role/bench-node-role/{instance}")),
                        ("canonicalArn", format!("arn:aws:iam::{AWS_ACCOUNT}:role/bench-node-role")),
                        ("principalId", "AROAEXAMPLENODEROLE01".to_string()),
                        ("sessionName", instance.clone()),
                        ("sigs.k8s.io/aws-iam-authenticator/principalId", "AROAEXAMPLENODEROLE01".to_string()),
                    ],
                )
            }
            _ => user_json(
                &username,
                None,
                &["system:nodes", "system:authenticated"],
                &[],
            ),
        };
        let kubelet = principal(
            &username,
            uj,
            &ip,
            &core_ua("kubelet", ""),
            String::new(),
            Kind::Node,
        );
        nodes.push(Node {
            name: leak(name),
            ip: leak(ip),
            kubelet,
        });
    }

    let cp_ip = |rng: &mut Rng64| {
        format!(
            "172.16.{}.{}",
            rng.random_range(0..64),
            rng.random_range(2..250)
        )
    };
    let kcm_ip = cp_ip(rng);
    let sched_ip = cp_ip(rng);
    let kcm_uj = user_json(
        "system:kube-controller-manager",
        None,
        &["system:authenticated"],
        &[],
    );
    let kcm_reason = rbac_reason(
        "system:kube-controller-manager",
        "system:kube-controller-manager",
        "User \"system:kube-controller-manager\"",
    );
    let kcm = principal(
        "system:kube-controller-manager",
        kcm_uj,
        &kcm_ip,
        &core_ua("kube-controller-manager", "leader-election"),
        kcm_reason.clone(),
        Kind::ControlPlane,
    );
    let kcm_informers = principal(
        "system:kube-controller-manager",
        kcm_uj,
        &kcm_ip,
        &core_ua("kube-controller-manager", "shared-informers"),
        kcm_reason,
        Kind::ControlPlane,
    );
    let sched_uj = user_json(
        "system:kube-scheduler",
        None,
        &["system:authenticated"],
        &[],
    );
    let sched_reason = rbac_reason(
        "system:kube-scheduler",
        "system:kube-scheduler",
        "User \"system:kube-scheduler\"",
    );
    let scheduler = principal(
        "system:kube-scheduler",
        sched_uj,
        &sched_ip,
        &core_ua("kube-scheduler", "leader-election"),
        sched_reason.clone(),
        Kind::ControlPlane,
    );
    let scheduler_informers = principal(
        "system:kube-scheduler",
        sched_uj,
        &sched_ip,
        &core_ua("kube-scheduler", "scheduler"),
        sched_reason,
        Kind::ControlPlane,
    );

    let ctrl = |rng: &mut Rng64, name: &str| {
        sa_principal(
            rng,
            "kube-system",
            name,
            None,
            &kcm_ip,
            &core_ua(
                "kube-controller-manager",
                &format!("system:serviceaccount:kube-system:{name}"),
            ),
            rbac_reason(
                &format!("system:controller:{name}"),
                &format!("system:controller:{name}"),
                &format!("ServiceAccount \"{name}/kube-system\""),
            ),
            Kind::SystemSa,
        )
    };
    let rs_ctrl = ctrl(rng, "replicaset-controller");
    let deploy_ctrl = ctrl(rng, "deployment-controller");
    let ep_ctrl = ctrl(rng, "endpoint-controller");
    let eps_ctrl = ctrl(rng, "endpointslice-controller");
    let gc_ctrl = ctrl(rng, "generic-garbage-collector");
    let ds_ctrl = ctrl(rng, "daemon-set-controller");
    let job_ctrl = ctrl(rng, "job-controller");
    let cronjob_ctrl = ctrl(rng, "cronjob-controller");
    let other_ctrls = [
        "namespace-controller",
        "node-controller",
        "resourcequota-controller",
        "horizontal-pod-autoscaler",
        "pvc-protection-controller",
        "attachdetach-controller",
        "service-account-controller",
        "statefulset-controller",
        "disruption-controller",
        "ttl-after-finished-controller",
        "root-ca-cert-publisher",
        "endpointslicemirroring-controller",
    ]
    .iter()
    .map(|n_| ctrl(rng, n_))
    .collect();

    // Workloads.
    let mut defs: Vec<&WorkloadDef> = USER_WORKLOADS.iter().collect();
    let sys_defs: Vec<WorkloadDef> = {
        let mut v = vec![
            sys(
                "kube-system",
                "coredns",
                "registry.k8s.io/coredns/coredns:v1.11.1",
                2,
                false,
            ),
            sys(
                "kube-system",
                "metrics-server",
                "registry.k8s.io/metrics-server/metrics-server:v0.7.0",
                1,
                false,
            ),
            sys(
                "kube-system",
                "kube-proxy",
                "registry.k8s.io/kube-proxy:v1.29.3",
                1,
                true,
            ),
        ];
        match flavor {
            Flavor::Eks => {
                v.push(sys(
                    "kube-system",
                    "aws-node",
                    "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.16.0",
                    1,
                    true,
                ));
                v.push(sys(
                    "kube-system",
                    "ebs-csi-controller",
                    "public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver:v1.28.0",
                    2,
                    false,
                ));
                v.push(sys(
                    "kube-system",
                    "cluster-autoscaler",
                    "registry.k8s.io/autoscaling/cluster-autoscaler:v1.29.0",
                    1,
                    false,
                ));
            }
            Flavor::Aks => {
                v.push(sys(
                    "kube-system",
                    "azure-cns",
                    "mcr.microsoft.com/containernetworking/azure-cns:v1.5.23",
                    1,
                    true,
                ));
                v.push(sys(
                    "kube-system",
                    "konnectivity-agent",
                    "mcr.microsoft.com/oss/kubernetes/apiserver-network-proxy/agent:v0.1.5",
                    2,
                    false,
                ));
                v.push(sys(
                    "kube-system",
                    "cloud-node-manager",
                    "mcr.microsoft.com/oss/kubernetes/azure-cloud-node-manager:v1.29.2",
                    1,
                    true,
                ));
            }
            Flavor::Gke => {
                v.push(sys(
                    "kube-system",
                    "gke-metrics-agent",
                    "gke.gcr.io/gke-metrics-agent:1.11.0",
                    1,
                    true,
                ));
                v.push(sys(
                    "kube-system",
                    "konnectivity-agent",
                    "gke.gcr.io/proxy-agent:v0.1.5",
                    2,
                    false,
                ));
                v.push(sys(
                    "kube-system",
                    "netd",
                    "gke.gcr.io/netd:v0.4.0",
                    1,
                    true,
                ));
            }
        }
        v
    };
    defs.extend(sys_defs.iter());
    let mut workloads = Vec::new();
    for d in defs {
        let big = opts.big_workloads && !d.system && d.env > 20;
        let cs = containers(rng, d, big);
        let hash = if d.daemonset {
            k8s_suffix(rng, 5)
        } else {
            k8s_suffix(rng, 10)
        };
        let rs_uid = uuid(rng);
        let sa = if d.system || d.name == "hello" {
            if d.name == "hello" {
                "default"
            } else {
                d.name
            }
        } else {
            d.name
        };
        let (replicas, nodes_for) = if d.daemonset {
            (nodes.len(), true)
        } else {
            (d.replicas, false)
        };
        let mut pods = Vec::new();
        let mut pod_node = Vec::new();
        for r in 0..replicas {
            let pod = if d.daemonset {
                format!("{}-{}", d.name, k8s_suffix(rng, 5))
            } else {
                format!("{}-{hash}-{}", d.name, k8s_suffix(rng, 5))
            };
            pods.push(leak(pod));
            pod_node.push(if nodes_for {
                r
            } else {
                rng.random_range(0..nodes.len())
            });
        }
        workloads.push(Workload {
            ns: d.ns,
            name: d.name,
            rs_name: leak(if d.daemonset {
                d.name.to_string()
            } else {
                format!("{}-{hash}", d.name)
            }),
            pods,
            pod_node,
            sa,
            container: leak(cs[0].name.clone()),
            pod_req: Template::new(
                &pod_json(d, &hash, &rs_uid, &cs, sa, false),
                "core.k8s.io/v1.Pod",
            ),
            pod_resp: Template::new(
                &pod_json(d, &hash, &rs_uid, &cs, sa, true),
                "core.k8s.io/v1.Pod",
            ),
            deploy_patch: Template::new(&deploy_patch(d, &cs, sa), "apps.k8s.io/v1.Deployment"),
            deploy_obj: Template::new(&deploy_obj(d, &cs, sa), "apps.k8s.io/v1.Deployment"),
            system: d.system,
            daemonset: d.daemonset,
        });
    }

    // Configmaps.
    let mut configmaps = Vec::new();
    for w in workloads.iter().filter(|w| !w.system) {
        let lines = if opts.big_workloads && rng.random_bool(0.3) {
            rng.random_range(100..400)
        } else {
            rng.random_range(4..40)
        };
        configmaps.push(ConfigMap {
            ns: w.ns,
            name: leak(format!("{}-config", w.name)),
            body: Template::new(
                &configmap_json(rng, w.name, lines),
                "core.k8s.io/v1.ConfigMap",
            ),
        });
    }
    for (ns, name) in [
        ("kube-system", "coredns"),
        ("kube-system", "kube-proxy-config"),
        ("kube-system", "extension-apiserver-authentication"),
        ("kube-system", "cluster-autoscaler-status"),
    ] {
        configmaps.push(ConfigMap {
            ns,
            name,
            body: {
                let lines = rng.random_range(6..20);
                Template::new(
                    &configmap_json(rng, name, lines),
                    "core.k8s.io/v1.ConfigMap",
                )
            },
        });
    }
    for ns in USER_NAMESPACES {
        configmaps.push(ConfigMap {
            ns,
            name: "kube-root-ca.crt",
            body: Template::new(
                &configmap_json(rng, "kube-root-ca", 3),
                "core.k8s.io/v1.ConfigMap",
            ),
        });
    }

    let mut secrets = Vec::new();
    for w in workloads.iter().filter(|w| !w.system) {
        secrets.push((w.ns, leak(format!("{}-db-credentials", w.name))));
        secrets.push((w.ns, leak(format!("{}-tls", w.name))));
    }

    // Humans.
    let vpn_ip = |rng: &mut Rng64| {
        format!(
            "10.8.{}.{}",
            rng.random_range(0..4),
            rng.random_range(2..250)
        )
    };
    let kubectl_uas = [
        "kubectl/v1.29.3 (linux/amd64) kubernetes/6813625",
        "kubectl/v1.30.2 (darwin/arm64) kubernetes/3968350",
        "kubectl/v1.29.1 (darwin/amd64) kubernetes/bc401b9",
    ];
    let mut humans = Vec::new();
    let dev_reason = "RBAC: allowed by RoleBinding \"developers-edit/shop\" of ClusterRole \"edit\" to Group \"developers\"".to_string();
    let human_names = ["alice", "bob", "carol", "dave"];
    for (i, hn) in human_names.iter().enumerate() {
        let ip = vpn_ip(rng);
        let ua = kubectl_uas[i % kubectl_uas.len()];
        let (username, uj) = match flavor {
            Flavor::Eks if i % 2 == 1 => {
                let username = format!("arn:aws:sts::{AWS_ACCOUNT}:assumed-role/developers/{hn}");
                let uj = user_json(
                    &username,
                    Some(&format!(
                        "aws-iam-authenticator:{AWS_ACCOUNT}:AROAEXAMPLEDEVROLE001"
                    )),
                    &["developers", "system:authenticated"],
                    &[
                        (
                            "accessKeyId",
                            format!("ASIAEXAMPLE{}", rand_from(rng, UPPER_ALNUM, 5)),
                        ),
                        ("arn", username.clone()),
                        (
                            "canonicalArn",
                            format!("arn:aws:iam::{AWS_ACCOUNT}:role/developers"),
                        ),
                        ("principalId", "AROAEXAMPLEDEVROLE001".to_string()),
                        ("sessionName", hn.to_string()),
                    ],
                );
                (username, uj)
            }
            Flavor::Aks => {
                let username = format!("{hn}@example.com");
                let oid = uuid(rng);
                let uj = user_json(
                    &username,
                    Some(&oid),
                    &[
                        "2f3a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b",
                        "system:authenticated",
                    ],
                    &[("oid", oid.clone())],
                );
                (username, uj)
            }
            _ => {
                let username = format!("{hn}@example.com");
                let uj = user_json(
                    &username,
                    None,
                    &["developers", "system:authenticated"],
                    &[],
                );
                (username, uj)
            }
        };
        humans.push(principal(
            &username,
            uj,
            &ip,
            ua,
            dev_reason.clone(),
            Kind::Human,
        ));
    }
    let admin = match flavor {
        Flavor::Eks => {
            let uj = user_json(
                "kubernetes-admin",
                Some(&format!(
                    "aws-iam-authenticator:{AWS_ACCOUNT}:AIDAEXAMPLEADMIN0001"
                )),
                &["system:masters", "system:authenticated"],
                &[
                    (
                        "accessKeyId",
                        format!("AKIAEXAMPLE{}", rand_from(rng, UPPER_ALNUM, 5)),
                    ),
                    (
                        "arn",
                        format!("arn:aws:iam::{AWS_ACCOUNT}:user/platform-admin"),
                    ),
                    (
                        "canonicalArn",
                        format!("arn:aws:iam::{AWS_ACCOUNT}:user/platform-admin"),
                    ),
                    ("principalId", "AIDAEXAMPLEADMIN0001".to_string()),
                ],
            );
            principal(
                "kubernetes-admin",
                uj,
                &vpn_ip(rng),
                kubectl_uas[0],
                rbac_reason("cluster-admin", "cluster-admin", "Group \"system:masters\""),
                Kind::Human,
            )
        }
        Flavor::Aks => {
            let oid = uuid(rng);
            let uj = user_json(
                "platform-admin@example.com",
                Some(&oid),
                &[
                    "7c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
                    "system:authenticated",
                ],
                &[("oid", oid.clone())],
            );
            principal(
                "platform-admin@example.com",
                uj,
                &vpn_ip(rng),
                kubectl_uas[0],
                rbac_reason(
                    "aks-cluster-admin-binding-aad",
                    "cluster-admin",
                    "Group \"7c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f\"",
                ),
                Kind::Human,
            )
        }
        Flavor::Gke => {
            let uj = user_json(
                "platform-admin@example.com",
                None,
                &["system:authenticated"],
                &[],
            );
            principal(
                "platform-admin@example.com",
                uj,
                &vpn_ip(rng),
                kubectl_uas[0],
                rbac_reason(
                    "platform-admins",
                    "cluster-admin",
                    "User \"platform-admin@example.com\"",
                ),
                Kind::Human,
            )
        }
    };
    let ci_ip = format!(
        "10.20.{}.{}",
        rng.random_range(0..8),
        rng.random_range(2..250)
    );
    let ci = match flavor {
        Flavor::Eks => {
            let username = format!(
                "arn:aws:sts::{AWS_ACCOUNT}:assumed-role/github-actions-deploy/{{{{SessionName}}}}"
            );
            let uj = user_json(
                &username,
                Some(&format!("aws-iam-authenticator:{AWS_ACCOUNT}:AROAEXAMPLECIROLE0001")),
                &["deployers", "system:authenticated"],
                &[
                    ("arn", format!("arn:aws:sts::{AWS_ACCOUNT}:assumed-role/github-actions-deploy/gha-run-8812")),
                    ("canonicalArn", format!("arn:aws:iam::{AWS_ACCOUNT}:role/github-actions-deploy")),
                    ("principalId", "AROAEXAMPLECIROLE0001".to_string()),
                    ("sessionName", "gha-run-8812".to_string()),
                ],
            );
            principal(
                &username,
                uj,
                &ci_ip,
                kubectl_uas[0],
                rbac_reason("deployers", "deployer", "Group \"deployers\""),
                Kind::Human,
            )
        }
        Flavor::Aks => {
            let oid = uuid(rng);
            let uj = user_json(
                &oid,
                Some(&oid),
                &["system:authenticated"],
                &[("oid", oid.clone())],
            );
            let p = principal(
                &oid,
                uj,
                &ci_ip,
                "helm/v3.14.2 (linux/amd64) kubernetes/$Format",
                rbac_reason("deployers", "deployer", &format!("User \"{oid}\"")),
                Kind::Human,
            );
            p
        }
        Flavor::Gke => {
            let u = "deployer@bench-proj.iam.gserviceaccount.com";
            let uj = user_json(u, None, &["system:authenticated"], &[]);
            principal(
                u,
                uj,
                &ci_ip,
                "helm/v3.14.2 (linux/amd64) kubernetes/$Format",
                rbac_reason("deployers", "deployer", &format!("User \"{u}\"")),
                Kind::Human,
            )
        }
    };

    // Add-ons in kube-system, bound to pods on nodes.
    let pick_pod =
        |workloads: &Vec<Workload>, name: &str, i: usize| -> Option<(usize, &'static str)> {
            let w = workloads.iter().find(|w| w.name == name)?;
            let k = i % w.pods.len();
            Some((w.pod_node[k], w.pods[k]))
        };
    let mut addons = Vec::new();
    let addon = |rng: &mut Rng64,
                 sa: &str,
                 ua: &str,
                 weight: u32,
                 accesses: Vec<Access>,
                 workloads: &Vec<Workload>,
                 nodes: &Vec<Node>| {
        let (node_idx, pod) = pick_pod(workloads, sa, rng.random_range(0..64))
            .unwrap_or((0, leak(format!("{sa}-{}", k8s_suffix(rng, 5)))));
        let node = &nodes[node_idx];
        let p = sa_principal(
            rng,
            "kube-system",
            sa,
            Some((node.name, pod)),
            node.ip,
            ua,
            rbac_reason(
                &format!("system:{sa}"),
                &format!("system:{sa}"),
                &format!("ServiceAccount \"{sa}/kube-system\""),
            ),
            Kind::SystemSa,
        );
        Actor {
            p,
            accesses,
            weight,
        }
    };
    use NameSel as Nm;
    use NsSel as Ns;
    let ks = Ns::Fixed("kube-system");
    addons.push(addon(
        rng,
        "coredns",
        "coredns/v1.11.1 (linux/amd64) kubernetes/$Format",
        4,
        vec![
            acc("watch", &ENDPOINTSLICES, Ns::None, Nm::None),
            acc("watch", &SERVICES, Ns::None, Nm::None),
            acc("watch", &NAMESPACES, Ns::None, Nm::None),
            acc("list", &ENDPOINTSLICES, Ns::None, Nm::None),
        ],
        &workloads,
        &nodes,
    ));
    addons.push(addon(
        rng,
        "kube-proxy",
        &core_ua("kube-proxy", ""),
        4,
        vec![
            acc("watch", &ENDPOINTSLICES, Ns::None, Nm::None),
            acc("watch", &SERVICES, Ns::None, Nm::None),
            acc("get", &NODES, Ns::None, Nm::Node),
            acc("watch", &NODES, Ns::None, Nm::None),
        ],
        &workloads,
        &nodes,
    ));
    addons.push(addon(
        rng,
        "metrics-server",
        "metrics-server/v0.7.0 (linux/amd64) kubernetes/$Format",
        3,
        vec![
            acc("list", &NODES, Ns::None, Nm::None),
            acc("watch", &NODES, Ns::None, Nm::None),
            acc("watch", &PODS, Ns::None, Nm::None),
            acc(
                "watch",
                &CONFIGMAPS,
                ks,
                Nm::Fixed("extension-apiserver-authentication"),
            ),
            acc("create", &SUBJECTACCESSREVIEWS, Ns::None, Nm::None),
            acc("create", &TOKENREVIEWS, Ns::None, Nm::None),
        ],
        &workloads,
        &nodes,
    ));
    match flavor {
        Flavor::Eks => {
            addons.push(addon(
                rng,
                "aws-node",
                "amazon-vpc-cni-k8s/v1.16.0 (linux/amd64) kubernetes/$Format",
                4,
                vec![
                    acc("get", &NODES, Ns::None, Nm::Node),
                    acc("list", &PODS, Ns::None, Nm::None),
                    acc("watch", &PODS, Ns::None, Nm::None),
                    acc("list", &ENICONFIGS, Ns::None, Nm::None),
                    acc("get", &CONFIGMAPS, ks, Nm::Fixed("amazon-vpc-cni")),
                ],
                &workloads,
                &nodes,
            ));
            addons.push(addon(
                rng,
                "ebs-csi-controller",
                "csi-provisioner/v4.0.0 (linux/amd64) kubernetes/$Format",
                2,
                vec![
                    acc("watch", &PVCS, Ns::None, Nm::None),
                    acc("watch", &PVS, Ns::None, Nm::None),
                    acc("watch", &VOLUMEATTACHMENTS, Ns::None, Nm::None),
                    acc("watch", &STORAGECLASSES, Ns::None, Nm::None),
                    acc(
                        "get",
                        &LEASES,
                        ks,
                        Nm::Fixed("external-attacher-leader-ebs-csi-aws-com"),
                    ),
                    acc(
                        "update",
                        &LEASES,
                        ks,
                        Nm::Fixed("external-attacher-leader-ebs-csi-aws-com"),
                    ),
                ],
                &workloads,
                &nodes,
            ));
            addons.push(addon(
                rng,
                "cluster-autoscaler",
                "cluster-autoscaler/v1.29.0 (linux/amd64) kubernetes/$Format",
                2,
                vec![
                    acc("list", &PODS, Ns::None, Nm::None),
                    acc("list", &NODES, Ns::None, Nm::None),
                    acc("watch", &PDBS, Ns::None, Nm::None),
                    acc("watch", &CSINODES, Ns::None, Nm::None),
                    acc(
                        "get",
                        &CONFIGMAPS,
                        ks,
                        Nm::Fixed("cluster-autoscaler-status"),
                    ),
                    acc(
                        "update",
                        &CONFIGMAPS,
                        ks,
                        Nm::Fixed("cluster-autoscaler-status"),
                    ),
                ],
                &workloads,
                &nodes,
            ));
        }
        Flavor::Aks => {
            addons.push(addon(
                rng,
                "azure-cns",
                "azure-cns/v1.5.23 (linux/amd64) kubernetes/$Format",
                3,
                vec![
                    acc("get", &NODES, Ns::None, Nm::Node),
                    acc("list", &PODS, Ns::None, Nm::None),
                    acc("get", &CONFIGMAPS, ks, Nm::Fixed("azure-cns-config")),
                ],
                &workloads,
                &nodes,
            ));
            addons.push(addon(
                rng,
                "cloud-node-manager",
                "cloud-node-manager/v1.29.2 (linux/amd64) kubernetes/$Format",
                3,
                vec![
                    acc("get", &NODES, Ns::None, Nm::Node),
                    acc("patch", &NODES, Ns::None, Nm::Node),
                    acc("watch", &NODES, Ns::None, Nm::None),
                ],
                &workloads,
                &nodes,
            ));
            addons.push(addon(
                rng,
                "konnectivity-agent",
                "proxy-agent/v0.1.5 (linux/amd64) kubernetes/$Format",
                2,
                vec![
                    acc("get", &LEASES, ks, Nm::Fixed("konnectivity-agent")),
                    acc(
                        "watch",
                        &CONFIGMAPS,
                        ks,
                        Nm::Fixed("konnectivity-agent-autoscaler"),
                    ),
                ],
                &workloads,
                &nodes,
            ));
        }
        Flavor::Gke => {
            addons.push(addon(
                rng,
                "gke-metrics-agent",
                "gke-metrics-agent/1.11.0 (linux/amd64) kubernetes/$Format",
                3,
                vec![
                    acc("list", &PODS, Ns::None, Nm::None),
                    acc("watch", &PODS, Ns::None, Nm::None),
                    acc("get", &NODES, Ns::None, Nm::Node),
                ],
                &workloads,
                &nodes,
            ));
            addons.push(addon(
                rng,
                "netd",
                "netd/v0.4.0 (linux/amd64) kubernetes/$Format",
                2,
                vec![
                    acc("get", &NODES, Ns::None, Nm::Node),
                    acc("watch", &NETWORKPOLICIES, Ns::None, Nm::None),
                ],
                &workloads,
                &nodes,
            ));
            addons.push(addon(
                rng,
                "konnectivity-agent",
                "proxy-agent/v0.1.5 (linux/amd64) kubernetes/$Format",
                2,
                vec![
                    acc("get", &LEASES, ks, Nm::Fixed("konnectivity-agent")),
                    acc(
                        "watch",
                        &CONFIGMAPS,
                        ks,
                        Nm::Fixed("konnectivity-agent-autoscaler-config"),
                    ),
                ],
                &workloads,
                &nodes,
            ));
        }
    }

    // Cloud-provider principals.
    let mut platform = Vec::new();
    let plat = |rng: &mut Rng64,
                username: &str,
                groups: &[&str],
                ua: &str,
                weight: u32,
                accesses: Vec<Access>| {
        let uj = user_json(username, None, groups, &[]);
        let ip = cp_ip(rng);
        let reason = rbac_reason(username, username, &format!("User \"{username}\""));
        Actor {
            p: principal(username, uj, &ip, ua, reason, Kind::Platform),
            accesses,
            weight,
        }
    };
    match flavor {
        Flavor::Eks => {
            platform.push(plat(
                rng,
                "eks:certificate-controller",
                &["system:authenticated"],
                "eks-certificates-controller/v0.0.0 (linux/amd64) kubernetes/$Format",
                2,
                vec![
                    acc(
                        "get",
                        &CONFIGMAPS,
                        ks,
                        Nm::Fixed("eks-certificates-controller"),
                    ),
                    acc(
                        "update",
                        &CONFIGMAPS,
                        ks,
                        Nm::Fixed("eks-certificates-controller"),
                    ),
                    acc("list", &CSRS, Ns::None, Nm::None),
                    acc("watch", &CSRS, Ns::None, Nm::None),
                ],
            ));
            platform.push(plat(
                rng,
                "eks:addon-manager",
                &["system:authenticated"],
                "eks-addon-manager/v0.0.0 (linux/amd64) kubernetes/$Format",
                1,
                vec![
                    acc("get", &DAEMONSETS, ks, Nm::Fixed("aws-node")),
                    acc("get", &DAEMONSETS, ks, Nm::Fixed("kube-proxy")),
                    acc("get", &DEPLOYMENTS, ks, Nm::Fixed("coredns")),
                    acc("get", &CONFIGMAPS, ks, Nm::Fixed("coredns")),
                ],
            ));
            platform.push(plat(
                rng,
                "eks:node-manager",
                &["system:authenticated"],
                "eks-node-manager/v0.0.0 (linux/amd64) kubernetes/$Format",
                1,
                vec![
                    acc("list", &NODES, Ns::None, Nm::None),
                    acc("get", &CONFIGMAPS, ks, Nm::Fixed("aws-auth")),
                ],
            ));
            platform.push(plat(
                rng,
                "eks:k8s-metrics",
                &["system:authenticated"],
                "eks-k8s-metrics/v0.0.0 (linux/amd64) kubernetes/$Format",
                1,
                vec![
                    acc("list", &NODES, Ns::None, Nm::None),
                    acc("list", &PODS, Ns::None, Nm::None),
                    acc("list", &DEPLOYMENTS, Ns::None, Nm::None),
                ],
            ));
        }
        Flavor::Aks => {
            platform.push(plat(
                rng,
                "aksService",
                &["system:masters", "system:authenticated"],
                "Go-http-client/2.0",
                2,
                vec![
                    acc("get", &CONFIGMAPS, ks, Nm::Fixed("coredns")),
                    acc("list", &NODES, Ns::None, Nm::None),
                    acc("get", &DEPLOYMENTS, ks, Nm::Fixed("coredns")),
                ],
            ));
            platform.push(plat(
                rng,
                "masterclient",
                &["system:masters", "system:authenticated"],
                "kube-addon-manager/v1.29.3 (linux/amd64) kubernetes/$Format",
                2,
                vec![
                    acc("get", &DAEMONSETS, ks, Nm::Fixed("kube-proxy")),
                    acc("get", &CONFIGMAPS, ks, Nm::Fixed("kube-proxy-config")),
                    acc("list", &CLUSTERROLES, Ns::None, Nm::None),
                ],
            ));
        }
        Flavor::Gke => {
            platform.push(plat(
                rng,
                "system:gcp-controller-manager",
                &["system:authenticated"],
                "gcp-controller-manager/v1.29.3 (linux/amd64) kubernetes/$Format",
                2,
                vec![
                    acc("list", &NODES, Ns::None, Nm::None),
                    acc("watch", &CSRS, Ns::None, Nm::None),
                    acc("get", &LEASES, ks, Nm::Fixed("gcp-controller-manager")),
                    acc("update", &LEASES, ks, Nm::Fixed("gcp-controller-manager")),
                ],
            ));
            platform.push(plat(
                rng,
                "system:addon-manager",
                &["system:authenticated"],
                "kubectl/v1.29.3 (linux/amd64) kubernetes/6813625",
                1,
                vec![
                    acc("get", &DAEMONSETS, ks, Nm::Fixed("kube-proxy")),
                    acc("get", &CONFIGMAPS, ks, Nm::Fixed("coredns")),
                ],
            ));
            platform.push(plat(
                rng,
                "system:clustermetrics",
                &["system:authenticated"],
                "cluster-metrics/v0.0.0 (linux/amd64) kubernetes/$Format",
                1,
                vec![
                    acc("list", &PODS, Ns::None, Nm::None),
                    acc("list", &NODES, Ns::None, Nm::None),
                ],
            ));
        }
    }

    // Applications with service accounts of their own.
    let mut apps = Vec::new();
    let app = |rng: &mut Rng64,
               ns: &str,
               sa: &str,
               ua: &str,
               weight: u32,
               accesses: Vec<Access>,
               nodes: &Vec<Node>| {
        let node = &nodes[rng.random_range(0..nodes.len())];
        let pod = format!("{sa}-{}-{}", k8s_suffix(rng, 10), k8s_suffix(rng, 5));
        let p = sa_principal(
            rng,
            ns,
            sa,
            Some((node.name, &pod)),
            node.ip,
            ua,
            rbac_reason(sa, sa, &format!("ServiceAccount \"{sa}/{ns}\"")),
            Kind::AppSa,
        );
        Actor {
            p,
            accesses,
            weight,
        }
    };
    apps.push(app(
        rng,
        "argocd",
        "argocd-application-controller",
        "argocd-application-controller/v2.10.4 (linux/amd64) kubernetes/$Format",
        3,
        vec![
            acc("watch", &DEPLOYMENTS, Ns::None, Nm::None),
            acc("watch", &SERVICES, Ns::None, Nm::None),
            acc("watch", &CONFIGMAPS, Ns::None, Nm::None),
            acc("watch", &APPLICATIONS, Ns::Fixed("argocd"), Nm::None),
            acc("get", &DEPLOYMENTS, Ns::User, Nm::Workload),
            acc(
                "patch",
                &APPLICATIONS,
                Ns::Fixed("argocd"),
                Nm::Fixed("shop"),
            ),
            acc(
                "get",
                &SECRETS,
                Ns::Fixed("argocd"),
                Nm::Fixed("argocd-secret"),
            ),
        ],
        &nodes,
    ));
    apps.push(app(
        rng,
        "monitoring",
        "prometheus",
        "Prometheus/2.51.0",
        3,
        vec![
            acc("list", &PODS, Ns::None, Nm::None),
            acc("watch", &PODS, Ns::None, Nm::None),
            acc("watch", &ENDPOINTS, Ns::None, Nm::None),
            acc("watch", &SERVICES, Ns::None, Nm::None),
            acc("list", &NODES, Ns::None, Nm::None),
        ],
        &nodes,
    ));
    apps.push(app(
        rng,
        "monitoring",
        "kube-state-metrics",
        "kube-state-metrics/v2.11.0 (linux/amd64) kubernetes/$Format",
        2,
        vec![
            acc("watch", &DEPLOYMENTS, Ns::None, Nm::None),
            acc("watch", &REPLICASETS, Ns::None, Nm::None),
            acc("watch", &PODS, Ns::None, Nm::None),
            acc("watch", &JOBS, Ns::None, Nm::None),
            acc("watch", &HPAS, Ns::None, Nm::None),
        ],
        &nodes,
    ));
    apps.push(app(
        rng,
        "external-secrets",
        "external-secrets",
        "external-secrets/v0.9.13 (linux/amd64) kubernetes/$Format",
        1,
        vec![
            acc("watch", &EXTERNALSECRETS, Ns::None, Nm::None),
            acc("get", &SECRETS, Ns::User, Nm::Secret),
            acc("update", &SECRETS, Ns::User, Nm::Secret),
        ],
        &nodes,
    ));

    let leader_leases = vec![
        ("kube-controller-manager", kcm),
        ("kube-scheduler", scheduler),
    ];

    let psa = |level: &str| leak(format!("{level}:latest"));
    Box::leak(Box::new(Cluster {
        flavor,
        nodes,
        kcm,
        kcm_informers,
        scheduler,
        scheduler_informers,
        rs_ctrl,
        deploy_ctrl,
        ep_ctrl,
        eps_ctrl,
        gc_ctrl,
        ds_ctrl,
        job_ctrl,
        cronjob_ctrl,
        other_ctrls,
        addons,
        platform,
        apps,
        humans,
        admin,
        ci,
        workloads,
        user_namespaces: USER_NAMESPACES.to_vec(),
        configmaps,
        secrets,
        leader_leases,
        token_kubelet: Template::new(
            &token_request(
                Some(&["https://kubernetes.default.svc"]),
                3607,
                true,
                false,
                false,
            ),
            "authentication.k8s.io/v1.TokenRequest",
        ),
        token_kubelet_resp: Template::new(
            &token_request(
                Some(&["https://kubernetes.default.svc"]),
                3607,
                true,
                true,
                false,
            ),
            "authentication.k8s.io/v1.TokenRequest",
        ),
        token_irsa: Template::new(
            &token_request(Some(&["sts.amazonaws.com"]), 86400, true, false, false),
            "authentication.k8s.io/v1.TokenRequest",
        ),
        token_kcm: Template::new(
            &token_request(None, 3600, false, false, false),
            "authentication.k8s.io/v1.TokenRequest",
        ),
        token_kcm_resp: Template::new(
            &token_request(None, 3600, false, true, false),
            "authentication.k8s.io/v1.TokenRequest",
        ),
        token_longlived: Template::new(
            &long_lived_token_request(),
            "authentication.k8s.io/v1.TokenRequest",
        ),
        event_body: Template::new(&event_json(), "core.k8s.io/v1.Event"),
        lease_body: Template::new(&lease_json(), "coordination.k8s.io/v1.Lease"),
        psa_restricted: psa("restricted"),
        psa_baseline: psa("baseline"),
        psa_privileged: psa("privileged"),
    }))
}
