//! The interpreter of `data/cluster.toml`: builds one flavour's cluster
//! from the description and the RNG.
//!
//! The corpus must stay byte-identical for a seed, so the RNG is drawn in a
//! fixed order: the nodes and their kubelets, the control plane, the
//! controllers, the workloads, the configmaps, then the principals of
//! [`super::actors`] (developers, admin, CI, add-ons, platform principals,
//! applications), each list in the order of the file.

use rand::Rng;

use crate::body::{Template, J};
use crate::model::actors::{addon, app, developers, platform_principal, principal_from};
use crate::model::containers::containers;
use crate::model::deployments::{deploy_obj, deploy_patch};
use crate::model::objects::{
    configmap_json, event_json, lease_json, long_lived_token_request, token_request,
};
use crate::model::pods::pod_json;
use crate::model::principals::{
    control_plane_ip, core_ua, principal, rbac_reason, sa_principal, user_json, Kind, Principal,
    K8S_COMMIT, K8S_VERSION,
};
use crate::model::random::{hexstr, k8s_suffix, leak, rand_from, uuid, Rng64, LOWER_ALNUM};
use crate::model::spec::{cluster_spec, ClusterSpec, FlavorSpec, PrincipalSpec, WorkloadSpec};
use crate::model::template::Vars;
use crate::model::{Cluster, ClusterOpts, ConfigMap, Flavor, Node, Workload};

/// Builds the cluster of a flavour.
pub fn build_cluster(rng: &mut Rng64, opts: ClusterOpts) -> &'static Cluster {
    let spec = cluster_spec();
    let flavor_spec = spec.flavor(opts.flavor);
    let vars = global_vars(spec);
    let nodes = nodes(rng, opts, &flavor_spec.kubelet, &vars);
    let control_plane = ControlPlane::new(rng);
    let named = controllers(rng, &spec.controllers.named, &control_plane.kcm_ip);
    let ctrl = |name: &str| match named.iter().find(|(n, _)| *n == name) {
        Some((_, p)) => *p,
        None => panic!("data/cluster.toml: controllers.named lacks {name}"),
    };
    let other_ctrls = controllers(rng, &spec.controllers.others, &control_plane.kcm_ip);
    let workloads = workloads(rng, spec, flavor_spec, opts, nodes.len());
    let configmaps = configmaps(rng, spec, &workloads, opts.big_workloads);
    let secrets = workloads
        .iter()
        .filter(|w| !w.system)
        .flat_map(|w| {
            [
                (w.ns, leak(format!("{}-db-credentials", w.name))),
                (w.ns, leak(format!("{}-tls", w.name))),
            ]
        })
        .collect();
    let humans = developers(rng, spec, flavor_spec, &vars);
    let admin = principal_from(rng, &flavor_spec.admin, vars.clone(), Kind::Human);
    let ci = principal_from(rng, &flavor_spec.ci, vars.clone(), Kind::Human);
    let addons = (spec.addons.iter().chain(&flavor_spec.addons))
        .map(|a| addon(rng, a, &workloads, &nodes, &vars))
        .collect();
    let platform = (flavor_spec.platform.iter())
        .map(|p| platform_principal(rng, p, &vars))
        .collect();
    let apps = (spec.apps.iter())
        .map(|a| app(rng, a, &nodes, &vars))
        .collect();
    let psa = |level: &str| leak(format!("{level}:latest"));
    let token = |t: J| Template::new(&t, "authentication.k8s.io/v1.TokenRequest");
    let kubelet_audience: &[&str] = &["https://kubernetes.default.svc"];
    Box::leak(Box::new(Cluster {
        flavor: opts.flavor,
        nodes,
        kcm: control_plane.kcm,
        kcm_informers: control_plane.kcm_informers,
        scheduler: control_plane.scheduler,
        scheduler_informers: control_plane.scheduler_informers,
        rs_ctrl: ctrl("replicaset-controller"),
        deploy_ctrl: ctrl("deployment-controller"),
        ep_ctrl: ctrl("endpoint-controller"),
        eps_ctrl: ctrl("endpointslice-controller"),
        gc_ctrl: ctrl("generic-garbage-collector"),
        ds_ctrl: ctrl("daemon-set-controller"),
        job_ctrl: ctrl("job-controller"),
        cronjob_ctrl: ctrl("cronjob-controller"),
        other_ctrls: other_ctrls.into_iter().map(|(_, p)| p).collect(),
        addons,
        platform,
        apps,
        humans,
        admin,
        ci,
        workloads,
        user_namespaces: spec.namespaces.user.iter().map(|n| n.as_str()).collect(),
        configmaps,
        secrets,
        leader_leases: vec![
            ("kube-controller-manager", control_plane.kcm),
            ("kube-scheduler", control_plane.scheduler),
        ],
        token_kubelet: token(token_request(
            Some(kubelet_audience),
            3607,
            true,
            false,
            false,
        )),
        token_kubelet_resp: token(token_request(
            Some(kubelet_audience),
            3607,
            true,
            true,
            false,
        )),
        token_irsa: token(token_request(
            Some(&["sts.amazonaws.com"]),
            86400,
            true,
            false,
            false,
        )),
        token_kcm: token(token_request(None, 3600, false, false, false)),
        token_kcm_resp: token(token_request(None, 3600, false, true, false)),
        token_longlived: token(long_lived_token_request()),
        event_body: Template::new(&event_json(), "core.k8s.io/v1.Event"),
        lease_body: Template::new(&lease_json(), "coordination.k8s.io/v1.Lease"),
        psa_restricted: psa("restricted"),
        psa_baseline: psa("baseline"),
        psa_privileged: psa("privileged"),
    }))
}

/// The variables every template may use: `[vars]`, `k8s_version` and
/// `k8s_commit`.
fn global_vars(spec: &ClusterSpec) -> Vars {
    let mut vars = Vars::default()
        .with("k8s_version", K8S_VERSION)
        .with("k8s_commit", K8S_COMMIT);
    for (name, value) in &spec.vars {
        vars.set(name, value);
    }
    vars
}

/// The worker nodes: names and addresses in the flavour's scheme, and
/// kubelets with the flavour's identity.
fn nodes(rng: &mut Rng64, opts: ClusterOpts, kubelet: &PrincipalSpec, vars: &Vars) -> Vec<Node> {
    // Drawn for every flavour, used by one each.
    let aks_vmss = format!("{:08}", rng.random_range(10_000_000..99_999_999u32));
    let gke_pool = hexstr(rng, 8);
    let mut nodes = Vec::new();
    for i in 0..opts.nodes {
        let (name, ip) = match opts.flavor {
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
        let node_vars = vars.clone().with("node", &name).with("node_ip", &ip);
        let kubelet = principal_from(rng, kubelet, node_vars, Kind::Node);
        nodes.push(Node {
            name: leak(name),
            ip: leak(ip),
            kubelet,
        });
    }
    nodes
}

/// kube-controller-manager and kube-scheduler, each as its leader-election
/// client and its informers.
struct ControlPlane {
    kcm_ip: String,
    kcm: &'static Principal,
    kcm_informers: &'static Principal,
    scheduler: &'static Principal,
    scheduler_informers: &'static Principal,
}

impl ControlPlane {
    fn new(rng: &mut Rng64) -> ControlPlane {
        let kcm_ip = control_plane_ip(rng);
        let sched_ip = control_plane_ip(rng);
        let (kcm, kcm_informers) =
            control_plane_component("kube-controller-manager", &kcm_ip, "shared-informers");
        let (scheduler, scheduler_informers) =
            control_plane_component("kube-scheduler", &sched_ip, "scheduler");
        ControlPlane {
            kcm_ip,
            kcm,
            kcm_informers,
            scheduler,
            scheduler_informers,
        }
    }
}

/// A control-plane component's user with the leader-election user agent and
/// with `informers_ua`'s.
fn control_plane_component(
    component: &str,
    ip: &str,
    informers_ua: &str,
) -> (&'static Principal, &'static Principal) {
    let user = format!("system:{component}");
    let uj = user_json(&user, None, &["system:authenticated"], &[]);
    let reason = rbac_reason(&user, &user, &format!("User \"{user}\""));
    let leader_ua = core_ua(component, "leader-election");
    (
        principal(
            &user,
            uj,
            ip,
            &leader_ua,
            reason.clone(),
            Kind::ControlPlane,
        ),
        principal(
            &user,
            uj,
            ip,
            &core_ua(component, informers_ua),
            reason,
            Kind::ControlPlane,
        ),
    )
}

/// Service accounts of kube-controller-manager's controllers, by name.
fn controllers(
    rng: &mut Rng64,
    names: &'static [String],
    kcm_ip: &str,
) -> Vec<(&'static str, &'static Principal)> {
    let controller = |rng: &mut Rng64, name: &str| {
        sa_principal(
            rng,
            "kube-system",
            name,
            None,
            kcm_ip,
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
    names
        .iter()
        .map(|name| (name.as_str(), controller(rng, name)))
        .collect()
}

/// The users' workloads, then the system ones of every flavour, then the
/// flavour's.
fn workloads(
    rng: &mut Rng64,
    spec: &'static ClusterSpec,
    flavor_spec: &'static FlavorSpec,
    opts: ClusterOpts,
    node_count: usize,
) -> Vec<Workload> {
    let user = &spec.workloads.user;
    let system = spec
        .workloads
        .system
        .iter()
        .chain(&flavor_spec.system_workloads);
    (user.iter().map(|def| (def, false)))
        .chain(system.map(|def| (def, true)))
        .map(|(def, system)| workload(rng, def, system, opts.big_workloads, node_count))
        .collect()
}

/// A workload: its containers, pods, and the bodies of its objects.
fn workload(
    rng: &mut Rng64,
    def: &'static WorkloadSpec,
    system: bool,
    big_workloads: bool,
    node_count: usize,
) -> Workload {
    let big = big_workloads && !system && def.env > 20;
    let cs = containers(rng, def, big);
    let hash = if def.daemonset {
        k8s_suffix(rng, 5)
    } else {
        k8s_suffix(rng, 10)
    };
    let rs_uid = uuid(rng);
    let sa = def.service_account.as_deref().unwrap_or(&def.name);
    let replicas = if def.daemonset {
        node_count
    } else {
        def.replicas
    };
    let mut pods = Vec::new();
    let mut pod_node = Vec::new();
    for r in 0..replicas {
        let pod = if def.daemonset {
            format!("{}-{}", def.name, k8s_suffix(rng, 5))
        } else {
            format!("{}-{hash}-{}", def.name, k8s_suffix(rng, 5))
        };
        pods.push(leak(pod));
        pod_node.push(if def.daemonset {
            r
        } else {
            rng.random_range(0..node_count)
        });
    }
    let pod = |full| {
        Template::new(
            &pod_json(def, &hash, &rs_uid, &cs, sa, full),
            "core.k8s.io/v1.Pod",
        )
    };
    let deployment = |body: J| Template::new(&body, "apps.k8s.io/v1.Deployment");
    Workload {
        ns: &def.namespace,
        name: &def.name,
        rs_name: leak(if def.daemonset {
            def.name.to_string()
        } else {
            format!("{}-{hash}", def.name)
        }),
        pods,
        pod_node,
        sa,
        container: leak(cs[0].name.clone()),
        pod_req: pod(false),
        pod_resp: pod(true),
        deploy_patch: deployment(deploy_patch(def, &cs, sa)),
        deploy_obj: deployment(deploy_obj(def, &cs, sa)),
        system,
        daemonset: def.daemonset,
    }
}

/// Each user workload's `<name>-config`, the system configmaps, and each
/// user namespace's `kube-root-ca.crt`.
fn configmaps(
    rng: &mut Rng64,
    spec: &'static ClusterSpec,
    workloads: &[Workload],
    big_workloads: bool,
) -> Vec<ConfigMap> {
    let body = |rng: &mut Rng64, app: &str, lines: usize| {
        Template::new(&configmap_json(rng, app, lines), "core.k8s.io/v1.ConfigMap")
    };
    let mut configmaps = Vec::new();
    for w in workloads.iter().filter(|w| !w.system) {
        let lines: usize = if big_workloads && rng.random_bool(0.3) {
            rng.random_range(100..400)
        } else {
            rng.random_range(4..40)
        };
        configmaps.push(ConfigMap {
            ns: w.ns,
            name: leak(format!("{}-config", w.name)),
            body: body(rng, w.name, lines),
        });
    }
    for name in &spec.configmaps.system {
        let lines: usize = rng.random_range(6..20);
        configmaps.push(ConfigMap {
            ns: "kube-system",
            name,
            body: body(rng, name, lines),
        });
    }
    for ns in &spec.namespaces.user {
        configmaps.push(ConfigMap {
            ns,
            name: "kube-root-ca.crt",
            body: body(rng, "kube-root-ca", 3),
        });
    }
    configmaps
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn every_flavour_builds_what_the_file_says() {
        let spec = cluster_spec();
        for flavor in [Flavor::Eks, Flavor::Aks, Flavor::Gke] {
            let flavor_spec = spec.flavor(flavor);
            let opts = ClusterOpts {
                flavor,
                nodes: 5,
                big_workloads: true,
            };
            let c = build_cluster(&mut Rng64::seed_from_u64(1), opts);
            assert_eq!(c.nodes.len(), 5);
            assert_eq!(c.humans.len(), spec.developers.names.len());
            assert_eq!(c.other_ctrls.len(), spec.controllers.others.len());
            let n_workloads = spec.workloads.user.len()
                + spec.workloads.system.len()
                + flavor_spec.system_workloads.len();
            assert_eq!(c.workloads.len(), n_workloads);
            assert_eq!(c.addons.len(), spec.addons.len() + flavor_spec.addons.len());
            assert_eq!(c.platform.len(), flavor_spec.platform.len());
            assert_eq!(c.apps.len(), spec.apps.len());
            for w in c.workloads.iter().filter(|w| w.daemonset) {
                assert_eq!(w.pods.len(), 5, "{}", w.name);
            }
            assert!(c.nodes[0].kubelet.username.starts_with("system:node:"));
        }
        let eks = ClusterOpts {
            flavor: Flavor::Eks,
            nodes: 3,
            big_workloads: false,
        };
        let c = build_cluster(&mut Rng64::seed_from_u64(1), eks);
        assert!(c
            .ci
            .username
            .ends_with("/github-actions-deploy/{{SessionName}}"));
        assert!(c.humans[1]
            .username
            .ends_with(":assumed-role/developers/bob"));
        assert!(c.humans[1].user_json.contains("\"sessionName\":[\"bob\"]"));
        for h in &c.humans {
            assert!(h.ip.starts_with("10.8."), "{}", h.ip);
        }
    }
}
