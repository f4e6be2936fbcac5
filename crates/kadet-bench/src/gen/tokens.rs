//! TokenRequests: the kubelet's and the controller manager's short-lived
//! tokens, and the long-lived token a human creates (what the seed rule
//! flags).

use std::io;

use rand::Rng;

use super::Gen;
use crate::event::Level;
use crate::model::resources::*;
use crate::model::{Flavor, Principal};

impl Gen<'_> {
    /// The kubelet requesting a bound, short-lived token for a pod.
    pub fn token_kubelet(&mut self, pick: Option<usize>) -> io::Result<()> {
        let c = self.cluster();
        let w = match pick {
            Some(i) => &c.workloads[i % c.workloads.len()],
            None => {
                if self.rng.random_bool(0.8) {
                    self.random_user_workload()
                } else {
                    self.random_workload()
                }
            }
        };
        let pi = self.rng.random_range(0..w.pods.len());
        let node = &c.nodes[w.pod_node[pi]];
        self.start(
            node.kubelet,
            "create",
            &SERVICEACCOUNTS,
            w.ns,
            w.sa,
            "token",
        );
        self.ev.aux.push_str(w.pods[pi]);
        self.ev.node = node.name;
        let irsa = c.flavor == Flavor::Eks
            && w.system
            && matches!(w.name, "aws-node" | "ebs-csi-controller");
        let req = if irsa {
            &c.token_irsa
        } else {
            &c.token_kubelet
        };
        self.body(Some(req), Some(&c.token_kubelet_resp), 0.4, 0.2);
        if self.ev.level == Level::Metadata {
            self.set_body_args();
        }
        // The expiration shows up in the response body.
        let exp = self.ev.recv_us + 3607 * 1_000_000;
        self.ev.created = self.ts_string(exp, 0);
        self.stats.token_kubelet += 1;
        self.finish()
    }

    /// kube-controller-manager requesting a token for one of its controllers.
    pub fn token_kcm(&mut self, pick: Option<usize>) -> io::Result<()> {
        let c = self.cluster();
        let ctrl = match pick {
            Some(i) => c.other_ctrls[i % c.other_ctrls.len()],
            None => self.pick(&c.other_ctrls),
        };
        let sa = ctrl
            .username
            .rsplit(':')
            .next()
            .unwrap_or("default")
            .to_string();
        self.start(
            c.kcm_informers,
            "create",
            &SERVICEACCOUNTS,
            "kube-system",
            &sa,
            "token",
        );
        self.ev.ua = c.kcm.ua;
        self.body(Some(&c.token_kcm), Some(&c.token_kcm_resp), 0.4, 0.2);
        let exp = self.ev.recv_us + 3600 * 1_000_000;
        self.ev.created = self.ts_string(exp, 0);
        self.stats.token_kcm += 1;
        self.finish()
    }

    /// A human creating a token that is valid for 30 years: the event the
    /// seed rule is about (Stratus Red Team k8s.persistence.create-token).
    pub fn human_long_lived_token(
        &mut self,
        who: Option<(&'static Principal, &'static str, &'static str)>,
    ) -> io::Result<()> {
        let c = self.cluster();
        let (h, ns, sa) = match who {
            Some(x) => x,
            None => {
                let hs: Vec<&'static Principal> = c
                    .humans
                    .iter()
                    .copied()
                    .chain(std::iter::once(c.admin))
                    .collect();
                let h = self.pick(&hs);
                let (ns, sa) = self.pick(&[
                    ("kube-system", "clusterrole-aggregation-controller"),
                    ("shop", "default"),
                    ("argocd", "argocd-application-controller"),
                    ("kube-system", "generic-garbage-collector"),
                ]);
                (h, ns, sa)
            }
        };
        self.start(h, "create", &SERVICEACCOUNTS, ns, sa, "token");
        self.ev.level = Level::Request;
        self.ev.req = Some(&c.token_longlived);
        self.ev.pair = true;
        self.stats.token_human += 1;
        self.finish()
    }
}
