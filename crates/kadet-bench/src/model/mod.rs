//! The simulated cluster: its nodes, principals (kubelets, controllers,
//! add-ons, humans), workloads and the object bodies they send. The cluster
//! is described as data in `data/cluster.toml` ([`spec`]), and built from
//! that description and the RNG once at start-up ([`builder`]); everything
//! is leaked to `'static` so the hot path only copies references.

mod actors;
mod builder;
mod containers;
mod deployments;
mod objects;
mod pods;
mod principals;
mod random;
pub mod resources;
mod spec;
mod template;

pub use builder::build_cluster;
pub use principals::{principal, user_json, Kind, Principal};
pub use random::{hexstr, k8s_suffix, Rng64};
pub use resources::Res;

use crate::body::Template;

/// Which managed Kubernetes the simulated cluster looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Eks,
    Aks,
    Gke,
}

/// A worker node and its kubelet.
#[derive(Debug)]
pub struct Node {
    pub name: &'static str,
    /// The node's (and its kubelet's) address.
    pub ip: &'static str,
    pub kubelet: &'static Principal,
}

/// Namespace selection for an access pattern.
#[derive(Clone, Copy, Debug)]
pub enum NsSel {
    /// Cluster-wide list/watch of a namespaced resource, or a cluster-scoped resource.
    None,
    /// This namespace.
    Fixed(&'static str),
    /// A random user namespace.
    User,
}

/// Name selection for an access pattern.
#[derive(Clone, Copy, Debug)]
pub enum NameSel {
    /// The collection.
    None,
    /// This name.
    Fixed(&'static str),
    /// A random node.
    Node,
    /// A random user workload.
    Workload,
    /// A random secret of the namespace.
    Secret,
}

/// One kind of request a non-human principal makes repeatedly.
#[derive(Clone, Copy, Debug)]
pub struct Access {
    pub verb: &'static str,
    pub res: &'static Res,
    pub ns: NsSel,
    pub name: NameSel,
    /// Subresource; empty for none.
    pub sub: &'static str,
}

/// A principal and the requests it makes.
#[derive(Debug)]
pub struct Actor {
    pub p: &'static Principal,
    pub accesses: Vec<Access>,
    /// Relative weight among actors of the same group.
    pub weight: u32,
}

/// A deployment (or daemonset) and the bodies its objects have.
#[derive(Debug)]
pub struct Workload {
    pub ns: &'static str,
    pub name: &'static str,
    /// The current replicaset (the daemonset's name for a daemonset).
    pub rs_name: &'static str,
    pub pods: Vec<&'static str>,
    /// Index in `Cluster::nodes` of the node of each pod.
    pub pod_node: Vec<usize>,
    /// The pods' service account.
    pub sa: &'static str,
    /// Name of the pods' first container.
    pub container: &'static str,
    /// A new pod as its controller sends it.
    pub pod_req: Template,
    /// A new pod as the API server returns it.
    pub pod_resp: Template,
    /// The patch `kubectl apply` sends for the deployment.
    pub deploy_patch: Template,
    /// The deployment as the API server returns it.
    pub deploy_obj: Template,
    /// Whether it belongs to the platform (kube-system) rather than a user.
    pub system: bool,
    pub daemonset: bool,
}

/// A configmap and its body.
#[derive(Debug)]
pub struct ConfigMap {
    pub ns: &'static str,
    pub name: &'static str,
    pub body: Template,
}

/// Everything about one simulated cluster.
#[derive(Debug)]
pub struct Cluster {
    pub flavor: Flavor,
    pub nodes: Vec<Node>,
    pub kcm: &'static Principal,
    pub kcm_informers: &'static Principal,
    pub scheduler: &'static Principal,
    pub scheduler_informers: &'static Principal,
    /// Controller service accounts used by kube-controller-manager.
    pub rs_ctrl: &'static Principal,
    pub deploy_ctrl: &'static Principal,
    pub ep_ctrl: &'static Principal,
    pub eps_ctrl: &'static Principal,
    pub gc_ctrl: &'static Principal,
    pub ds_ctrl: &'static Principal,
    pub job_ctrl: &'static Principal,
    pub cronjob_ctrl: &'static Principal,
    pub other_ctrls: Vec<&'static Principal>,
    /// kube-system add-ons (coredns, kube-proxy, CNI, CSI, ...).
    pub addons: Vec<Actor>,
    /// Cloud provider principals (eks:*, aksService, GKE system users).
    pub platform: Vec<Actor>,
    /// Applications with their own service accounts (argocd, prometheus, ...).
    pub apps: Vec<Actor>,
    /// Developers using kubectl.
    pub humans: Vec<&'static Principal>,
    /// The cluster admin (member of system:masters or an admin policy).
    pub admin: &'static Principal,
    /// A CI/CD deploy identity.
    pub ci: &'static Principal,
    /// User workloads first, then the system ones.
    pub workloads: Vec<Workload>,
    pub user_namespaces: Vec<&'static str>,
    pub configmaps: Vec<ConfigMap>,
    /// Secrets of the user workloads, as (namespace, name).
    pub secrets: Vec<(&'static str, &'static str)>,
    /// Leader-election leases in kube-system and their holders.
    pub leader_leases: Vec<(&'static str, &'static Principal)>,
    /// TokenRequest of a kubelet for a pod's service account, and the response.
    pub token_kubelet: Template,
    pub token_kubelet_resp: Template,
    /// TokenRequest of a kubelet for an IRSA token (audience sts.amazonaws.com).
    pub token_irsa: Template,
    /// TokenRequest of kube-controller-manager for a controller, and the response.
    pub token_kcm: Template,
    pub token_kcm_resp: Template,
    /// The long-lived TokenRequest the seed rule is about.
    pub token_longlived: Template,
    pub event_body: Template,
    pub lease_body: Template,
    /// Pod security admission level per namespace (`privileged:latest`, ...).
    pub psa_restricted: &'static str,
    pub psa_baseline: &'static str,
    pub psa_privileged: &'static str,
}

/// Options that shape what may appear in a cluster.
#[derive(Clone, Copy, Debug)]
pub struct ClusterOpts {
    pub flavor: Flavor,
    pub nodes: usize,
    /// Whether some workloads get very large pod specs (10-40 KB bodies).
    pub big_workloads: bool,
}
