//! An S3-compatible server run inside the test process (s3s over a temp
//! folder), with switches for the faults tests need: writes held until
//! released, and writes refused after a number of them.

#![allow(dead_code)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use hiring_analytics::service::backup::{S3Settings, Storage, storage::s3_client};
use hyper::{Method, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto::Builder,
};
use tokio::{net::TcpListener, sync::Notify};

pub const ACCESS_KEY: &str = "test-access-key";
pub const SECRET_KEY: &str = "test-secret-key-0123456789";
pub const BUCKET: &str = "backups";

/// The switches a test flips.
#[derive(Default)]
pub struct Control {
    /// Writes (PUT, POST, DELETE) wait while this is set.
    hold_writes: AtomicBool,
    released: Notify,
    /// Signalled when a write arrives while writes are held.
    pub write_held: Notify,
    /// Writes still allowed before every further one is refused; negative: no limit.
    writes_left: AtomicI64,
    /// Parts received by multipart uploads.
    pub parts: AtomicU64,
}

pub struct S3Server {
    pub endpoint: String,
    pub root: tempfile::TempDir,
    pub control: Arc<Control>,
    task: tokio::task::JoinHandle<()>,
}

impl S3Server {
    /// Starts a server on 127.0.0.1 with one empty bucket, [`BUCKET`].
    pub async fn start() -> S3Server {
        let root = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(root.path().join(BUCKET)).expect("bucket folder");
        let fs = s3s_fs::FileSystem::new(root.path())
            .map_err(|err| format!("{err:?}"))
            .expect("s3s-fs");
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let control = Arc::new(Control {
            writes_left: AtomicI64::new(-1),
            ..Control::default()
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::clone(&control);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let service = service.clone();
                let control = Arc::clone(&shared);
                tokio::spawn(async move {
                    let handler =
                        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let service = service.clone();
                            let control = Arc::clone(&control);
                            async move {
                                let write = request.method() != Method::GET
                                    && request.method() != Method::HEAD;
                                if write {
                                    while control.hold_writes.load(Ordering::SeqCst) {
                                        let released = control.released.notified();
                                        control.write_held.notify_waiters();
                                        control.write_held.notify_one();
                                        let _ = tokio::time::timeout(
                                            Duration::from_millis(50),
                                            released,
                                        )
                                        .await;
                                    }
                                    if control.writes_left.load(Ordering::SeqCst) == 0 {
                                        return Ok(refused());
                                    }
                                    let _ = control.writes_left.fetch_update(
                                        Ordering::SeqCst,
                                        Ordering::SeqCst,
                                        |left| (left > 0).then(|| left - 1),
                                    );
                                    if request
                                        .uri()
                                        .query()
                                        .is_some_and(|q| q.contains("partNumber="))
                                    {
                                        control.parts.fetch_add(1, Ordering::SeqCst);
                                    }
                                }
                                hyper::service::Service::call(&service, request).await
                            }
                        });
                    let _ = Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), handler)
                        .await;
                });
            }
        });
        S3Server {
            endpoint,
            root,
            control,
            task,
        }
    }

    /// A store on this server, under `prefix` in [`BUCKET`].
    pub async fn storage(&self, prefix: &str) -> Storage {
        let client = s3_client(&S3Settings {
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            force_path_style: Some(true),
            credentials: Some((ACCESS_KEY.into(), SECRET_KEY.into())),
        })
        .await;
        Storage::s3(client, BUCKET, prefix)
    }

    /// Holds every write until [`S3Server::release_writes`].
    pub fn hold_writes(&self) {
        self.control.hold_writes.store(true, Ordering::SeqCst);
    }

    /// Lets held writes go on.
    pub fn release_writes(&self) {
        self.control.hold_writes.store(false, Ordering::SeqCst);
        self.control.released.notify_waiters();
    }

    /// Waits until a write is being held.
    pub async fn wait_for_held_write(&self) {
        tokio::time::timeout(Duration::from_secs(30), self.control.write_held.notified())
            .await
            .expect("no write reached the S3 server");
    }

    /// Allows `n` more writes, then refuses every write with 403 AccessDenied.
    pub fn refuse_writes_after(&self, n: i64) {
        self.control.writes_left.store(n, Ordering::SeqCst);
    }

    /// The folder behind an object of a set.
    pub fn object_path(&self, prefix: &str, set: &str, name: &str) -> std::path::PathBuf {
        self.root
            .path()
            .join(BUCKET)
            .join(prefix)
            .join(set)
            .join(name)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn refused() -> s3s::HttpResponse {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <Error><Code>AccessDenied</Code><Message>injected by the test</Message></Error>";
    let mut response = hyper::Response::new(s3s::Body::from(body.to_owned()));
    *response.status_mut() = hyper::StatusCode::FORBIDDEN;
    response
        .headers_mut()
        .insert("content-type", "application/xml".parse().unwrap());
    response
}
