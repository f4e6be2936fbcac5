//! The schema of `data/cluster.toml`, the simulated clusters described as
//! data, and the parsed copy of that file, which is embedded in the binary.
//!
//! The file's header explains its conventions (templates, access patterns,
//! and why the order of its lists matters); the builder in
//! [`super::builder`] interprets it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::model::Flavor;

const CLUSTER_TOML: &str = include_str!("../../data/cluster.toml");

/// The parsed `data/cluster.toml`. It is parsed once, on first use; a
/// malformed file is a bug of the binary, so this panics on one.
pub fn cluster_spec() -> &'static ClusterSpec {
    static SPEC: OnceLock<ClusterSpec> = OnceLock::new();
    SPEC.get_or_init(|| {
        toml::from_str(CLUSTER_TOML).unwrap_or_else(|e| panic!("data/cluster.toml: {e}"))
    })
}

/// Everything `data/cluster.toml` says.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Constants the templates may use.
    pub vars: BTreeMap<String, String>,
    pub namespaces: NamespacesSpec,
    pub controllers: ControllersSpec,
    pub workloads: WorkloadsSpec,
    pub configmaps: ConfigMapsSpec,
    pub developers: DevelopersSpec,
    /// Add-ons of every flavour.
    pub addons: Vec<AddonSpec>,
    /// Applications with service accounts of their own.
    pub apps: Vec<AppSpec>,
    pub eks: FlavorSpec,
    pub aks: FlavorSpec,
    pub gke: FlavorSpec,
}

impl ClusterSpec {
    /// What is particular to one flavour.
    pub fn flavor(&self, flavor: Flavor) -> &FlavorSpec {
        match flavor {
            Flavor::Eks => &self.eks,
            Flavor::Aks => &self.aks,
            Flavor::Gke => &self.gke,
        }
    }
}

/// `[namespaces]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespacesSpec {
    /// Namespaces of the users' applications.
    pub user: Vec<String>,
}

/// `[controllers]`: service accounts of kube-controller-manager's
/// controllers, in kube-system.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllersSpec {
    /// Controllers the traffic scenarios use by name.
    pub named: Vec<String>,
    /// The other controllers.
    pub others: Vec<String>,
}

/// `[workloads]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadsSpec {
    /// The users' applications.
    pub user: Vec<WorkloadSpec>,
    /// System workloads of every flavour.
    pub system: Vec<WorkloadSpec>,
}

/// A deployment or daemonset.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    pub namespace: String,
    pub name: String,
    /// Image of the first container.
    pub image: String,
    /// Replicas of a deployment (a daemonset has a pod per node, but its
    /// bodies say this number too).
    pub replicas: usize,
    /// Containers per pod.
    #[serde(default = "one")]
    pub containers: usize,
    /// Environment variables of the first container.
    #[serde(default = "four")]
    pub env: usize,
    /// Port of the first container (the others use the next ones).
    #[serde(default = "port_8080")]
    pub port: i64,
    #[serde(default)]
    pub daemonset: bool,
    /// The pods' service account, if not the workload's name.
    pub service_account: Option<String>,
}

fn one() -> usize {
    1
}

fn four() -> usize {
    4
}

fn port_8080() -> i64 {
    8080
}

/// `[configmaps]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigMapsSpec {
    /// Configmaps in kube-system.
    pub system: Vec<String>,
}

/// `[developers]`: people using kubectl.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevelopersSpec {
    pub names: Vec<String>,
    /// Person `i` uses `user_agents[i % len]`.
    pub user_agents: Vec<String>,
    /// `authorization.k8s.io/reason` of their requests.
    pub reason: String,
}

/// What is particular to one flavour (`[eks]`, `[aks]`, `[gke]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlavorSpec {
    /// System workloads after those of every flavour.
    pub system_workloads: Vec<WorkloadSpec>,
    /// The kubelet of each node.
    pub kubelet: PrincipalSpec,
    /// Identities of the developers; person `i` has `developers[i % len]`.
    pub developers: Vec<PrincipalSpec>,
    /// The cluster admin.
    pub admin: PrincipalSpec,
    /// The CI/CD deploy identity.
    pub ci: PrincipalSpec,
    /// Add-ons after those of every flavour.
    pub addons: Vec<AddonSpec>,
    /// Principals of the cloud provider.
    pub platform: Vec<PlatformSpec>,
}

/// A principal whose identity is given by templates: its `user` object,
/// source IP, user agent and `authorization.k8s.io/reason`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalSpec {
    /// `(variable, template)` pairs evaluated first, in order; the only
    /// templates that may draw from the RNG.
    #[serde(rename = "let", default)]
    pub draws: Vec<(String, String)>,
    pub username: String,
    pub uid: Option<String>,
    pub groups: Vec<String>,
    /// `user.extra`, in order; each value is a one-element list in the event.
    #[serde(default)]
    pub extra: Vec<(String, String)>,
    pub ip: String,
    pub ua: String,
    pub reason: String,
}

/// A kube-system add-on, the service account of a system workload's pods.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddonSpec {
    pub service_account: String,
    pub user_agent: String,
    /// Share of the add-on traffic.
    pub weight: u32,
    pub accesses: Vec<AccessSpec>,
}

/// A principal of the cloud provider, calling from the control plane.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformSpec {
    pub username: String,
    pub groups: Vec<String>,
    pub user_agent: String,
    /// Share of the platform traffic.
    pub weight: u32,
    pub accesses: Vec<AccessSpec>,
}

/// An application with a service account of its own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    pub namespace: String,
    pub service_account: String,
    pub user_agent: String,
    /// Share of the application traffic.
    pub weight: u32,
    pub accesses: Vec<AccessSpec>,
}

/// One kind of request an actor makes repeatedly.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSpec {
    pub verb: String,
    /// `plural` or `plural.group`.
    pub resource: String,
    /// A namespace or `<user-namespace>`; none for cluster-wide requests.
    pub namespace: Option<String>,
    /// A name or `<node>`, `<workload>`, `<secret>`; none for the collection.
    pub name: Option<String>,
    #[serde(default)]
    pub subresource: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_file_parses() {
        let spec = cluster_spec();
        assert!(!spec.namespaces.user.is_empty());
    }
}
