//! The API resources the simulated clusters serve, as a table of statics
//! that the traffic scenarios refer to by name, and that the access
//! patterns of `data/cluster.toml` are looked up in.

/// An API resource.
#[derive(Debug)]
pub struct Res {
    /// Plural name (`pods`).
    pub resource: &'static str,
    /// API group; empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub namespaced: bool,
}

macro_rules! resources {
    ($($id:ident = $r:literal, $g:literal, $v:literal, $ns:literal;)*) => {
        $(
            #[doc = concat!("`", $r, "` in group `", $g, "` (", $v, ").")]
            pub static $id: Res = Res { resource: $r, group: $g, version: $v, namespaced: $ns };
        )*
        /// Every resource of the table.
        static ALL_RESOURCES: &[&Res] = &[$(&$id),*];
    };
}

/// The resource called `name`: a plural name (`pods`), or `plural.group`
/// (`events.events.k8s.io`) where the plural alone is ambiguous.
pub fn resource_named(name: &str) -> Result<&'static Res, String> {
    let mut found = ALL_RESOURCES.iter().copied().filter(|r| {
        r.resource == name
            || (name.strip_prefix(r.resource)).and_then(|g| g.strip_prefix('.')) == Some(r.group)
    });
    match (found.next(), found.next()) {
        (Some(r), None) => Ok(r),
        (None, _) => Err(format!("no resource is called {name:?}")),
        (Some(_), Some(_)) => Err(format!("{name:?} is ambiguous: write plural.group")),
    }
}

resources! {
    PODS = "pods", "", "v1", true;
    SERVICES = "services", "", "v1", true;
    CONFIGMAPS = "configmaps", "", "v1", true;
    SECRETS = "secrets", "", "v1", true;
    ENDPOINTS = "endpoints", "", "v1", true;
    EVENTS = "events", "", "v1", true;
    SERVICEACCOUNTS = "serviceaccounts", "", "v1", true;
    PVCS = "persistentvolumeclaims", "", "v1", true;
    RESOURCEQUOTAS = "resourcequotas", "", "v1", true;
    LIMITRANGES = "limitranges", "", "v1", true;
    NODES = "nodes", "", "v1", false;
    NAMESPACES = "namespaces", "", "v1", false;
    PVS = "persistentvolumes", "", "v1", false;
    DEPLOYMENTS = "deployments", "apps", "v1", true;
    REPLICASETS = "replicasets", "apps", "v1", true;
    DAEMONSETS = "daemonsets", "apps", "v1", true;
    STATEFULSETS = "statefulsets", "apps", "v1", true;
    CONTROLLERREVISIONS = "controllerrevisions", "apps", "v1", true;
    ENDPOINTSLICES = "endpointslices", "discovery.k8s.io", "v1", true;
    LEASES = "leases", "coordination.k8s.io", "v1", true;
    EVENTS_V1 = "events", "events.k8s.io", "v1", true;
    JOBS = "jobs", "batch", "v1", true;
    CRONJOBS = "cronjobs", "batch", "v1", true;
    INGRESSES = "ingresses", "networking.k8s.io", "v1", true;
    NETWORKPOLICIES = "networkpolicies", "networking.k8s.io", "v1", true;
    PDBS = "poddisruptionbudgets", "policy", "v1", true;
    HPAS = "horizontalpodautoscalers", "autoscaling", "v2", true;
    CSINODES = "csinodes", "storage.k8s.io", "v1", false;
    CSIDRIVERS = "csidrivers", "storage.k8s.io", "v1", false;
    STORAGECLASSES = "storageclasses", "storage.k8s.io", "v1", false;
    VOLUMEATTACHMENTS = "volumeattachments", "storage.k8s.io", "v1", false;
    CSISTORAGECAPACITIES = "csistoragecapacities", "storage.k8s.io", "v1", true;
    RUNTIMECLASSES = "runtimeclasses", "node.k8s.io", "v1", false;
    PRIORITYCLASSES = "priorityclasses", "scheduling.k8s.io", "v1", false;
    CRDS = "customresourcedefinitions", "apiextensions.k8s.io", "v1", false;
    APISERVICES = "apiservices", "apiregistration.k8s.io", "v1", false;
    MUTATINGWEBHOOKS = "mutatingwebhookconfigurations", "admissionregistration.k8s.io", "v1", false;
    VALIDATINGWEBHOOKS = "validatingwebhookconfigurations", "admissionregistration.k8s.io", "v1", false;
    CLUSTERROLES = "clusterroles", "rbac.authorization.k8s.io", "v1", false;
    CLUSTERROLEBINDINGS = "clusterrolebindings", "rbac.authorization.k8s.io", "v1", false;
    ROLES = "roles", "rbac.authorization.k8s.io", "v1", true;
    ROLEBINDINGS = "rolebindings", "rbac.authorization.k8s.io", "v1", true;
    FLOWSCHEMAS = "flowschemas", "flowcontrol.apiserver.k8s.io", "v1", false;
    PRIORITYLEVELS = "prioritylevelconfigurations", "flowcontrol.apiserver.k8s.io", "v1", false;
    SUBJECTACCESSREVIEWS = "subjectaccessreviews", "authorization.k8s.io", "v1", false;
    TOKENREVIEWS = "tokenreviews", "authentication.k8s.io", "v1", false;
    CSRS = "certificatesigningrequests", "certificates.k8s.io", "v1", false;
    ENICONFIGS = "eniconfigs", "crd.k8s.amazonaws.com", "v1alpha1", false;
    APPLICATIONS = "applications", "argoproj.io", "v1alpha1", true;
    EXTERNALSECRETS = "externalsecrets", "external-secrets.io", "v1beta1", true;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_by_name() {
        assert!(std::ptr::eq(resource_named("pods").unwrap(), &PODS));
        assert!(std::ptr::eq(
            resource_named("deployments.apps").unwrap(),
            &DEPLOYMENTS
        ));
        assert!(std::ptr::eq(
            resource_named("events.events.k8s.io").unwrap(),
            &EVENTS_V1
        ));
        assert!(resource_named("events").is_err());
        assert!(resource_named("pod").is_err());
        assert!(resource_named("pods.apps").is_err());
    }
}
