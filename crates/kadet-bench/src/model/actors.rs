//! Principals described by `data/cluster.toml`: identities given by
//! templates (kubelets, developers, the admin, CI), and the actors that
//! repeat access patterns (add-ons, the cloud provider's principals,
//! applications).

use rand::Rng;

use crate::model::principals::{
    control_plane_ip, principal, rbac_reason, sa_principal, user_json, Kind, Principal,
};
use crate::model::random::{k8s_suffix, leak, Rng64};
use crate::model::resources::resource_named;
use crate::model::spec::{
    AccessSpec, AddonSpec, AppSpec, ClusterSpec, FlavorSpec, PlatformSpec, PrincipalSpec,
};
use crate::model::template::Vars;
use crate::model::{Access, Actor, NameSel, Node, NsSel, Workload};

/// The principal `spec` describes, with `vars` and its own `let` variables.
/// Draws from the RNG for the `let` list only.
pub fn principal_from(
    rng: &mut Rng64,
    spec: &PrincipalSpec,
    mut vars: Vars,
    kind: Kind,
) -> &'static Principal {
    vars.define_all(&spec.draws, rng);
    let username = vars.expand(&spec.username);
    vars.set("username", &username);
    let uid = spec.uid.as_ref().map(|t| vars.expand(t));
    let groups: Vec<String> = spec.groups.iter().map(|g| vars.expand(g)).collect();
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    let extra: Vec<(&str, String)> = (spec.extra.iter())
        .map(|(key, value)| (key.as_str(), vars.expand(value)))
        .collect();
    let uj = user_json(&username, uid.as_deref(), &groups, &extra);
    principal(
        &username,
        uj,
        &vars.expand(&spec.ip),
        &vars.expand(&spec.ua),
        vars.expand(&spec.reason),
        kind,
    )
}

/// The developers: person `i` with the flavour's `i % n`-th identity.
pub fn developers(
    rng: &mut Rng64,
    spec: &ClusterSpec,
    flavor_spec: &FlavorSpec,
    vars: &Vars,
) -> Vec<&'static Principal> {
    let people = &spec.developers;
    (people.names.iter().enumerate())
        .map(|(i, name)| {
            let person = vars
                .clone()
                .with("name", name)
                .with(
                    "user_agent",
                    &people.user_agents[i % people.user_agents.len()],
                )
                .with("reason", &people.reason);
            let identity = &flavor_spec.developers[i % flavor_spec.developers.len()];
            principal_from(rng, identity, person, Kind::Human)
        })
        .collect()
}

/// An add-on: the service account of a pod of the workload of the same
/// name (or of a pod of its own when there is no such workload).
pub fn addon(
    rng: &mut Rng64,
    spec: &'static AddonSpec,
    workloads: &[Workload],
    nodes: &[Node],
    vars: &Vars,
) -> Actor {
    let sa = spec.service_account.as_str();
    let pick: usize = rng.random_range(0..64);
    let own_pod = leak(format!("{sa}-{}", k8s_suffix(rng, 5)));
    let (node_idx, pod) = match workloads.iter().find(|w| w.name == sa) {
        Some(w) => {
            let k = pick % w.pods.len();
            (w.pod_node[k], w.pods[k])
        }
        None => (0, own_pod),
    };
    let node = &nodes[node_idx];
    let p = sa_principal(
        rng,
        "kube-system",
        sa,
        Some((node.name, pod)),
        node.ip,
        &vars.expand(&spec.user_agent),
        rbac_reason(
            &format!("system:{sa}"),
            &format!("system:{sa}"),
            &format!("ServiceAccount \"{sa}/kube-system\""),
        ),
        Kind::SystemSa,
    );
    actor(p, &spec.accesses, spec.weight)
}

/// A principal of the cloud provider, calling from the control plane.
pub fn platform_principal(rng: &mut Rng64, spec: &'static PlatformSpec, vars: &Vars) -> Actor {
    let username = spec.username.as_str();
    let groups: Vec<&str> = spec.groups.iter().map(String::as_str).collect();
    let uj = user_json(username, None, &groups, &[]);
    let ip = control_plane_ip(rng);
    let reason = rbac_reason(username, username, &format!("User \"{username}\""));
    let ua = vars.expand(&spec.user_agent);
    let p = principal(username, uj, &ip, &ua, reason, Kind::Platform);
    actor(p, &spec.accesses, spec.weight)
}

/// An application's service account, in a pod on a random node.
pub fn app(rng: &mut Rng64, spec: &'static AppSpec, nodes: &[Node], vars: &Vars) -> Actor {
    let (ns, sa) = (spec.namespace.as_str(), spec.service_account.as_str());
    let node = &nodes[rng.random_range(0..nodes.len())];
    let pod = format!("{sa}-{}-{}", k8s_suffix(rng, 10), k8s_suffix(rng, 5));
    let p = sa_principal(
        rng,
        ns,
        sa,
        Some((node.name, &pod)),
        node.ip,
        &vars.expand(&spec.user_agent),
        rbac_reason(sa, sa, &format!("ServiceAccount \"{sa}/{ns}\"")),
        Kind::AppSa,
    );
    actor(p, &spec.accesses, spec.weight)
}

fn actor(p: &'static Principal, accesses: &'static [AccessSpec], weight: u32) -> Actor {
    Actor {
        p,
        accesses: accesses.iter().map(access).collect(),
        weight,
    }
}

/// An access pattern of the file, resolved.
fn access(spec: &'static AccessSpec) -> Access {
    let fail =
        |what: &str| -> ! { panic!("data/cluster.toml: {} {}: {what}", spec.verb, spec.resource) };
    let ns = match spec.namespace.as_deref() {
        None => NsSel::None,
        Some("<user-namespace>") => NsSel::User,
        Some(other) if other.starts_with('<') => fail(&format!("no namespace is {other}")),
        Some(ns) => NsSel::Fixed(ns),
    };
    let name = match spec.name.as_deref() {
        None => NameSel::None,
        Some("<node>") => NameSel::Node,
        Some("<workload>") => NameSel::Workload,
        Some("<secret>") => NameSel::Secret,
        Some(other) if other.starts_with('<') => fail(&format!("no name is {other}")),
        Some(name) => NameSel::Fixed(name),
    };
    Access {
        verb: &spec.verb,
        res: resource_named(&spec.resource).unwrap_or_else(|e| fail(&e)),
        ns,
        name,
        sub: &spec.subresource,
    }
}
