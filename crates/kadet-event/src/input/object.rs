//! Objects in S3, Google Cloud Storage and Azure Blob Storage, read as a
//! directory is: every object under a prefix, recursively, in key order,
//! streamed (nothing is downloaded to disk first), decompressed by magic
//! bytes, and listed in the background while the first objects are read.
//!
//! | argument | store |
//! |---|---|
//! | `s3://bucket/prefix` | Amazon S3, or an S3-compatible store (MinIO, Ceph) through `AWS_ENDPOINT_URL` |
//! | `gs://bucket/prefix` | Google Cloud Storage |
//! | `az://container/prefix` | Azure Blob Storage, the account from `AZURE_STORAGE_ACCOUNT_NAME` |
//! | `https://ACCOUNT.blob.core.windows.net/container/prefix` | Azure Blob Storage |
//!
//! Credentials and endpoints are read the standard way of each cloud, from
//! the environment, by the `object_store` crate (docs/sources.md lists the
//! variables): static keys, web and workload identity, instance metadata.
//! A prefix matches whole path segments; an argument that names one object
//! reads that object.

use super::key_time::{self, Span};
use super::{InputError, InputFile, Origin};
use crate::time::EventTime;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, ObjectStoreScheme};
use std::io::{self, Read};
use std::sync::{Arc, OnceLock};

/// True when `arg` names objects rather than a local path.
pub fn is_object_url(arg: &str) -> bool {
    [
        "s3://", "s3a://", "gs://", "az://", "azure://", "abfs://", "abfss://",
    ]
    .iter()
    .any(|p| arg.starts_with(p))
        || (arg.starts_with("https://") && arg.contains(".blob.core.windows.net/"))
}

/// The runtime object storage I/O runs on. kadet's readers are plain
/// threads; each blocks on it for a listing page or the next bytes.
fn runtime() -> io::Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kadet-objects")
        .enable_all()
        .build()?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// One object to read.
#[derive(Clone)]
pub struct ObjectInput {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    /// Its download, when started before it is opened.
    started: Arc<std::sync::Mutex<Option<FetchedAhead>>>,
}

impl std::fmt::Debug for ObjectInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.store, self.path)
    }
}

/// Chunks of an object fetched ahead of the reader (each at most what one
/// network read gives, typically 16 to 64 KiB): the download goes on while
/// the reader parses, with bounded memory.
const READ_AHEAD_CHUNKS: usize = 256;

impl ObjectInput {
    fn new(store: Arc<dyn ObjectStore>, path: ObjectPath) -> ObjectInput {
        ObjectInput {
            store,
            path,
            started: Arc::default(),
        }
    }

    /// Opens the object as a stream of its bytes, fetched ahead of the
    /// reader on the object runtime (from before it was opened, when the
    /// listing started it: [`Listing::next_object`]). A failed request is
    /// the stream's first error.
    pub fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        let started = self.started.lock().ok().and_then(|mut s| s.take());
        match started {
            Some(f) => Ok(Box::new(f)),
            None => Ok(Box::new(self.fetch()?)),
        }
    }

    /// Starts the download now, for [`ObjectInput::open`] to take.
    fn start(&self) {
        if let (Ok(f), Ok(mut slot)) = (self.fetch(), self.started.lock()) {
            *slot = Some(f);
        }
    }

    fn fetch(&self) -> io::Result<FetchedAhead> {
        use futures_util::StreamExt;
        let rt = runtime()?;
        let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD_CHUNKS);
        let (store, path) = (self.store.clone(), self.path.clone());
        rt.spawn(async move {
            let mut stream = match store.get(&path).await {
                Ok(got) => got.into_stream(),
                Err(e) => {
                    let _ = tx.send(Err(io::Error::other(e))).await;
                    return;
                }
            };
            while let Some(chunk) = stream.next().await {
                let failed = chunk.is_err();
                if tx.send(chunk.map_err(io::Error::other)).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(FetchedAhead {
            rx,
            current: bytes::Bytes::new(),
        })
    }
}

/// The reading end of an object fetched ahead.
struct FetchedAhead {
    rx: tokio::sync::mpsc::Receiver<io::Result<bytes::Bytes>>,
    current: bytes::Bytes,
}

impl Read for FetchedAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// The time window of a run (`--since`, `--until`): objects whose key
/// names a span outside it are not read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// Events before this are not wanted.
    pub since: Option<EventTime>,
    /// Events at or after this are not wanted.
    pub until: Option<EventTime>,
}

impl Window {
    fn wants(&self, key: &str) -> bool {
        key_time::span(key).is_none_or(|s: Span| s.overlaps(self.since, self.until))
    }
}

/// The store and the prefix an argument names.
fn open_store(arg: &str) -> Result<(Arc<dyn ObjectStore>, ObjectPath), String> {
    let url = url::Url::parse(arg).map_err(|e| format!("not a URL: {e}"))?;
    let (scheme, prefix) = ObjectStoreScheme::parse(&url).map_err(|e| e.to_string())?;
    let store: Arc<dyn ObjectStore> = match scheme {
        ObjectStoreScheme::AmazonS3 => Arc::new(
            AmazonS3Builder::from_env()
                .with_url(arg)
                .build()
                .map_err(|e| e.to_string())?,
        ),
        ObjectStoreScheme::GoogleCloudStorage => Arc::new(
            GoogleCloudStorageBuilder::from_env()
                .with_url(arg)
                .build()
                .map_err(|e| e.to_string())?,
        ),
        ObjectStoreScheme::MicrosoftAzure => Arc::new(
            MicrosoftAzureBuilder::from_env()
                .with_url(arg)
                .build()
                .map_err(|e| e.to_string())?,
        ),
        other => return Err(format!("{other:?} is not an object store kadet reads")),
    };
    Ok((store, prefix))
}

/// The objects under one URL, listed page by page in the background.
pub struct Listing {
    /// The URL up to the prefix: object names in locations are this plus
    /// their key.
    base: String,
    store: Arc<dyn ObjectStore>,
    first: Vec<ObjectMeta>,
    rest: Option<tokio::sync::mpsc::Receiver<Result<ObjectMeta, String>>>,
    /// The object after the one handed out last, its download started.
    ahead: Option<InputFile>,
    /// The listing's failure, met while looking ahead: told next.
    failed: Option<String>,
    window: Window,
    /// How many bytes of each key are the prefix the user gave (entries
    /// hidden below it are passed over, as a directory walk does).
    prefix_len: usize,
    arg: String,
}

impl std::fmt::Debug for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "listing of {}", self.arg)
    }
}

/// Lists the objects under `arg`. The first page is read now, so that a
/// wrong bucket, missing credentials or an empty prefix is an error at
/// once; the rest is listed while the first objects are read.
pub fn list(arg: &str, window: Window) -> Result<Listing, InputError> {
    let fail = |message: String| InputError::Object {
        url: arg.to_string(),
        message,
    };
    let rt = runtime().map_err(|e| fail(e.to_string()))?;
    let (store, prefix) = open_store(arg).map_err(fail)?;
    let mut objects = store.list((!prefix.as_ref().is_empty()).then_some(&prefix));
    let first = rt
        .block_on(objects.try_next())
        .map_err(|e| fail(e.to_string()))?;
    let first = match first {
        Some(m) => m,
        // A prefix matches whole segments: the argument may name one object.
        None => rt
            .block_on(store.head(&prefix))
            .map_err(|_| InputError::NoObjects {
                url: arg.to_string(),
            })?,
    };
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    rt.spawn(async move {
        while let Some(next) = objects.next().await {
            let stop = next.is_err();
            if tx.send(next.map_err(|e| e.to_string())).await.is_err() || stop {
                return;
            }
        }
    });
    Ok(Listing {
        base: base_of(arg, &prefix),
        store,
        first: vec![first],
        rest: Some(rx),
        ahead: None,
        failed: None,
        window,
        prefix_len: prefix.as_ref().len(),
        arg: arg.to_string(),
    })
}

/// The part of `arg` before the prefix, as written (percent-encoding
/// kept): an object's name in locations is this and its key.
fn base_of(arg: &str, prefix: &ObjectPath) -> String {
    let Ok(url) = url::Url::parse(arg) else {
        return format!("{}/", arg.trim_end_matches('/'));
    };
    let segments = match prefix.as_ref() {
        "" => 0,
        p => p.split('/').count(),
    };
    let path = url.path().trim_end_matches('/');
    let mut kept: Vec<&str> = path.split('/').collect();
    kept.truncate(kept.len().saturating_sub(segments));
    let host = url.host_str().unwrap_or("");
    format!("{}://{host}{}/", url.scheme(), kept.join("/"))
}

impl Listing {
    /// The next object to read, or where the listing failed (once). The
    /// object after it, when already listed, starts downloading now, so
    /// that reading goes from one object to the next without waiting for
    /// the store's first bytes.
    pub fn next_object(&mut self) -> Option<Result<InputFile, String>> {
        let next = match self.ahead.take() {
            Some(f) => Ok(f),
            None => self.next_wanted(true)?.map(|m| self.input(m)),
        };
        if next.is_ok() {
            if let Some(Ok(meta)) = self.next_wanted(false) {
                let f = self.input(meta);
                if let Origin::Object(o) = &f.origin {
                    o.start();
                }
                self.ahead = Some(f);
            }
        }
        Some(next)
    }

    /// The next object listed that the run wants; without `wait`, only one
    /// listed already (a failure met then is kept for the next call).
    fn next_wanted(&mut self, wait: bool) -> Option<Result<ObjectMeta, String>> {
        use tokio::sync::mpsc::error::TryRecvError;
        loop {
            let meta = match self.first.pop() {
                Some(m) => m,
                None if wait && self.failed.is_some() => return self.failed.take().map(Err),
                None => {
                    let rest = self.rest.as_mut()?;
                    let got = if wait {
                        rest.blocking_recv()
                    } else {
                        match rest.try_recv() {
                            Ok(got) => Some(got),
                            Err(TryRecvError::Empty) => return None,
                            Err(TryRecvError::Disconnected) => None,
                        }
                    };
                    match got {
                        Some(Ok(m)) => m,
                        Some(Err(e)) => {
                            self.rest = None;
                            let message = format!(
                                "listing {} failed part way, so the objects after this point were not read: {e}",
                                self.arg
                            );
                            if wait {
                                return Some(Err(message));
                            }
                            self.failed = Some(message);
                            return None;
                        }
                        None => {
                            self.rest = None;
                            return None;
                        }
                    }
                }
            };
            let key = meta.location.as_ref();
            let below = key.get(self.prefix_len..).unwrap_or("");
            let hidden = below.split('/').any(|s| s.starts_with('.'));
            if hidden || !self.window.wants(key) {
                continue;
            }
            return Some(Ok(meta));
        }
    }

    fn input(&self, meta: ObjectMeta) -> InputFile {
        InputFile {
            name: Arc::from(format!("{}{}", self.base, meta.location.as_ref())),
            origin: Origin::Object(ObjectInput::new(self.store.clone(), meta.location)),
            size: Some(meta.size),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listing of `objects` (key, content) in an in-memory store, whose
    /// listing task ends with `then` (a failure part way, or the end).
    fn listing_of(objects: &[(&str, &str)], then: Option<&str>) -> Listing {
        let rt = runtime().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let mut metas = Vec::new();
        for (key, text) in objects {
            let path = ObjectPath::from(*key);
            rt.block_on(store.put(&path, text.as_bytes().to_vec().into()))
                .unwrap();
            metas.push(rt.block_on(store.head(&path)).unwrap());
        }
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let first = vec![metas.remove(0)];
        for m in metas {
            tx.try_send(Ok(m)).unwrap();
        }
        if let Some(e) = then {
            tx.try_send(Err(e.to_string())).unwrap();
        }
        Listing {
            base: "s3://b/".into(),
            store,
            first,
            rest: Some(rx),
            ahead: None,
            failed: None,
            window: Window::default(),
            prefix_len: 0,
            arg: "s3://b/".into(),
        }
    }

    fn read(f: &InputFile) -> String {
        let Origin::Object(o) = &f.origin else {
            panic!("not an object")
        };
        let mut text = String::new();
        o.open().unwrap().read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn each_object_is_read_whole_with_the_next_fetched_ahead() {
        let objects = [
            ("a.jsonl", "1\n"),
            (".hidden/x", "no"),
            ("b.jsonl", "2\n"),
            ("c.jsonl", "3\n"),
        ];
        let mut l = listing_of(&objects, None);
        let first = l.next_object().unwrap().unwrap();
        assert_eq!(first.name.as_ref(), "s3://b/a.jsonl");
        let ahead = l.ahead.as_ref().map(|f| f.name.to_string());
        assert_eq!(ahead.as_deref(), Some("s3://b/b.jsonl"));
        assert_eq!(read(&first), "1\n");
        let texts: Vec<String> = std::iter::from_fn(|| l.next_object())
            .map(|f| read(&f.unwrap()))
            .collect();
        assert_eq!(texts, ["2\n", "3\n"]);
    }

    #[test]
    fn a_listing_that_fails_while_looking_ahead_says_so_after_the_objects_before() {
        let mut l = listing_of(&[("a.jsonl", "1\n"), ("b.jsonl", "2\n")], Some("throttled"));
        let names: Vec<Result<String, String>> = std::iter::from_fn(|| l.next_object())
            .map(|r| r.map(|f| f.name.to_string()))
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert_eq!(names[0].as_deref(), Ok("s3://b/a.jsonl"));
        assert_eq!(names[1].as_deref(), Ok("s3://b/b.jsonl"));
        let e = names[2].as_ref().unwrap_err();
        assert!(
            e.contains("failed part way") && e.contains("throttled"),
            "{e}"
        );
    }

    #[test]
    fn an_object_gone_before_it_is_read_is_an_error_on_reading() {
        let l = listing_of(&[("b.jsonl", "2\n"), ("a.jsonl", "1\n")], None);
        let rt = runtime().unwrap();
        rt.block_on(l.store.delete(&ObjectPath::from("b.jsonl")))
            .unwrap();
        let mut l = l;
        let gone = l.next_object().unwrap().unwrap();
        let Origin::Object(o) = &gone.origin else {
            panic!("not an object")
        };
        let e = o
            .open()
            .unwrap()
            .read_to_string(&mut String::new())
            .unwrap_err();
        assert!(e.to_string().to_lowercase().contains("not found"), "{e}");
        assert_eq!(read(&l.next_object().unwrap().unwrap()), "1\n");
    }

    #[test]
    fn object_urls_are_told_from_paths() {
        for url in [
            "s3://b/p",
            "gs://b",
            "az://c/p",
            "https://acct.blob.core.windows.net/c/p",
        ] {
            assert!(is_object_url(url), "{url}");
        }
        for path in ["./logs", "/var/log/x.log", "-", "https://example.com/x"] {
            assert!(!is_object_url(path), "{path}");
        }
    }

    #[test]
    fn names_keep_the_url_as_written_up_to_the_prefix() {
        let p = |s: &str| ObjectPath::from(s);
        assert_eq!(base_of("s3://b/logs/eks", &p("logs/eks")), "s3://b/");
        assert_eq!(base_of("s3://b/my%20logs/", &p("my logs")), "s3://b/");
        assert_eq!(base_of("gs://b", &p("")), "gs://b/");
        assert_eq!(
            base_of(
                "https://acct.blob.core.windows.net/insights/resourceId=/SUBS",
                &p("resourceId=/SUBS")
            ),
            "https://acct.blob.core.windows.net/insights/"
        );
    }

    #[test]
    fn a_bad_url_says_why() {
        let e = list("s3://", Window::default()).unwrap_err().to_string();
        assert!(e.starts_with("s3://:"), "{e}");
    }
}
