//! The building blocks of scenarios: starting a request (principal, verb,
//! resource, URI), bodies, failures, and emitting its audit events with
//! their timing.

use std::io;

use rand::Rng;

use super::Gen;
use crate::body::Template;
use crate::event::{Level, Stage};
use crate::json::{ts, uuid_into};
use crate::model::resources::*;
use crate::model::{Flavor, Kind, Node, Principal, Workload};

/// Appends `v` in decimal.
pub(super) fn push_u64(s: &mut String, v: u64) {
    let mut b = Vec::with_capacity(20);
    crate::json::uint(&mut b, v);
    s.push_str(std::str::from_utf8(&b).unwrap());
}

impl Gen<'_> {
    /// A new, larger resourceVersion.
    pub(super) fn next_rv(&mut self) -> u64 {
        self.rv += self.rng.random_range(1..40);
        self.rv
    }

    /// A timestamp as the API server writes it.
    pub(super) fn ts_string(&mut self, us: i64, frac: u32) -> String {
        self.scratch.clear();
        ts(&mut self.scratch, us, frac);
        String::from_utf8(self.scratch.clone()).unwrap()
    }

    /// Starts a resource request: fills in the event and a default URI.
    pub fn start(
        &mut self,
        p: &'static Principal,
        verb: &'static str,
        res: &'static Res,
        ns: &'static str,
        name: &str,
        sub: &'static str,
    ) {
        let ev = &mut self.ev;
        ev.flavor = self.cur;
        ev.level = Level::Metadata;
        ev.stage = Stage::ResponseComplete;
        ev.verb = verb;
        ev.user = p;
        ev.ip = p.ip;
        ev.ua = p.ua;
        ev.res = Some(res);
        ev.namespace = if res.namespaced { ns } else { "" };
        ev.name.clear();
        ev.name.push_str(name);
        ev.sub = sub;
        ev.code = if verb == "create" { 201 } else { 200 };
        ev.fail_msg.clear();
        ev.req = None;
        ev.resp = None;
        ev.obj_uid.clear();
        ev.created.clear();
        ev.rv.clear();
        ev.node = "";
        ev.aux.clear();
        ev.allow = true;
        ev.reason = p.reason;
        ev.psa = None;
        ev.webhook = false;
        ev.pair = false;
        ev.recv_us = self.clock;
        self.clock += self.rng.random_range(1..=2 * self.step);
        self.build_path();
        match verb {
            "list" => self.ev.uri.push_str("?limit=500&resourceVersion=0"),
            "watch" => self.watch_query(None),
            _ => {}
        }
    }

    /// Starts a non-resource request (`/readyz`, `/api`, `/metrics`).
    pub fn start_nonresource(&mut self, p: &'static Principal, path: &str) {
        self.start(p, "get", &PODS, "", "", "");
        self.ev.res = None;
        self.ev.uri.clear();
        self.ev.uri.push_str(path);
    }

    /// Sets the URI from the resource, namespace, name and subresource.
    pub(super) fn build_path(&mut self) {
        let ev = &mut self.ev;
        let res = ev.res.unwrap();
        ev.uri.clear();
        if res.group.is_empty() {
            ev.uri.push_str("/api/v1");
        } else {
            ev.uri.push_str("/apis/");
            ev.uri.push_str(res.group);
            ev.uri.push('/');
            ev.uri.push_str(res.version);
        }
        if !ev.namespace.is_empty() {
            ev.uri.push_str("/namespaces/");
            ev.uri.push_str(ev.namespace);
        }
        ev.uri.push('/');
        ev.uri.push_str(res.resource);
        // Creates POST to the collection; the name is only in the body.
        let post_to_collection = ev.verb == "create" && ev.sub.is_empty();
        if !ev.name.is_empty() && !post_to_collection {
            ev.uri.push('/');
            ev.uri.push_str(&ev.name);
        }
        if !ev.sub.is_empty() {
            ev.uri.push('/');
            ev.uri.push_str(ev.sub);
        }
    }

    /// Appends the query of a watch, optionally of one object.
    pub(super) fn watch_query(&mut self, field_name: Option<&str>) {
        let rv = self.next_rv() - self.rng.random_range(0..5000);
        let t = self.rng.random_range(300..600u64);
        let u = &mut self.ev.uri;
        u.push_str("?allowWatchBookmarks=true");
        if let Some(n_) = field_name {
            u.push_str("&fieldSelector=metadata.name%3D");
            u.push_str(n_);
        }
        u.push_str("&resourceVersion=");
        push_u64(u, rv);
        u.push_str("&timeout=");
        push_u64(u, t / 60);
        u.push('m');
        push_u64(u, t % 60);
        u.push_str("s&timeoutSeconds=");
        push_u64(u, t);
        u.push_str("&watch=true");
    }

    /// Makes the request fail with `code` and its message.
    pub(super) fn set_fail(&mut self, code: u16) {
        let ev = &mut self.ev;
        ev.code = code;
        ev.fail_msg.clear();
        let res = ev.res.map(|r| r.resource).unwrap_or("");
        let group = ev.res.map(|r| r.group).unwrap_or("");
        match code {
            403 => {
                ev.allow = false;
                let what = if ev.name.is_empty() {
                    res.to_string()
                } else {
                    format!("{res} \"{}\"", ev.name)
                };
                let scope = if ev.namespace.is_empty() {
                    "at the cluster scope".to_string()
                } else {
                    format!("in the namespace \"{}\"", ev.namespace)
                };
                let resource = if ev.sub.is_empty() {
                    res.to_string()
                } else {
                    format!("{res}/{}", ev.sub)
                };
                ev.fail_msg = format!(
                    "{what} is forbidden: User \"{}\" cannot {} resource \"{resource}\" in API group \"{group}\" {scope}",
                    ev.user.username, ev.verb
                );
            }
            404 => ev.fail_msg = format!("{res} \"{}\" not found", ev.name),
            409 => {
                let full = if group.is_empty() {
                    res.to_string()
                } else {
                    format!("{res}.{group}")
                };
                ev.fail_msg = format!(
                    "Operation cannot be fulfilled on {full} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                    ev.name
                );
            }
            _ => {
                ev.fail_msg = format!(
                "{res} \"{}\" is invalid: spec.template.spec.containers[0].image: Required value",
                ev.name
            )
            }
        }
    }

    /// How long the request takes (µs), by verb.
    pub(super) fn latency(&mut self) -> i64 {
        let base = match self.ev.verb {
            "get" => self.rng.random_range(300..2_500),
            "list" => self.rng.random_range(1_500..25_000),
            "watch" => self.rng.random_range(400..3_000),
            "create" | "update" | "patch" => self.rng.random_range(2_000..12_000),
            _ => self.rng.random_range(1_000..8_000),
        };
        // Keep timestamps of consecutive events close together at high
        // event rates.
        base.min(self.step * 20 + 800)
    }

    /// Emits the current request: a RequestReceived event if `ev.pair` is set
    /// (and the flavour logs stages), then the ResponseComplete event.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.done() {
            return Ok(());
        }
        let hi: u64 = self.rng.random();
        let lo: u64 = self.rng.random();
        uuid_into(&mut self.ev.audit_id, hi, lo);
        let lat = self.latency();
        if self.ev.recv_us < self.last_stage - 1_000_000 {
            self.ev.recv_us = self.last_stage;
        }
        if self.ev.pair && self.cur != Flavor::Gke {
            self.ev.stage = Stage::RequestReceived;
            self.ev.stage_us = self.ev.recv_us.max(self.last_stage);
            self.last_stage = self.ev.stage_us;
            self.stats.events += 1;
            self.sink.put(&self.ev)?;
            if self.done() {
                return Ok(());
            }
        }
        self.ev.stage = Stage::ResponseComplete;
        self.ev.stage_us = (self.ev.recv_us + lat).max(self.last_stage + 1);
        self.last_stage = self.ev.stage_us;
        self.stats.events += 1;
        if self.ev.request_object().is_some() || self.ev.response_object().is_some() {
            self.stats.with_body += 1;
        }
        if self.ev.res.map(|r| r.resource) == Some("serviceaccounts")
            && self.ev.sub == "token"
            && self.ev.verb == "create"
        {
            self.stats.token_requests += 1;
        }
        if self.ev.code == 403 {
            self.stats.forbidden += 1;
        }
        if self.ev.user.kind == Kind::Human {
            self.stats.human_requests += 1;
        }
        self.sink.put(&self.ev)
    }

    /// A random element.
    pub(super) fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.rng.random_range(0..v.len())]
    }

    /// A random uid for the object of the request.
    pub(super) fn set_uid(&mut self) {
        let mut b = [0u8; 36];
        uuid_into(&mut b, self.rng.random(), self.rng.random());
        self.ev.obj_uid.clear();
        self.ev.obj_uid.push_str(std::str::from_utf8(&b).unwrap());
    }

    /// Fills in the values of the bodies' holes: uid, resourceVersion, creation time.
    pub(super) fn set_body_args(&mut self) {
        self.set_uid();
        let rv = self.next_rv();
        self.ev.rv.clear();
        push_u64(&mut self.ev.rv, rv);
        let c = self.ts_string(self.ev.recv_us, 0);
        self.ev.created = c;
    }

    /// With probability `p_response`, logs the request at level
    /// RequestResponse with both bodies; else with probability `p_request`
    /// at level Request (when there is a request body); else leaves it at
    /// Metadata.
    pub(super) fn body(
        &mut self,
        req: Option<&'static Template>,
        resp: Option<&'static Template>,
        p_request: f64,
        p_response: f64,
    ) {
        let r: f64 = self.rng.random();
        if r < p_response && (req.is_some() || resp.is_some()) {
            self.ev.level = Level::RequestResponse;
        } else if r < p_response + p_request && req.is_some() {
            self.ev.level = Level::Request;
        } else {
            return;
        }
        self.ev.req = req;
        self.ev.resp = resp;
        self.set_body_args();
    }

    /// A random node of the current cluster.
    pub(super) fn random_node(&mut self) -> &'static Node {
        let c = self.cluster();
        &c.nodes[self.rng.random_range(0..c.nodes.len())]
    }

    /// A random workload of a user (not kube-system).
    pub(super) fn random_user_workload(&mut self) -> &'static Workload {
        let c = self.cluster();
        loop {
            let w = &c.workloads[self.rng.random_range(0..c.workloads.len())];
            if !w.system {
                return w;
            }
        }
    }

    /// A random workload.
    pub(super) fn random_workload(&mut self) -> &'static Workload {
        let c = self.cluster();
        &c.workloads[self.rng.random_range(0..c.workloads.len())]
    }
}
