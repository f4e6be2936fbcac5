//! The containers of a workload: environment variables, resources, mounts,
//! and their JSON in pod specs and in `managedFields`.

use rand::Rng;

use crate::body::{a, arg, eo, n, o, ov, s, slot, J};
use crate::model::random::Rng64;
use crate::model::spec::WorkloadSpec;

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

/// A container of a workload's pods.
pub struct ContainerDef {
    pub name: String,
    pub image: String,
    pub port: i64,
    /// Environment variables, as in the pod spec.
    pub env: Vec<J>,
    /// Their names, for `managedFields`.
    pub env_names: Vec<String>,
    /// Volume mounts as (volume, path).
    pub mounts: Vec<(String, String)>,
    /// CPU request (`250m`).
    pub cpu: String,
    /// Memory request and limit (`256Mi`).
    pub mem: String,
}

/// The containers of workload `d`'s pods. Unless `big`, at most two
/// containers and twelve variables in the first.
pub fn containers(rng: &mut Rng64, d: &WorkloadSpec, big: bool) -> Vec<ContainerDef> {
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
            let v = env_value(rng, &en, &d.namespace, &d.name);
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

/// A container in a pod spec; `full` adds the service account token mount
/// that admission adds.
pub fn container_json(c: &ContainerDef, full: bool) -> J {
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
pub fn managed_fields(cs: &[ContainerDef], manager: &str) -> J {
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
