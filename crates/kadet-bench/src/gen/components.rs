//! Scenarios of the cluster's components: kubelets and node leases, the
//! controller manager and the scheduler, add-ons, the cloud provider's
//! principals and applications, rollouts and jobs.

use std::io;

use rand::Rng;

use super::request::push_u64;
use super::{Gen, Profile};
use crate::model::resources::*;
use crate::model::{k8s_suffix, Flavor, NameSel, NsSel};

impl Gen<'_> {
    pub(super) fn node_lease(&mut self) -> io::Result<()> {
        let node = self.random_node();
        if self.rng.random_bool(0.06) {
            self.start(
                node.kubelet,
                "get",
                &LEASES,
                "kube-node-lease",
                node.name,
                "",
            );
            self.ev.uri.push_str("?timeout=10s");
            self.finish()?;
        }
        self.start(
            node.kubelet,
            "update",
            &LEASES,
            "kube-node-lease",
            node.name,
            "",
        );
        self.ev.uri.push_str("?timeout=10s");
        let c = self.cluster();
        self.body(Some(&c.lease_body), Some(&c.lease_body), 0.04, 0.02);
        self.ev.aux.push_str(node.name);
        self.finish()
    }

    pub(super) fn leader_lease(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let (name, p) = self.pick(&c.leader_leases);
        self.start(p, "get", &LEASES, "kube-system", name, "");
        self.ev.uri.push_str("?timeout=5s");
        self.finish()?;
        self.start(p, "update", &LEASES, "kube-system", name, "");
        self.ev.uri.push_str("?timeout=5s");
        self.ev.aux.push_str(name);
        self.ev.aux.push_str("-leader_");
        self.ev.aux.push_str(p.ip);
        if self.profile == Profile::Bench && self.rng.random_bool(0.01) {
            self.set_fail(409);
        } else {
            self.body(Some(&c.lease_body), Some(&c.lease_body), 0.15, 0.05);
        }
        self.finish()
    }

    pub(super) fn kubelet(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let ni = self.rng.random_range(0..c.nodes.len());
        let node = &c.nodes[ni];
        let k = node.kubelet;
        match self.rng.random_range(0..12) {
            0 | 1 => {
                self.start(k, "get", &NODES, "", node.name, "");
                self.ev.uri.push_str("?resourceVersion=0&timeout=10s");
            }
            2 => {
                self.start(k, "patch", &NODES, "", node.name, "status");
                self.ev.uri.push_str("?timeout=10s");
            }
            3 => {
                let w = self.random_workload();
                let pi = self.rng.random_range(0..w.pods.len());
                self.start(k, "get", &PODS, w.ns, w.pods[pi], "");
            }
            4 => {
                let w = self.random_workload();
                let pi = self.rng.random_range(0..w.pods.len());
                self.start(k, "patch", &PODS, w.ns, w.pods[pi], "status");
            }
            5 | 6 => {
                let cm = &c.configmaps[self.rng.random_range(0..c.configmaps.len())];
                self.start(k, "watch", &CONFIGMAPS, cm.ns, "", "");
                self.build_path();
                self.watch_query(Some(cm.name));
            }
            7 if self.profile == Profile::Bench => {
                let (ns, name) = self.pick(&c.secrets);
                self.start(k, "watch", &SECRETS, ns, "", "");
                self.build_path();
                self.watch_query(Some(name));
            }
            8 => self.start(k, "list", &SERVICES, "", "", ""),
            9 => self.start(k, "get", &CSINODES, "", node.name, ""),
            10 => {
                self.start(k, "watch", &PODS, "", "", "");
                self.ev.uri.clear();
                self.ev.uri.push_str(
                    "/api/v1/pods?allowWatchBookmarks=true&fieldSelector=spec.nodeName%3D",
                );
                self.ev.uri.push_str(node.name);
                self.ev.uri.push_str("&resourceVersion=");
                let rv = self.next_rv();
                push_u64(&mut self.ev.uri, rv);
                self.ev.uri.push_str("&timeoutSeconds=");
                let t = self.rng.random_range(300..600u64);
                push_u64(&mut self.ev.uri, t);
                self.ev.uri.push_str("&watch=true");
            }
            _ => {
                let ns = self.pick(&c.user_namespaces);
                self.start(k, "get", &CONFIGMAPS, ns, "kube-root-ca.crt", "");
            }
        }
        self.finish()
    }

    pub(super) fn kcm_informers(&mut self) -> io::Result<()> {
        const RES: &[&Res] = &[
            &PODS,
            &SERVICES,
            &CONFIGMAPS,
            &SECRETS,
            &ENDPOINTS,
            &SERVICEACCOUNTS,
            &PVCS,
            &RESOURCEQUOTAS,
            &LIMITRANGES,
            &NODES,
            &NAMESPACES,
            &PVS,
            &DEPLOYMENTS,
            &REPLICASETS,
            &DAEMONSETS,
            &STATEFULSETS,
            &CONTROLLERREVISIONS,
            &ENDPOINTSLICES,
            &LEASES,
            &JOBS,
            &CRONJOBS,
            &INGRESSES,
            &NETWORKPOLICIES,
            &PDBS,
            &HPAS,
            &CSINODES,
            &CSIDRIVERS,
            &STORAGECLASSES,
            &VOLUMEATTACHMENTS,
            &CSISTORAGECAPACITIES,
            &RUNTIMECLASSES,
            &PRIORITYCLASSES,
            &CRDS,
            &APISERVICES,
            &MUTATINGWEBHOOKS,
            &VALIDATINGWEBHOOKS,
            &CLUSTERROLES,
            &CLUSTERROLEBINDINGS,
            &ROLES,
            &ROLEBINDINGS,
            &FLOWSCHEMAS,
            &PRIORITYLEVELS,
            &CSRS,
        ];
        let c = self.cluster();
        let mut res = self.pick(RES);
        if self.profile == Profile::Benign && res.resource == "secrets" {
            res = &CONFIGMAPS;
        }
        let verb = if self.rng.random_bool(0.85) {
            "watch"
        } else {
            "list"
        };
        self.start(c.kcm_informers, verb, res, "", "", "");
        self.finish()
    }

    pub(super) fn scheduler(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let p = c.scheduler_informers;
        match self.rng.random_range(0..5) {
            0 => {
                self.start(p, "watch", &PODS, "", "", "");
                self.ev.uri.clear();
                self.ev.uri.push_str("/api/v1/pods?allowWatchBookmarks=true&fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed&resourceVersion=");
                let rv = self.next_rv();
                push_u64(&mut self.ev.uri, rv);
                self.ev.uri.push_str("&timeoutSeconds=497&watch=true");
            }
            1 => self.start(p, "watch", &NODES, "", "", ""),
            2 => self.start(p, "watch", &CSINODES, "", "", ""),
            3 => self.start(p, "watch", &PVCS, "", "", ""),
            _ => self.start(p, "watch", &PDBS, "", "", ""),
        }
        self.finish()
    }

    pub(super) fn actor_access(&mut self, group: usize) -> io::Result<()> {
        let c = self.cluster();
        let actors = match group {
            0 => &c.addons,
            1 => &c.platform,
            _ => &c.apps,
        };
        let total: u32 = actors.iter().map(|a| a.weight).sum();
        let mut r = self.rng.random_range(0..total);
        let mut actor = &actors[0];
        for a_ in actors {
            if r < a_.weight {
                actor = a_;
                break;
            }
            r -= a_.weight;
        }
        let mut acc = self.pick(&actor.accesses);
        while self.profile == Profile::Benign && acc.res.resource == "secrets" {
            acc = self.pick(&actor.accesses);
        }
        let ns: &'static str = match acc.ns {
            NsSel::None => "",
            NsSel::Fixed(n_) => n_,
            NsSel::User => self.pick(&c.user_namespaces),
        };
        let mut name_buf = String::new();
        let name: &str = match acc.name {
            NameSel::None => "",
            NameSel::Fixed(n_) => n_,
            NameSel::Node => self.random_node().name,
            NameSel::Workload => self.random_user_workload().name,
            NameSel::Secret => {
                let list: Vec<&(&str, &str)> = c
                    .secrets
                    .iter()
                    .filter(|(sns, _)| ns.is_empty() || *sns == ns)
                    .collect();
                if list.is_empty() {
                    name_buf.push_str("app-credentials");
                    &name_buf
                } else {
                    list[self.rng.random_range(0..list.len())].1
                }
            }
        };
        let name = name.to_string();
        self.start(actor.p, acc.verb, acc.res, ns, &name, acc.sub);
        if acc.res.resource == "configmaps" && matches!(acc.verb, "update" | "patch") {
            if let Some(cm) = c.configmaps.iter().find(|cm| cm.name == name) {
                self.body(Some(&cm.body), Some(&cm.body), 0.3, 0.1);
            }
        }
        if acc.res.resource == "leases" && acc.verb == "update" {
            self.ev.aux.push_str(actor.p.username);
            self.body(Some(&c.lease_body), Some(&c.lease_body), 0.15, 0.05);
        }
        self.finish()
    }

    pub(super) fn endpoints(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let w = self.random_workload();
        if self.rng.random_bool(0.5) {
            self.start(c.ep_ctrl, "update", &ENDPOINTS, w.ns, w.name, "");
        } else {
            let name = format!("{}-{}", w.name, k8s_suffix(&mut self.rng, 5));
            self.start(c.eps_ctrl, "update", &ENDPOINTSLICES, w.ns, &name, "");
        }
        self.finish()
    }

    pub(super) fn other_ctrl(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let p = self.pick(&c.other_ctrls);
        let user = p.username.rsplit(':').next().unwrap_or("");
        match user {
            "namespace-controller" => self.start(p, "list", &NAMESPACES, "", "", ""),
            "node-controller" => {
                let n_ = self.random_node().name;
                self.start(p, "get", &NODES, "", n_, "");
            }
            "resourcequota-controller" => {
                let ns = self.pick(&c.user_namespaces);
                self.start(p, "list", &RESOURCEQUOTAS, ns, "", "");
            }
            "horizontal-pod-autoscaler" => {
                let w = self.random_user_workload();
                if self.rng.random_bool(0.5) {
                    self.start(p, "get", &DEPLOYMENTS, w.ns, w.name, "scale");
                } else {
                    self.start(p, "update", &HPAS, w.ns, w.name, "status");
                }
            }
            "root-ca-cert-publisher" => {
                let ns = self.pick(&c.user_namespaces);
                self.start(p, "get", &CONFIGMAPS, ns, "kube-root-ca.crt", "");
            }
            "service-account-controller" => {
                let ns = self.pick(&c.user_namespaces);
                self.start(p, "get", &SERVICEACCOUNTS, ns, "default", "");
            }
            "disruption-controller" => {
                let w = self.random_user_workload();
                self.start(p, "get", &PDBS, w.ns, w.name, "");
            }
            _ => {
                let ns = self.pick(&c.user_namespaces);
                self.start(p, "list", &PODS, ns, "", "");
            }
        }
        self.finish()
    }

    pub(super) fn events_create(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let w = self.random_workload();
        let pi = self.rng.random_range(0..w.pods.len());
        let node = &c.nodes[w.pod_node[pi]];
        let (p, res) = match self.rng.random_range(0..4) {
            0 => (c.rs_ctrl, &EVENTS),
            1 => (c.scheduler, &EVENTS_V1),
            _ => (node.kubelet, &EVENTS),
        };
        self.start(p, "create", res, w.ns, "", "");
        self.ev.name.push_str(w.pods[pi]);
        self.ev.name.push_str(".17a3f0c2d5e8b901");
        self.ev.node = node.name;
        self.ev.aux.push_str(w.pods[pi]);
        self.body(Some(&c.event_body), Some(&c.event_body), 0.15, 0.05);
        self.finish()
    }

    /// A deployment rollout step: status update, a new pod created by the
    /// replicaset controller, scheduled, started, and an old pod deleted.
    pub(super) fn rollout(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let w = if self.profile == Profile::Benign {
            self.random_user_workload()
        } else {
            self.random_workload()
        };
        let pi = self.rng.random_range(0..w.pods.len());
        let node = &c.nodes[w.pod_node[pi]];
        let new_pod = format!("{}-{}", w.rs_name, k8s_suffix(&mut self.rng, 5));
        if !w.daemonset {
            self.start(
                c.deploy_ctrl,
                "update",
                &DEPLOYMENTS,
                w.ns,
                w.name,
                "status",
            );
            self.body(Some(&w.deploy_obj), Some(&w.deploy_obj), 0.1, 0.1);
            self.finish()?;
        }
        let creator = if w.daemonset { c.ds_ctrl } else { c.rs_ctrl };
        self.start(creator, "create", &PODS, w.ns, &new_pod, "");
        self.ev.node = node.name;
        self.ev.aux.push_str(&k8s_suffix(&mut self.rng, 5));
        self.body(Some(&w.pod_req), Some(&w.pod_resp), 0.3, 0.55);
        self.ev.psa = Some(if w.system {
            c.psa_privileged
        } else if w.ns == "payments" {
            c.psa_restricted
        } else {
            c.psa_baseline
        });
        self.ev.webhook = c.flavor == Flavor::Eks;
        self.finish()?;
        self.start(
            c.scheduler_informers,
            "create",
            &PODS,
            w.ns,
            &new_pod,
            "binding",
        );
        self.finish()?;
        self.start(node.kubelet, "patch", &PODS, w.ns, &new_pod, "status");
        self.finish()?;
        if self.rng.random_bool(0.6) {
            self.start(creator, "delete", &PODS, w.ns, w.pods[pi], "");
            self.finish()?;
        }
        if !w.daemonset && self.rng.random_bool(0.1) {
            // The garbage collector removing a replicaset of an old revision.
            let old = format!("{}-{}", w.name, k8s_suffix(&mut self.rng, 10));
            self.start(c.gc_ctrl, "delete", &REPLICASETS, w.ns, &old, "");
            self.finish()?;
        }
        Ok(())
    }

    pub(super) fn job(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let node = self.random_node();
        let job = format!(
            "nightly-report-{}",
            29_000_000 + self.rng.random_range(0..100_000u32)
        );
        self.start(c.cronjob_ctrl, "create", &JOBS, "data", &job, "");
        self.finish()?;
        let pod = format!("{job}-{}", k8s_suffix(&mut self.rng, 5));
        self.start(c.job_ctrl, "create", &PODS, "data", &pod, "");
        self.ev.node = node.name;
        self.ev.psa = Some(c.psa_baseline);
        self.finish()?;
        self.start(c.job_ctrl, "update", &JOBS, "data", &job, "status");
        self.finish()
    }

    pub(super) fn metrics(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let prom = c
            .apps
            .iter()
            .find(|a_| a_.p.username.ends_with(":prometheus"))
            .map(|a_| a_.p)
            .unwrap_or(c.kcm);
        let path = self.pick(&["/metrics", "/readyz?verbose", "/livez"]);
        self.start_nonresource(prom, path);
        self.ev.reason = "RBAC: allowed by ClusterRoleBinding \"prometheus\" of ClusterRole \"prometheus\" to ServiceAccount \"prometheus/monitoring\"";
        self.finish()
    }

    pub(super) fn not_found(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let a_ = &c.apps[self.rng.random_range(0..c.apps.len())];
        let ns = self.pick(&c.user_namespaces);
        self.start(a_.p, "get", &CONFIGMAPS, ns, "feature-overrides", "");
        self.set_fail(404);
        self.finish()
    }
}
