//! Real `nats-server` processes for the tests of the NATS JetStream cluster
//! mode: one server ([`NatsServer`]) or a 3-node cluster ([`NatsCluster`]),
//! each on free loopback ports with its own store directory, started from a
//! generated config file and waited for until JetStream is usable.
//!
//! The harness is synchronous (std only): call it from a multi-threaded
//! tokio test, or through `spawn_blocking`, so that a client's connection
//! task keeps running while a server starts or stops.
//!
//! `nats-server` is looked up in `$NATS_SERVER`, then `PATH`, then the usual
//! system directories (Debian installs it in `/usr/sbin`). When it is
//! missing the test fails, saying how to install it; nothing is skipped.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a server (or the cluster) may take to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a SIGTERM'd server may take to exit before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Attempts at starting with freshly chosen ports when one was taken
/// between choosing it and the server binding it.
const PORT_ATTEMPTS: usize = 5;

/// The `nats-server` executable: `$NATS_SERVER`, else the first
/// `nats-server` in `PATH`, `/usr/sbin`, `/usr/local/bin`, `/usr/bin` or
/// `/usr/local/sbin`. Panics with install instructions when there is none.
pub fn nats_server_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("NATS_SERVER") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "NATS_SERVER={} is not a file; unset it or point it at a nats-server binary",
            p.display()
        );
        return p;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let fallbacks = ["/usr/sbin", "/usr/local/bin", "/usr/bin", "/usr/local/sbin"];
    std::env::split_paths(&path)
        .chain(fallbacks.iter().map(PathBuf::from))
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "nats-server is not installed, and the NATS JetStream tests need a real one.\n\
                 Install it (Debian/Ubuntu): apt-get update && apt-get install -y nats-server\n\
                 or set NATS_SERVER=/path/to/nats-server (any 2.9 or later)."
            )
        })
}

/// Ports handed out by [`free_port`] in this process, never handed out twice
/// (parallel tests would otherwise race for a port the OS gave back twice).
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A loopback TCP port that was free a moment ago: bind port 0, read the
/// port, close. Another process may still take it before the server binds
/// it; the `start` functions notice ("address already in use") and retry
/// with new ports.
pub fn free_port() -> u16 {
    for _ in 0..1000 {
        let Ok(listener) = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)) else {
            continue;
        };
        let Ok(addr) = listener.local_addr() else {
            continue;
        };
        drop(listener);
        if HANDED_OUT.lock().unwrap().insert(addr.port()) {
            return addr.port();
        }
    }
    panic!("no free loopback port found");
}

/// `GET path` on a loopback HTTP port (the server's monitoring endpoint):
/// the status code and body, or `None` when nothing answered.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    // HTTP/1.0: the server closes the connection after the response.
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// `GET path` on a monitoring port, parsed as JSON (`None` when nothing
/// answered, the status was not 200 or the body was not JSON).
pub fn monitor_json(port: u16, path: &str) -> Option<serde_json::Value> {
    match http_get(port, path)? {
        (200, body) => serde_json::from_str(&body).ok(),
        _ => None,
    }
}

/// Waits until `ready` returns true, polling every 50 ms; panics with
/// `what` and the value of `context()` after `timeout`.
pub fn wait_for(
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        if Instant::now() > deadline {
            panic!("{what}: not ready after {timeout:?}\n{}", context());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One `nats-server` process, from its config file; its log (stderr and
/// stdout) is appended to `<dir>/<name>.log` across restarts.
struct Node {
    name: String,
    dir: PathBuf,
    client_port: u16,
    http_port: u16,
    cluster_port: Option<u16>,
    child: Option<Child>,
    /// Extra lines for the server's config (`max_payload: 64KB`).
    extra: String,
}

/// Which `/healthz` a node must pass to count as ready.
#[derive(Clone, Copy)]
enum Health {
    /// Plain `/healthz`: JetStream up and, in a cluster, in contact with the
    /// meta leader, with every local stream and consumer replica current.
    Full,
    /// `/healthz?js-enabled-only=true`: JetStream enabled (it says ok even
    /// while a cluster has no meta leader).
    JetStreamEnabled,
}

impl Health {
    fn path(self) -> &'static str {
        match self {
            Health::Full => "/healthz",
            Health::JetStreamEnabled => "/healthz?js-enabled-only=true",
        }
    }
}

/// Why a node did not come up.
enum StartError {
    /// A port was taken by someone else: retry with new ports.
    PortTaken,
    /// Anything else: the message and the log.
    Failed(String),
}

impl Node {
    fn new(name: &str, dir: &Path, cluster: bool) -> Node {
        Node {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            client_port: free_port(),
            http_port: free_port(),
            cluster_port: cluster.then(free_port),
            child: None,
            extra: String::new(),
        }
    }

    fn new_ports(&mut self) {
        self.client_port = free_port();
        self.http_port = free_port();
        if self.cluster_port.is_some() {
            self.cluster_port = Some(free_port());
        }
    }

    fn store_dir(&self) -> PathBuf {
        self.dir.join(&self.name).join("js")
    }

    fn conf_path(&self) -> PathBuf {
        self.dir.join(format!("{}.conf", self.name))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.name))
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }

    /// Writes the config file. `routes` are the cluster ports of the other
    /// nodes (a cluster node), and `cluster_name` names the cluster.
    fn write_config(&self, cluster_name: &str, routes: &[u16]) {
        let mut conf = format!(
            "server_name: {name}\n\
             listen: 127.0.0.1:{client}\n\
             http: 127.0.0.1:{http}\n\
             jetstream {{\n  store_dir: \"{store}\"\n  max_memory_store: 256MB\n  max_file_store: 2GB\n}}\n",
            name = self.name,
            client = self.client_port,
            http = self.http_port,
            store = self.store_dir().display(),
        );
        if let Some(cport) = self.cluster_port {
            let routes: Vec<String> = routes
                .iter()
                .map(|p| format!("nats-route://127.0.0.1:{p}"))
                .collect();
            conf.push_str(&format!(
                "cluster {{\n  name: {cluster_name}\n  listen: 127.0.0.1:{cport}\n  routes: [{}]\n}}\n",
                routes.join(", ")
            ));
        }
        conf.push_str(&self.extra);
        std::fs::create_dir_all(self.store_dir()).expect("creating the JetStream store dir");
        std::fs::write(self.conf_path(), conf).expect("writing the nats-server config");
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("opening the nats-server log");
        let child = Command::new(nats_server_bin())
            .arg("-c")
            .arg(self.conf_path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting nats-server for {}: {e}", self.name));
        self.child = Some(child);
    }

    /// The child's exit status when it has exited.
    fn exited(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                Some(status)
            }
            _ => None,
        }
    }

    fn is_running(&mut self) -> bool {
        self.exited();
        self.child.is_some()
    }

    /// The last lines of the log, repeated health-check warnings (one per
    /// poll) left out but for the last.
    fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(self.log_path()) {
            let _ = f.read_to_string(&mut text);
        }
        let all: Vec<&str> = text.lines().collect();
        let last_health = all.iter().rposition(|l| l.contains("Healthcheck failed"));
        let lines: Vec<&str> = all
            .iter()
            .enumerate()
            .filter(|(i, l)| !l.contains("Healthcheck failed") || Some(*i) == last_health)
            .map(|(_, l)| *l)
            .collect();
        let from = lines.len().saturating_sub(60);
        format!(
            "--- last lines of {} ---\n{}",
            self.log_path().display(),
            lines[from..].join("\n")
        )
    }

    /// The server answers `GET <health>` with 200 and takes client
    /// connections.
    fn ready(&self, health: Health) -> bool {
        let answer = http_get(self.http_port, health.path());
        matches!(answer, Some((200, _)))
            && TcpStream::connect_timeout(
                &SocketAddr::from((Ipv4Addr::LOCALHOST, self.client_port)),
                Duration::from_secs(1),
            )
            .is_ok()
    }

    /// Polls until [`Node::ready`], or the process exits, or the timeout.
    fn wait_ready(&mut self, health: Health, timeout: Duration) -> Result<(), StartError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                let tail = self.log_tail();
                if tail.contains("address already in use") {
                    return Err(StartError::PortTaken);
                }
                return Err(StartError::Failed(format!(
                    "nats-server {} exited during start-up ({status})\n{tail}",
                    self.name
                )));
            }
            if self.ready(health) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(StartError::Failed(format!(
                    "nats-server {} not ready after {timeout:?} ({} on port {}: {:?})\n{}",
                    self.name,
                    health.path(),
                    self.http_port,
                    http_get(self.http_port, health.path()),
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// kill -9, and reap.
    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for the exit (kill -9 after [`STOP_TIMEOUT`]).
    fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Restarts a stopped node on its ports, waiting out a port that is
    /// still held for a moment.
    fn respawn(&mut self, health: Health, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            self.spawn();
            let left = deadline.saturating_duration_since(Instant::now());
            match self.wait_ready(health, left) {
                Ok(()) => return,
                Err(StartError::PortTaken) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(StartError::PortTaken) => {
                    panic!("{}: its ports stayed taken\n{}", self.name, self.log_tail())
                }
                Err(StartError::Failed(msg)) => panic!("{msg}"),
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One `nats-server` with JetStream (file store under `<dir>/n0/js`) on free
/// loopback ports. Killed (-9) when dropped.
pub struct NatsServer {
    node: Node,
}

impl NatsServer {
    /// Starts a server whose files (config, log, JetStream store) live under
    /// `dir`, and waits until it takes connections with JetStream enabled.
    pub fn start(dir: &Path) -> NatsServer {
        NatsServer::start_with(dir, "")
    }

    /// Starts a server as [`NatsServer::start`] does, with `extra` lines
    /// added to its config (`"max_payload: 65536\n"`).
    pub fn start_with(dir: &Path, extra: &str) -> NatsServer {
        let mut node = Node::new("n0", dir, false);
        node.extra = extra.to_string();
        for attempt in 1..=PORT_ATTEMPTS {
            node.write_config("", &[]);
            node.spawn();
            match node.wait_ready(Health::Full, READY_TIMEOUT) {
                Ok(()) => return NatsServer { node },
                Err(StartError::PortTaken) if attempt < PORT_ATTEMPTS => node.new_ports(),
                Err(StartError::PortTaken) => panic!("ports kept being taken\n{}", node.log_tail()),
                Err(StartError::Failed(msg)) => panic!("{msg}"),
            }
        }
        unreachable!()
    }

    /// The client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.node.url()
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.node.client_port
    }

    /// The HTTP monitoring port (`/healthz`, `/jsz`, `/varz`, ...).
    pub fn monitor_port(&self) -> u16 {
        self.node.http_port
    }

    /// The server log so far (all runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.node.log_path()).unwrap_or_default()
    }

    /// Whether the process is alive.
    pub fn is_running(&mut self) -> bool {
        self.node.is_running()
    }

    /// kill -9 (no chance to flush anything) and reap.
    pub fn kill9(&mut self) {
        self.node.kill9();
    }

    /// SIGTERM, then wait for the process to exit; returns its exit status
    /// (`None` when it was not running).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        self.node.stop()
    }

    /// Stops the server if it still runs (SIGTERM and wait), then starts it
    /// again on the same ports with the same store directory (the file store
    /// survives), and waits until ready. After [`NatsServer::stop`] or
    /// [`NatsServer::kill9`] it just starts it.
    pub fn restart(&mut self) {
        self.node.stop();
        self.node.respawn(Health::Full, READY_TIMEOUT);
    }
}

/// A cluster of `nats-server`s on loopback with JetStream clustering: each
/// node `n<i>` has its own client, cluster and monitoring ports and its own
/// store under `<dir>/n<i>/js`; the routes list every other node. Killed
/// (-9) when dropped.
pub struct NatsCluster {
    nodes: Vec<Node>,
}

impl NatsCluster {
    /// Starts `size` nodes under `dir` and waits until every node is healthy
    /// and agrees on a JetStream meta leader.
    pub fn start(dir: &Path, size: usize) -> NatsCluster {
        assert!(size >= 1, "a cluster needs nodes");
        let mut cluster = NatsCluster {
            nodes: (0..size)
                .map(|i| Node::new(&format!("n{i}"), dir, true))
                .collect(),
        };
        for attempt in 1..=PORT_ATTEMPTS {
            let cluster_ports: Vec<u16> = cluster
                .nodes
                .iter()
                .map(|n| n.cluster_port.expect("cluster port"))
                .collect();
            for node in &mut cluster.nodes {
                let own = node.cluster_port;
                let routes: Vec<u16> = cluster_ports
                    .iter()
                    .copied()
                    .filter(|p| Some(*p) != own)
                    .collect();
                node.write_config("kadet-test", &routes);
                node.spawn();
            }
            let deadline = Instant::now() + READY_TIMEOUT;
            let mut outcome = Ok(());
            for node in &mut cluster.nodes {
                let left = deadline.saturating_duration_since(Instant::now());
                outcome = node.wait_ready(Health::Full, left);
                if outcome.is_err() {
                    break;
                }
            }
            match outcome {
                Ok(()) => {
                    cluster.wait_meta_leader();
                    return cluster;
                }
                Err(StartError::PortTaken) if attempt < PORT_ATTEMPTS => {
                    for node in &mut cluster.nodes {
                        node.kill9();
                        node.new_ports();
                    }
                }
                Err(StartError::PortTaken) => panic!("ports kept being taken\n{}", cluster.logs()),
                Err(StartError::Failed(msg)) => panic!("{msg}\n{}", cluster.logs()),
            }
        }
        unreachable!()
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the cluster has no nodes (never, but clippy asks).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node's client URL, for a client that should fail over.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Node::url).collect()
    }

    /// The client URL of one node.
    pub fn url(&self, node: usize) -> String {
        self.nodes[node].url()
    }

    /// A node's `server_name` (`n0`, `n1`, ...), as JetStream reports
    /// leaders and replicas.
    pub fn name(&self, node: usize) -> &str {
        &self.nodes[node].name
    }

    /// The index of the node named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// A node's HTTP monitoring port.
    pub fn monitor_port(&self, node: usize) -> u16 {
        self.nodes[node].http_port
    }

    /// Whether a node's process is alive.
    pub fn is_running(&mut self, node: usize) -> bool {
        self.nodes[node].is_running()
    }

    /// The JetStream meta leader's server name as the running nodes see it
    /// (`/jsz` `meta_cluster.leader`), when they all agree on one that is
    /// itself running.
    pub fn meta_leader(&mut self) -> Option<String> {
        let mut seen: Option<String> = None;
        for i in 0..self.nodes.len() {
            if !self.nodes[i].is_running() {
                continue;
            }
            let jsz = monitor_json(self.nodes[i].http_port, "/jsz")?;
            let leader = jsz["meta_cluster"]["leader"].as_str()?.to_string();
            if seen.as_ref().is_some_and(|s| *s != leader) {
                return None;
            }
            seen = Some(leader);
        }
        let leader = seen?;
        let idx = self.index_of(&leader)?;
        self.nodes[idx].is_running().then_some(leader)
    }

    /// Waits until the running nodes agree on a running meta leader, and
    /// returns its name.
    pub fn wait_meta_leader(&mut self) -> String {
        let mut leader = None;
        let deadline = Instant::now() + READY_TIMEOUT;
        while leader.is_none() {
            leader = self.meta_leader();
            if leader.is_none() {
                assert!(
                    Instant::now() < deadline,
                    "no JetStream meta leader after {READY_TIMEOUT:?}\n{}",
                    self.logs()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        leader.unwrap()
    }

    /// kill -9 one node.
    pub fn kill9(&mut self, node: usize) {
        self.nodes[node].kill9();
    }

    /// SIGTERM one node and wait for it to exit.
    pub fn stop(&mut self, node: usize) -> Option<ExitStatus> {
        self.nodes[node].stop()
    }

    /// Stops the node if it still runs (SIGTERM and wait), starts it again
    /// on the same ports and store, and waits until it takes connections
    /// with JetStream enabled and the nodes agree on a meta leader.
    ///
    /// It does not wait for the plain `/healthz`: on server 2.9.10 a
    /// consumer's replica on the restarted node can stay "not current"
    /// there for minutes (`h_restarted_node_consumer_replica_becomes_current`
    /// in `nats_harness.rs`; [`NatsCluster::wait_healthy`] waits for it). After
    /// [`NatsCluster::kill9`] or [`NatsCluster::stop`] it just starts it.
    pub fn restart(&mut self, node: usize) {
        self.nodes[node].stop();
        self.nodes[node].respawn(Health::JetStreamEnabled, READY_TIMEOUT);
        self.wait_meta_leader();
    }

    /// Whether a node passes the plain `/healthz`: in contact with the meta
    /// leader, and every stream and consumer replica it holds current.
    pub fn is_healthy(&self, node: usize) -> bool {
        self.nodes[node].ready(Health::Full)
    }

    /// Polls [`NatsCluster::is_healthy`] until it holds or `timeout` passes;
    /// returns whether it held, and the last `/healthz` answer.
    pub fn wait_healthy(&self, node: usize, timeout: Duration) -> (bool, String) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.is_healthy(node) {
                return (true, "ok".to_string());
            }
            if Instant::now() > deadline {
                let answer = http_get(self.nodes[node].http_port, "/healthz");
                return (false, format!("{answer:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last log lines of every node, for failure messages.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(Node::log_tail)
            .collect::<Vec<_>>()
            .join("\n")
    }
}
