//! Scenarios of people: kubectl sessions, CI deploys, and the rarer reads
//! of secrets, execs and denied requests.

use std::io;

use rand::Rng;

use super::{Gen, Profile};
use crate::model::resources::*;
use crate::model::Principal;

impl Gen<'_> {
    /// A developer running a few kubectl commands in a namespace.
    pub fn kubectl_session(&mut self, who: Option<&'static Principal>) -> io::Result<()> {
        let c = self.cluster();
        let h = who.unwrap_or_else(|| self.pick(&c.humans));
        let w = self.random_user_workload();
        let pi = self.rng.random_range(0..w.pods.len());
        if self.rng.random_bool(0.5) {
            self.start_nonresource(h, "/api?timeout=32s");
            self.ev.reason = "RBAC: allowed by ClusterRoleBinding \"system:discovery\" of ClusterRole \"system:discovery\" to Group \"system:authenticated\"";
            self.finish()?;
            self.start_nonresource(h, "/apis?timeout=32s");
            self.ev.reason = "RBAC: allowed by ClusterRoleBinding \"system:discovery\" of ClusterRole \"system:discovery\" to Group \"system:authenticated\"";
            self.finish()?;
        }
        self.start(h, "list", &PODS, w.ns, "", "");
        self.ev.uri.clear();
        self.ev.uri.push_str("/api/v1/namespaces/");
        self.ev.uri.push_str(w.ns);
        self.ev.uri.push_str("/pods?limit=500");
        self.finish()?;
        match self.rng.random_range(0..6) {
            0 | 1 => {
                self.start(h, "get", &PODS, w.ns, w.pods[pi], "log");
                self.ev.uri.push_str("?container=");
                self.ev.uri.push_str(w.container);
                self.ev.uri.push_str("&tailLines=200");
                self.finish()?;
            }
            2 => {
                self.start(h, "get", &DEPLOYMENTS, w.ns, w.name, "");
                self.finish()?;
                self.start(h, "list", &EVENTS, w.ns, "", "");
                self.ev.uri.clear();
                self.ev.uri.push_str("/api/v1/namespaces/");
                self.ev.uri.push_str(w.ns);
                self.ev
                    .uri
                    .push_str("/events?fieldSelector=involvedObject.name%3D");
                self.ev.uri.push_str(w.name);
                self.ev.uri.push_str("%2CinvolvedObject.namespace%3D");
                self.ev.uri.push_str(w.ns);
                self.ev.uri.push_str("&limit=500");
                self.finish()?;
            }
            3 => {
                // kubectl apply -f deployment.yaml
                self.start(h, "get", &DEPLOYMENTS, w.ns, w.name, "");
                self.finish()?;
                self.start(h, "patch", &DEPLOYMENTS, w.ns, w.name, "");
                self.ev
                    .uri
                    .push_str("?fieldManager=kubectl-client-side-apply&fieldValidation=Strict");
                self.ev.pair = true;
                self.body(Some(&w.deploy_patch), Some(&w.deploy_obj), 0.5, 0.5);
                self.finish()?;
            }
            4 => {
                let cm = c
                    .configmaps
                    .iter()
                    .find(|cm| cm.ns == w.ns)
                    .unwrap_or(&c.configmaps[0]);
                self.start(h, "get", &CONFIGMAPS, cm.ns, cm.name, "");
                self.finish()?;
                self.start(h, "update", &CONFIGMAPS, cm.ns, cm.name, "");
                self.ev
                    .uri
                    .push_str("?fieldManager=kubectl-edit&fieldValidation=Strict");
                self.ev.pair = true;
                self.body(Some(&cm.body), Some(&cm.body), 0.5, 0.5);
                self.finish()?;
            }
            _ => {
                self.start(h, "get", &SERVICES, w.ns, w.name, "");
                self.finish()?;
            }
        }
        Ok(())
    }

    pub(super) fn ci_deploy(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let w = self.random_user_workload();
        self.start(c.ci, "get", &DEPLOYMENTS, w.ns, w.name, "");
        self.finish()?;
        self.start(c.ci, "patch", &DEPLOYMENTS, w.ns, w.name, "");
        self.ev
            .uri
            .push_str("?fieldManager=kubectl-client-side-apply&fieldValidation=Strict");
        self.body(Some(&w.deploy_patch), Some(&w.deploy_obj), 0.4, 0.4);
        self.finish()?;
        if self.rng.random_bool(0.5) {
            if let Some(cm) = c
                .configmaps
                .iter()
                .find(|cm| cm.ns == w.ns && cm.name != "kube-root-ca.crt")
            {
                self.start(c.ci, "patch", &CONFIGMAPS, cm.ns, cm.name, "");
                self.ev
                    .uri
                    .push_str("?fieldManager=kubectl-client-side-apply&fieldValidation=Strict");
                self.body(Some(&cm.body), Some(&cm.body), 0.4, 0.4);
                self.finish()?;
            }
        }
        Ok(())
    }

    pub(super) fn human_secret(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let h = self.pick(&c.humans);
        let (ns, name) = self.pick(&c.secrets);
        if self.rng.random_bool(0.7) {
            self.start(h, "get", &SECRETS, ns, name, "");
        } else {
            self.start(h, "list", &SECRETS, ns, "", "");
            self.ev.uri.clear();
            self.ev.uri.push_str("/api/v1/namespaces/");
            self.ev.uri.push_str(ns);
            self.ev.uri.push_str("/secrets?limit=500");
        }
        self.finish()
    }

    pub(super) fn human_exec(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let h = self.pick(&c.humans);
        let w = self.random_user_workload();
        let pi = self.rng.random_range(0..w.pods.len());
        self.start(h, "create", &PODS, w.ns, w.pods[pi], "exec");
        self.ev.uri.push_str("?command=sh&container=");
        self.ev.uri.push_str(w.container);
        self.ev.uri.push_str("&stdin=true&stdout=true&tty=true");
        self.ev.code = 101;
        self.ev.pair = true;
        self.finish()
    }

    /// A denied request by a developer.
    pub fn forbidden(&mut self, who: Option<&'static Principal>) -> io::Result<()> {
        let c = self.cluster();
        let h = who.unwrap_or_else(|| self.pick(&c.humans));
        let choice = if self.profile == Profile::Benign {
            self.rng.random_range(0..2)
        } else if self.rng.random_bool(0.05) {
            4
        } else {
            [0, 1, 2, 3, 5][self.rng.random_range(0..5)]
        };
        match choice {
            0 => self.start(h, "list", &NODES, "", "", ""),
            1 => {
                let w = self.random_user_workload();
                self.start(h, "delete", &DEPLOYMENTS, "payments", w.name, "");
            }
            2 => self.start(h, "list", &CLUSTERROLEBINDINGS, "", "", ""),
            3 => self.start(h, "list", &SECRETS, "kube-system", "", ""),
            4 => self.start(
                h,
                "create",
                &SERVICEACCOUNTS,
                "kube-system",
                "clusterrole-aggregation-controller",
                "token",
            ),
            _ => self.start(
                h,
                "get",
                &SECRETS,
                "kube-system",
                "aws-load-balancer-tls",
                "",
            ),
        }
        self.set_fail(403);
        self.finish()
    }
}
