//! The simulated cluster: API resources, principals (kubelets, controllers,
//! add-ons, humans), workloads and the object bodies they send. Everything is
//! built once from the RNG at start-up and leaked to `'static` so the hot
//! path only copies references.

use crate::body::{a, arg, eo, n, o, ov, s, slot, Template, J};
use crate::json::uuid_into;
use rand::Rng;
use rand_pcg::Pcg64Mcg;

pub type Rng64 = Pcg64Mcg;

/// Leaks a string so it can live in the static pools.
pub fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A random UUID string from the RNG.
pub fn uuid(rng: &mut Rng64) -> String {
    let mut b = [0u8; 36];
    uuid_into(&mut b, rng.random(), rng.random());
    String::from_utf8(b.to_vec()).unwrap()
}

const K8S_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const HEXCH: &[u8] = b"0123456789abcdef";
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

pub fn rand_from(rng: &mut Rng64, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// Kubernetes-style random suffix (pod-template-hash, pod name suffix).
pub fn k8s_suffix(rng: &mut Rng64, len: usize) -> String {
    rand_from(rng, K8S_ALPHABET, len)
}

pub fn hexstr(rng: &mut Rng64, len: usize) -> String {
    rand_from(rng, HEXCH, len)
}

/// Which managed Kubernetes the simulated cluster looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Eks,
    Aks,
    Gke,
}

/// An API resource.
#[derive(Debug)]
pub struct Res {
    pub resource: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub namespaced: bool,
}

macro_rules! resources {
    ($($id:ident = $r:literal, $g:literal, $v:literal, $ns:literal;)*) => {
        $(pub static $id: Res = Res { resource: $r, group: $g, version: $v, namespaced: $ns };)*
    };
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

/// Broad class of a principal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Node,
    ControlPlane,
    SystemSa,
    Platform,
    AppSa,
    Human,
}

/// Someone who talks to the API server.
#[derive(Debug)]
pub struct Principal {
    pub username: &'static str,
    /// The whole `user` object, serialised.
    pub user_json: &'static str,
    pub ip: &'static str,
    pub ua: &'static str,
    /// `authorization.k8s.io/reason` when allowed.
    pub reason: &'static str,
    pub kind: Kind,
}

pub fn user_json(
    username: &str,
    uid: Option<&str>,
    groups: &[&str],
    extra: &[(&str, String)],
) -> &'static str {
    let mut u = o([("username", s(username))]);
    if let Some(uid) = uid {
        u.push("uid", s(uid));
    }
    u.push("groups", a(groups.iter().map(|g| s(*g)).collect()));
    if !extra.is_empty() {
        u.push(
            "extra",
            ov(extra
                .iter()
                .map(|(k, v)| (k.to_string(), a(vec![s(v.clone())])))
                .collect()),
        );
    }
    leak(String::from_utf8(u.to_vec()).unwrap())
}

pub fn principal(
    username: &str,
    user_json: &'static str,
    ip: &str,
    ua: &str,
    reason: String,
    kind: Kind,
) -> &'static Principal {
    Box::leak(Box::new(Principal {
        username: leak(username.to_string()),
        user_json,
        ip: leak(ip.to_string()),
        ua: leak(ua.to_string()),
        reason: leak(reason),
        kind,
    }))
}

pub const K8S_VERSION: &str = "v1.29.3";
pub const K8S_COMMIT: &str = "6813625";

fn core_ua(component: &str, suffix: &str) -> String {
    if suffix.is_empty() {
        format!("{component}/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}")
    } else {
        format!("{component}/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}/{suffix}")
    }
}

/// A worker node and its kubelet.
#[derive(Debug)]
pub struct Node {
    pub name: &'static str,
    pub ip: &'static str,
    pub kubelet: &'static Principal,
}

/// Namespace selection for an access pattern.
#[derive(Clone, Copy, Debug)]
pub enum NsSel {
    /// Cluster-wide list/watch of a namespaced resource, or a cluster-scoped resource.
    None,
    Fixed(&'static str),
    /// A random user namespace.
    User,
}

/// Name selection for an access pattern.
#[derive(Clone, Copy, Debug)]
pub enum NameSel {
    None,
    Fixed(&'static str),
    Node,
    Workload,
    Secret,
}

/// One kind of request a non-human principal makes repeatedly.
#[derive(Clone, Copy, Debug)]
pub struct Access {
    pub verb: &'static str,
    pub res: &'static Res,
    pub ns: NsSel,
    pub name: NameSel,
    pub sub: &'static str,
}

const fn acc(verb: &'static str, res: &'static Res, ns: NsSel, name: NameSel) -> Access {
    Access {
        verb,
        res,
        ns,
        name,
        sub: "",
    }
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
    pub rs_name: &'static str,
    pub pods: Vec<&'static str>,
    pub pod_node: Vec<usize>,
    pub sa: &'static str,
    pub container: &'static str,
    pub pod_req: Template,
    pub pod_resp: Template,
    pub deploy_patch: Template,
    pub deploy_obj: Template,
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
    /// Humans using kubectl, with the namespaces they work in.
    pub humans: Vec<&'static Principal>,
    /// The cluster admin (member of system:masters or an admin policy).
    pub admin: &'static Principal,
    /// A CI/CD deploy identity.
    pub ci: &'static Principal,
    pub workloads: Vec<Workload>,
    pub user_namespaces: Vec<&'static str>,
    pub configmaps: Vec<ConfigMap>,
    pub secrets: Vec<(&'static str, &'static str)>,
    pub leader_leases: Vec<(&'static str, &'static Principal)>,
    pub token_kubelet: Template,
    pub token_kubelet_resp: Template,
    pub token_irsa: Template,
    pub token_kcm: Template,
    pub token_kcm_resp: Template,
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

const AWS_ACCOUNT: &str = "123456789012";
// Access key ids in `user.extra` are 16 characters long ("ASIAEXAMPLE" plus
// five), four short of a real one, so that secret scanners never mistake
// them for credentials.

struct WorkloadDef {
    ns: &'static str,
    name: &'static str,
    image: &'static str,
    replicas: usize,
    containers: usize,
    env: usize,
    port: i64,
    system: bool,
    daemonset: bool,
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

const ENV_NAMES: &[&str] = &[
    "LOG_LEVEL",
    "LOG_FORMAT",
    "HTTP_PORT",
    "GRPC_PORT",
    "METRICS_PORT",
    "APP_ENV",
    "TZ",
    "LANG",
    "REDIS_HOST",
    "REDIS_PORT",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "CACHE_TTL_SECONDS",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_SAMPLER",
    "UPSTREAM_URL",
    "JAVA_TOOL_OPTIONS",
    "MAX_CONNECTIONS",
    "REQUEST_TIMEOUT",
    "RETRY_BACKOFF_MS",
    "QUEUE_NAME",
    "BATCH_SIZE",
    "WORKER_CONCURRENCY",
    "REGION",
    "CLUSTER_NAME",
    "SEARCH_URL",
    "IMAGE_CDN_BASE",
];

const FEATURE_WORDS: &[&str] = &[
    "CHECKOUT",
    "SEARCH",
    "RECOMMENDATIONS",
    "WISHLIST",
    "COUPONS",
    "LOYALTY",
    "REVIEWS",
    "GIFTCARDS",
    "EXPRESS",
    "INVOICES",
    "REFUNDS",
    "SUBSCRIPTIONS",
    "ANALYTICS",
    "EXPORT",
    "AUDIT",
    "BETA",
];

fn env_value(rng: &mut Rng64, name: &str, ns: &str, app: &str) -> J {
    let v = match name {
        "LOG_LEVEL" => ["info", "debug", "warn"][rng.random_range(0..3)].to_string(),
        "LOG_FORMAT" => "json".into(),
        "HTTP_PORT" => "8080".into(),
        "GRPC_PORT" => "9090".into(),
        "METRICS_PORT" => "9102".into(),
        "APP_ENV" => "production".into(),
        "TZ" => "UTC".into(),
        "LANG" => "C.UTF-8".into(),
        "REDIS_HOST" => format!("redis-master.{ns}.svc.cluster.local"),
        "REDIS_PORT" => "6379".into(),
        "DB_HOST" => format!("{app}-db.{ns}.svc.cluster.local"),
        "DB_PORT" => "5432".into(),
        "DB_NAME" => app.replace('-', "_"),
        "DB_USER" => format!("{}_rw", app.replace('-', "_")),
        "CACHE_TTL_SECONDS" => rng.random_range(30..3600).to_string(),
        "OTEL_EXPORTER_OTLP_ENDPOINT" => "http://otel-collector.monitoring.svc:4317".into(),
        "OTEL_SERVICE_NAME" => app.to_string(),
        "OTEL_TRACES_SAMPLER" => "parentbased_traceidratio".into(),
        "UPSTREAM_URL" => format!(
            "http://catalog.shop.svc.cluster.local:8080/v1/items?region=eu&limit={}&fields=id,name,price",
            rng.random_range(10..500)
        ),
        "JAVA_TOOL_OPTIONS" => "-XX:MaxRAMPercentage=75.0 -XX:+UseG1GC -Dfile.encoding=UTF-8".into(),
        "MAX_CONNECTIONS" => rng.random_range(16..512).to_string(),
        "REQUEST_TIMEOUT" => format!("{}s", rng.random_range(2..60)),
        "RETRY_BACKOFF_MS" => rng.random_range(50..2000).to_string(),
        "QUEUE_NAME" => format!("{ns}-{app}-jobs"),
        "BATCH_SIZE" => rng.random_range(10..1000).to_string(),
        "WORKER_CONCURRENCY" => rng.random_range(1..32).to_string(),
        "REGION" => "eu-west-1".into(),
        "CLUSTER_NAME" => "bench".into(),
        "SEARCH_URL" => "https://search.internal.example.com/query?index=products&size=20".into(),
        "IMAGE_CDN_BASE" => "https://cdn.example.com/img/".into(),
        _ => ["true", "false"][rng.random_range(0..2)].to_string(),
    };
    s(v)
}

struct ContainerDef {
    name: String,
    image: String,
    port: i64,
    env: Vec<J>,
    env_names: Vec<String>,
    mounts: Vec<(String, String)>,
    cpu: String,
    mem: String,
}

fn containers(rng: &mut Rng64, d: &WorkloadDef, big: bool) -> Vec<ContainerDef> {
    let count = if big {
        d.containers
    } else {
        d.containers.min(2)
    };
    let env_count = if big { d.env } else { d.env.min(12) };
    let mut out = Vec::new();
    for ci in 0..count {
        let (name, image) = match ci {
            0 => (d.name.to_string(), d.image.to_string()),
            1 => ("envoy".to_string(), "envoyproxy/envoy:v1.29.2".to_string()),
            2 => (
                "log-shipper".to_string(),
                "fluent/fluent-bit:3.0.0".to_string(),
            ),
            _ => (format!("worker-{ci}"), d.image.to_string()),
        };
        let mut env = Vec::new();
        let mut env_names = Vec::new();
        let n_env = if ci == 0 {
            env_count
        } else {
            (env_count / 3).max(2)
        };
        // Downward API variables first, as most charts do.
        for (en, path) in [
            ("POD_NAME", "metadata.name"),
            ("POD_NAMESPACE", "metadata.namespace"),
        ] {
            env.push(o([
                ("name", s(en)),
                (
                    "valueFrom",
                    o([(
                        "fieldRef",
                        o([("apiVersion", s("v1")), ("fieldPath", s(path))]),
                    )]),
                ),
            ]));
            env_names.push(en.to_string());
        }
        for k in 0..n_env {
            let en = if k < ENV_NAMES.len() {
                ENV_NAMES[k].to_string()
            } else {
                format!(
                    "FEATURE_{}_{}_ENABLED",
                    FEATURE_WORDS[k % FEATURE_WORDS.len()],
                    k / FEATURE_WORDS.len()
                )
            };
            let v = env_value(rng, &en, d.ns, d.name);
            env.push(o([("name", s(en.clone())), ("value", v)]));
            env_names.push(en);
        }
        if ci == 0 && env_count > 8 {
            // Credentials come from secrets by reference, never inline.
            env.push(o([
                ("name", s("DB_PASSWORD")),
                (
                    "valueFrom",
                    o([(
                        "secretKeyRef",
                        o([
                            ("name", s(format!("{}-db-credentials", d.name))),
                            ("key", s("password")),
                        ]),
                    )]),
                ),
            ]));
            env_names.push("DB_PASSWORD".into());
        }
        let mut mounts = vec![("config".to_string(), format!("/etc/{}", d.name))];
        if ci == 0 {
            mounts.push(("tmp".into(), "/tmp".into()));
        }
        out.push(ContainerDef {
            name,
            image,
            port: d.port + ci as i64,
            env,
            env_names,
            mounts,
            cpu: format!("{}m", [50, 100, 250, 500][rng.random_range(0..4)]),
            mem: format!("{}Mi", [64, 128, 256, 512, 1024][rng.random_range(0..5)]),
        });
    }
    out
}

fn container_json(c: &ContainerDef, full: bool) -> J {
    let mut j = o([("name", s(c.name.clone())), ("image", s(c.image.clone()))]);
    j.push(
        "ports",
        a(vec![o([
            ("name", s("http")),
            ("containerPort", n(c.port)),
            ("protocol", s("TCP")),
        ])]),
    );
    j.push("env", a(c.env.clone()));
    j.push(
        "resources",
        o([
            ("limits", o([("memory", s(c.mem.clone()))])),
            (
                "requests",
                o([("cpu", s(c.cpu.clone())), ("memory", s(c.mem.clone()))]),
            ),
        ]),
    );
    let mut mounts: Vec<J> = c
        .mounts
        .iter()
        .map(|(n_, p)| o([("name", s(n_.clone())), ("mountPath", s(p.clone()))]))
        .collect();
    if full {
        mounts.push(o([
            ("name", s(format!("kube-api-access-{}", arg(slot::AUX)))),
            ("readOnly", J::B(true)),
            (
                "mountPath",
                s("/var/run/secrets/kubernetes.io/serviceaccount"),
            ),
        ]));
    }
    j.push("volumeMounts", a(mounts));
    let probe = |path: &str| {
        o([
            (
                "httpGet",
                o([
                    ("path", s(path)),
                    ("port", s("http")),
                    ("scheme", s("HTTP")),
                ]),
            ),
            ("timeoutSeconds", n(1)),
            ("periodSeconds", n(10)),
            ("successThreshold", n(1)),
            ("failureThreshold", n(3)),
        ])
    };
    j.push("livenessProbe", probe("/healthz"));
    j.push("readinessProbe", probe("/ready"));
    j.push("terminationMessagePath", s("/dev/termination-log"));
    j.push("terminationMessagePolicy", s("File"));
    j.push("imagePullPolicy", s("IfNotPresent"));
    j.push(
        "securityContext",
        o([
            ("capabilities", o([("drop", a(vec![s("ALL")]))])),
            ("runAsNonRoot", J::B(true)),
            ("readOnlyRootFilesystem", J::B(true)),
            ("allowPrivilegeEscalation", J::B(false)),
        ]),
    );
    j
}

/// managedFields entry describing the fields of the pod spec (this is what
/// makes real responseObjects large).
fn managed_fields(cs: &[ContainerDef], manager: &str) -> J {
    let mut containers = Vec::new();
    for c in cs {
        let mut env = vec![(".".to_string(), eo())];
        for en in &c.env_names {
            env.push((
                format!("k:{{\"name\":\"{en}\"}}"),
                o([(".", eo()), ("f:name", eo()), ("f:value", eo())]),
            ));
        }
        let mut mounts = vec![(".".to_string(), eo())];
        for (_, p) in &c.mounts {
            mounts.push((
                format!("k:{{\"mountPath\":\"{p}\"}}"),
                o([(".", eo()), ("f:mountPath", eo()), ("f:name", eo())]),
            ));
        }
        containers.push((
            format!("k:{{\"name\":\"{}\"}}", c.name),
            o([
                (".", eo()),
                ("f:env", ov(env)),
                ("f:image", eo()),
                ("f:imagePullPolicy", eo()),
                (
                    "f:livenessProbe",
                    o([
                        (".", eo()),
                        ("f:failureThreshold", eo()),
                        ("f:httpGet", eo()),
                    ]),
                ),
                ("f:name", eo()),
                ("f:ports", eo()),
                ("f:readinessProbe", eo()),
                ("f:resources", eo()),
                ("f:securityContext", eo()),
                ("f:terminationMessagePath", eo()),
                ("f:terminationMessagePolicy", eo()),
                ("f:volumeMounts", ov(mounts)),
            ]),
        ));
    }
    a(vec![o([
        ("manager", s(manager)),
        ("operation", s("Update")),
        ("apiVersion", s("v1")),
        ("time", s(arg(slot::CREATED))),
        ("fieldsType", s("FieldsV1")),
        (
            "fieldsV1",
            o([
                (
                    "f:metadata",
                    o([
                        ("f:generateName", eo()),
                        (
                            "f:labels",
                            o([(".", eo()), ("f:app", eo()), ("f:pod-template-hash", eo())]),
                        ),
                        ("f:ownerReferences", eo()),
                    ]),
                ),
                (
                    "f:spec",
                    o([
                        ("f:containers", ov(containers)),
                        ("f:dnsPolicy", eo()),
                        ("f:volumes", eo()),
                    ]),
                ),
            ]),
        ),
    ])])
}

fn pod_json(
    d: &WorkloadDef,
    hash: &str,
    rs_uid: &str,
    cs: &[ContainerDef],
    sa: &str,
    full: bool,
) -> J {
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
    let mut labels = o([("app", s(d.name))]);
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
        volumes.push(o([
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
        ]));
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
        spec.push(
            "affinity",
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
            )]),
        );
    }
    spec.push("schedulerName", s("default-scheduler"));
    spec.push(
        "tolerations",
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
        ]),
    );
    spec.push("priority", n(0));
    spec.push("enableServiceLinks", J::B(true));
    spec.push("preemptionPolicy", s("PreemptLowerPriority"));
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

fn deployment_json(d: &WorkloadDef, cs: &[ContainerDef], sa: &str, replicas: i64) -> J {
    // The object as kubectl apply sends it (kubectl writes sorted keys).
    let containers: Vec<J> = cs
        .iter()
        .map(|c| {
            o([
                ("env", a(c.env.clone())),
                ("image", s(c.image.clone())),
                ("name", s(c.name.clone())),
                (
                    "ports",
                    a(vec![o([("containerPort", n(c.port)), ("name", s("http"))])]),
                ),
                (
                    "resources",
                    o([
                        ("limits", o([("memory", s(c.mem.clone()))])),
                        (
                            "requests",
                            o([("cpu", s(c.cpu.clone())), ("memory", s(c.mem.clone()))]),
                        ),
                    ]),
                ),
            ])
        })
        .collect();
    o([
        ("apiVersion", s("apps/v1")),
        ("kind", s("Deployment")),
        (
            "metadata",
            o([
                ("annotations", eo()),
                ("labels", o([("app", s(d.name))])),
                ("name", s(d.name)),
                ("namespace", s(d.ns)),
            ]),
        ),
        (
            "spec",
            o([
                ("replicas", n(replicas)),
                ("selector", o([("matchLabels", o([("app", s(d.name))]))])),
                (
                    "template",
                    o([
                        ("metadata", o([("labels", o([("app", s(d.name))]))])),
                        (
                            "spec",
                            o([("containers", a(containers)), ("serviceAccountName", s(sa))]),
                        ),
                    ]),
                ),
            ]),
        ),
    ])
}

fn deploy_patch(d: &WorkloadDef, cs: &[ContainerDef], sa: &str) -> J {
    let last = deployment_json(d, cs, sa, d.replicas as i64);
    let mut last_s = String::from_utf8(last.to_vec()).unwrap();
    last_s.push('\n');
    o([
        (
            "metadata",
            o([(
                "annotations",
                o([(
                    "kubectl.kubernetes.io/last-applied-configuration",
                    s(last_s),
                )]),
            )]),
        ),
        (
            "spec",
            o([(
                "template",
                o([(
                    "spec",
                    o([
                        (
                            "$setElementOrder/containers",
                            a(cs.iter()
                                .map(|c| o([("name", s(c.name.clone()))]))
                                .collect()),
                        ),
                        (
                            "containers",
                            a(vec![o([
                                ("image", s(cs[0].image.clone())),
                                ("name", s(cs[0].name.clone())),
                            ])]),
                        ),
                    ]),
                )]),
            )]),
        ),
    ])
}

fn deploy_obj(d: &WorkloadDef, cs: &[ContainerDef], sa: &str) -> J {
    let last = deployment_json(d, cs, sa, d.replicas as i64);
    let mut last_s = String::from_utf8(last.to_vec()).unwrap();
    last_s.push('\n');
    let r = d.replicas as i64;
    o([
        ("kind", s("Deployment")),
        ("apiVersion", s("apps/v1")),
        (
            "metadata",
            o([
                ("name", s(arg(slot::NAME))),
                ("namespace", s(arg(slot::NAMESPACE))),
                ("uid", s(arg(slot::UID))),
                ("resourceVersion", s(arg(slot::RV))),
                ("generation", n(17)),
                ("creationTimestamp", s("2026-09-14T08:31:07Z")),
                ("labels", o([("app", s(d.name))])),
                (
                    "annotations",
                    o([
                        ("deployment.kubernetes.io/revision", s("17")),
                        (
                            "kubectl.kubernetes.io/last-applied-configuration",
                            s(last_s),
                        ),
                    ]),
                ),
            ]),
        ),
        (
            "spec",
            o([
                ("replicas", n(r)),
                ("selector", o([("matchLabels", o([("app", s(d.name))]))])),
                (
                    "template",
                    o([
                        (
                            "metadata",
                            o([
                                ("creationTimestamp", J::Null),
                                ("labels", o([("app", s(d.name))])),
                            ]),
                        ),
                        (
                            "spec",
                            o([
                                (
                                    "containers",
                                    a(cs.iter().map(|c| container_json(c, false)).collect()),
                                ),
                                ("restartPolicy", s("Always")),
                                ("serviceAccountName", s(sa)),
                            ]),
                        ),
                    ]),
                ),
                (
                    "strategy",
                    o([
                        ("type", s("RollingUpdate")),
                        (
                            "rollingUpdate",
                            o([("maxUnavailable", s("25%")), ("maxSurge", s("25%"))]),
                        ),
                    ]),
                ),
                ("revisionHistoryLimit", n(10)),
                ("progressDeadlineSeconds", n(600)),
            ]),
        ),
        (
            "status",
            o([
                ("observedGeneration", n(17)),
                ("replicas", n(r)),
                ("updatedReplicas", n(r)),
                ("readyReplicas", n(r)),
                ("availableReplicas", n(r)),
            ]),
        ),
    ])
}

const CONFIG_KEYS: &[&str] = &[
    "listen",
    "upstream",
    "timeout",
    "retries",
    "pool_size",
    "cache",
    "log_level",
    "tracing",
    "region",
    "feature_flags",
    "rate_limit",
    "max_body",
    "compression",
    "tls_min_version",
    "workers",
];

fn config_text(rng: &mut Rng64, lines: usize) -> String {
    let mut t = String::new();
    for i in 0..lines {
        let k = CONFIG_KEYS[rng.random_range(0..CONFIG_KEYS.len())];
        match rng.random_range(0..5) {
            0 => t.push_str(&format!(
                "{k}_{i}:\n  enabled: true\n  value: {}\n",
                rng.random_range(0..10_000)
            )),
            1 => t.push_str(&format!(
                "{k}_{i}: \"http://svc-{i}.internal:8080/path?a=1&b=2\"\n"
            )),
            2 => t.push_str(&format!(
                "# {k} tuned on 2026-10-{:02} <ops>\n{k}_{i}: {}\n",
                rng.random_range(1..31),
                rng.random_range(0..100)
            )),
            3 => t.push_str(&format!(
                "{k}_{i}: [\"{}\", \"{}\"]\n",
                hexstr(rng, 8),
                hexstr(rng, 8)
            )),
            _ => t.push_str(&format!(
                "{k}_{i}: {}\n",
                ["on", "off", "auto"][rng.random_range(0..3)]
            )),
        }
    }
    t
}

fn configmap_json(rng: &mut Rng64, app: &str, lines: usize) -> J {
    let data = o([
        (&format!("{app}.yaml") as &str, s(config_text(rng, lines))),
        ("run.sh", s("#!/bin/sh\nset -e\n[ -f /etc/app/env ] && . /etc/app/env\nexec /app/server --config /etc/app/app.yaml 2>&1\n")),
    ]);
    o([
        ("kind", s("ConfigMap")),
        ("apiVersion", s("v1")),
        (
            "metadata",
            o([
                ("name", s(arg(slot::NAME))),
                ("namespace", s(arg(slot::NAMESPACE))),
                ("uid", s(arg(slot::UID))),
                ("resourceVersion", s(arg(slot::RV))),
                ("creationTimestamp", s("2026-09-14T08:31:05Z")),
                (
                    "labels",
                    o([("app", s(app)), ("app.kubernetes.io/managed-by", s("Helm"))]),
                ),
            ]),
        ),
        ("data", data),
    ])
}

fn token_request(
    audiences: Option<&[&str]>,
    exp: i64,
    bound_pod: bool,
    resp: bool,
    minimal: bool,
) -> J {
    let meta = if minimal {
        o([("creationTimestamp", J::Null)])
    } else {
        o([
            ("name", s(arg(slot::NAME))),
            ("namespace", s(arg(slot::NAMESPACE))),
            ("creationTimestamp", J::Null),
        ])
    };
    let aud = match audiences {
        Some(list) => a(list.iter().map(|x| s(*x)).collect()),
        None => J::Null,
    };
    let bound = if bound_pod {
        o([
            ("kind", s("Pod")),
            ("apiVersion", s("v1")),
            ("name", s(arg(slot::AUX))),
            ("uid", s(arg(slot::UID))),
        ])
    } else {
        J::Null
    };
    let status = if resp {
        o([
            ("token", s("eyJhbGciOi.FAKE.FAKE")),
            ("expirationTimestamp", s(arg(slot::CREATED))),
        ])
    } else if minimal {
        o([("token", s(""))])
    } else {
        o([("token", s("")), ("expirationTimestamp", J::Null)])
    };
    o([
        ("kind", s("TokenRequest")),
        ("apiVersion", s("authentication.k8s.io/v1")),
        ("metadata", meta),
        (
            "spec",
            o([
                ("audiences", aud),
                ("expirationSeconds", n(exp)),
                ("boundObjectRef", bound),
            ]),
        ),
        ("status", status),
    ])
}

/// The exact request body of the Stratus Red Team `k8s.persistence.create-token` technique.
pub fn long_lived_token_request() -> J {
    token_request(None, 946_080_000, false, false, true)
}

fn event_json() -> J {
    o([
        ("kind", s("Event")),
        ("apiVersion", s("v1")),
        (
            "metadata",
            o([
                ("name", s(format!("{}.17a3f0c2d5e8b901", arg(slot::AUX)))),
                ("namespace", s(arg(slot::NAMESPACE))),
                ("creationTimestamp", J::Null),
            ]),
        ),
        (
            "involvedObject",
            o([
                ("kind", s("Pod")),
                ("namespace", s(arg(slot::NAMESPACE))),
                ("name", s(arg(slot::AUX))),
                ("uid", s(arg(slot::UID))),
                ("apiVersion", s("v1")),
                ("fieldPath", s("spec.containers{app}")),
            ]),
        ),
        ("reason", s("Pulled")),
        (
            "message",
            s("Container image \"registry.example.com/shop/app:1.0\" already present on machine"),
        ),
        (
            "source",
            o([("component", s("kubelet")), ("host", s(arg(slot::NODE)))]),
        ),
        ("firstTimestamp", s(arg(slot::CREATED))),
        ("lastTimestamp", s(arg(slot::CREATED))),
        ("count", n(1)),
        ("type", s("Normal")),
        ("eventTime", J::Null),
        ("reportingComponent", s("kubelet")),
        ("reportingInstance", s(arg(slot::NODE))),
    ])
}

fn lease_json() -> J {
    o([
        ("kind", s("Lease")),
        ("apiVersion", s("coordination.k8s.io/v1")),
        (
            "metadata",
            o([
                ("name", s(arg(slot::NAME))),
                ("namespace", s(arg(slot::NAMESPACE))),
                ("uid", s(arg(slot::UID))),
                ("resourceVersion", s(arg(slot::RV))),
                ("creationTimestamp", s("2026-09-14T08:02:11Z")),
            ]),
        ),
        (
            "spec",
            o([
                ("holderIdentity", s(arg(slot::AUX))),
                ("leaseDurationSeconds", n(15)),
                ("acquireTime", s("2026-10-30T17:45:02.000000Z")),
                ("renewTime", s(arg(slot::CREATED))),
                ("leaseTransitions", n(3)),
            ]),
        ),
    ])
}

#[allow(clippy::too_many_arguments)]
fn sa_principal(
    rng: &mut Rng64,
    ns: &str,
    sa: &str,
    pod: Option<(&str, &str)>,
    ip: &str,
    ua: &str,
    reason: String,
    kind: Kind,
) -> &'static Principal {
    let username = format!("system:serviceaccount:{ns}:{sa}");
    let uid = uuid(rng);
    let mut extra = vec![(
        "authentication.kubernetes.io/credential-id",
        format!("JTI={}", uuid(rng)),
    )];
    if let Some((node, pod)) = pod {
        extra.push(("authentication.kubernetes.io/node-name", node.to_string()));
        extra.push(("authentication.kubernetes.io/node-uid", uuid(rng)));
        extra.push(("authentication.kubernetes.io/pod-name", pod.to_string()));
        extra.push(("authentication.kubernetes.io/pod-uid", uuid(rng)));
    }
    let groups = [
        "system:serviceaccounts".to_string(),
        format!("system:serviceaccounts:{ns}"),
        "system:authenticated".to_string(),
    ];
    let g: Vec<&str> = groups.iter().map(|x| x.as_str()).collect();
    let uj = user_json(&username, Some(&uid), &g, &extra);
    principal(&username, uj, ip, ua, reason, kind)
}

fn rbac_reason(binding: &str, role: &str, subject: &str) -> String {
    format!(
        "RBAC: allowed by ClusterRoleBinding \"{binding}\" of ClusterRole \"{role}\" to {subject}"
    )
}

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
