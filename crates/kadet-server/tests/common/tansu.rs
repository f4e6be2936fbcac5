//! A real Kafka-protocol broker for the tests: tansu (crates.io, Apache-2.0,
//! `cargo install tansu --features dynostore,libsql`; `.ci/run` installs
//! it), in memory, on a free loopback port, stopped when dropped.

use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A running tansu broker.
pub struct Tansu {
    child: Child,
    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub broker: String,
}

impl Tansu {
    /// Starts the broker and waits until it accepts connections.
    pub fn start() -> Tansu {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let bin = std::env::var("KADET_TANSU").unwrap_or_else(|_| "tansu".into());
        let child = std::process::Command::new(&bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{bin}: {e} (cargo install tansu --features dynostore,libsql; .ci/run installs it)")
            });
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Tansu {
            child,
            broker: format!("127.0.0.1:{port}"),
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
