//! Where backup sets live: a local folder or an S3 bucket (or any S3-compatible store).
//!
//! A set is one folder or key prefix named after its id. Objects are written
//! as streams: to a file (synced before the manifest is written), or to S3
//! with a multipart upload once an object outgrows one part.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::{
    Client,
    config::Credentials,
    error::ProvideErrorMetadata,
    primitives::ByteStream,
    types::{CompletedMultipartUpload, CompletedPart},
};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The size of one multipart-upload part (S3 needs at least 5 MiB for all but the last).
pub const PART_BYTES: usize = 8 * 1024 * 1024;

/// How objects are read back from a local folder.
const READ_CHUNK_BYTES: usize = 1024 * 1024;

/// How to reach an S3-compatible store; unset fields follow the standard AWS configuration
/// (environment, profile, instance role).
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    /// A custom endpoint such as `http://minio:9000` (MinIO, Ceph, R2).
    pub endpoint: Option<String>,
    /// The region; set explicitly when given.
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`); on by default with a custom endpoint.
    pub force_path_style: Option<bool>,
    /// Static credentials; `None` uses the standard credential chain.
    pub credentials: Option<(String, String)>,
}

/// A backup store.
#[derive(Debug, Clone)]
pub enum Storage {
    /// Sets are sub-folders of this folder.
    Local {
        /// The folder holding the sets.
        root: PathBuf,
    },
    /// Sets are key prefixes in a bucket.
    S3 {
        /// The S3 client.
        client: Client,
        /// The bucket.
        bucket: String,
        /// The key prefix of every set, empty or ending in `/`.
        prefix: String,
        /// Objects larger than this go up as a multipart upload of parts this size.
        part_bytes: usize,
    },
}

impl Storage {
    /// A local folder (created on the first backup).
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Storage::Local { root: root.into() }
    }

    /// A store from `BACKUP_URL`: a path, `file:///path` or `s3://bucket/prefix`.
    pub async fn from_url(url: &str, s3: &S3Settings) -> anyhow::Result<Self> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                anyhow::bail!("the backup URL {url:?} names no bucket (s3://BUCKET/PREFIX)");
            }
            Ok(Self::s3(s3_client(s3).await, bucket, prefix))
        } else if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                anyhow::bail!(
                    "a file:// backup URL needs an absolute path, e.g. file:///var/backups"
                );
            }
            Ok(Self::local(path))
        } else if url.contains("://") {
            anyhow::bail!(
                "the backup URL {url:?} is neither a path, file:///PATH nor s3://BUCKET/PREFIX"
            )
        } else {
            Ok(Self::local(url))
        }
    }

    /// A bucket and key prefix, through `client`.
    pub fn s3(client: Client, bucket: &str, prefix: &str) -> Self {
        let prefix = prefix.trim_matches('/');
        Storage::S3 {
            client,
            bucket: bucket.to_owned(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            part_bytes: PART_BYTES,
        }
    }

    /// The store as a URL, for people and the manifest listing.
    pub fn describe(&self) -> String {
        match self {
            Storage::Local { root } => root.display().to_string(),
            Storage::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
        }
    }

    /// Where a set's object is, as a URL or path.
    pub fn object_location(&self, set: &str, name: &str) -> String {
        match self {
            Storage::Local { root } => root.join(set).join(name).display().to_string(),
            Storage::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}{set}/{name}"),
        }
    }

    /// Starts writing one object of a set.
    pub async fn create(&self, set: &str, name: &str) -> anyhow::Result<ObjectUpload> {
        match self {
            Storage::Local { root } => {
                let folder = root.join(set);
                tokio::fs::create_dir_all(&folder)
                    .await
                    .with_context(|| format!("cannot create {}", folder.display()))?;
                let path = folder.join(name);
                let file = tokio::fs::File::create(&path)
                    .await
                    .with_context(|| format!("cannot create {}", path.display()))?;
                Ok(ObjectUpload::Local { file, path })
            }
            Storage::S3 {
                client,
                bucket,
                prefix,
                part_bytes,
            } => Ok(ObjectUpload::S3 {
                client: client.clone(),
                bucket: bucket.clone(),
                key: format!("{prefix}{set}/{name}"),
                buffer: BytesMut::new(),
                part_bytes: *part_bytes,
                upload_id: None,
                parts: Vec::new(),
            }),
        }
    }

    /// Writes a small object in one piece; on a local folder it appears atomically.
    pub async fn put_small(&self, set: &str, name: &str, body: Vec<u8>) -> anyhow::Result<()> {
        match self {
            Storage::Local { root } => {
                let folder = root.join(set);
                let temporary = folder.join(format!(".{name}.partial"));
                let path = folder.join(name);
                write_synced(&temporary, &body).await?;
                tokio::fs::rename(&temporary, &path)
                    .await
                    .with_context(|| format!("cannot rename {}", temporary.display()))?;
                sync_folder(&folder).await
            }
            Storage::S3 {
                client,
                bucket,
                prefix,
                ..
            } => {
                let key = format!("{prefix}{set}/{name}");
                client
                    .put_object()
                    .bucket(bucket)
                    .key(&key)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map_err(|err| s3_error(err, &format!("writing s3://{bucket}/{key}")))?;
                Ok(())
            }
        }
    }

    /// Reads a small object whole; `None` when it does not exist.
    pub async fn get_small(&self, set: &str, name: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let Some(mut object) = self.open(set, name).await? else {
            return Ok(None);
        };
        let mut body = Vec::new();
        while let Some(chunk) = object.next_chunk().await? {
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }

    /// Opens an object for reading; `None` when it does not exist.
    pub async fn open(&self, set: &str, name: &str) -> anyhow::Result<Option<ObjectRead>> {
        match self {
            Storage::Local { root } => {
                let path = root.join(set).join(name);
                match tokio::fs::File::open(&path).await {
                    Ok(file) => Ok(Some(ObjectRead::Local(file))),
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(err) => {
                        Err(anyhow!(err).context(format!("cannot open {}", path.display())))
                    }
                }
            }
            Storage::S3 {
                client,
                bucket,
                prefix,
                ..
            } => {
                let key = format!("{prefix}{set}/{name}");
                match client.get_object().bucket(bucket).key(&key).send().await {
                    Ok(output) => Ok(Some(ObjectRead::S3(output.body))),
                    Err(err) if matches!(err.code(), Some("NoSuchKey" | "NotFound")) => Ok(None),
                    Err(err) => Err(s3_error(err, &format!("reading s3://{bucket}/{key}"))),
                }
            }
        }
    }

    /// The ids of every set folder or prefix, complete or not, in no order.
    pub async fn list_sets(&self) -> anyhow::Result<Vec<String>> {
        match self {
            Storage::Local { root } => {
                let mut entries = match tokio::fs::read_dir(root).await {
                    Ok(entries) => entries,
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                        return Ok(Vec::new());
                    }
                    Err(err) => {
                        return Err(anyhow!(err).context(format!("cannot list {}", root.display())));
                    }
                };
                let mut ids = Vec::new();
                while let Some(entry) = entries
                    .next_entry()
                    .await
                    .with_context(|| format!("cannot list {}", root.display()))?
                {
                    if entry.file_type().await.is_ok_and(|t| t.is_dir()) {
                        ids.push(entry.file_name().to_string_lossy().into_owned());
                    }
                }
                Ok(ids)
            }
            Storage::S3 {
                client,
                bucket,
                prefix,
                ..
            } => {
                let mut pages = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix.as_str())
                    .delimiter("/")
                    .into_paginator()
                    .send();
                let mut ids = Vec::new();
                while let Some(page) = pages.next().await {
                    let page = page
                        .map_err(|err| s3_error(err, &format!("listing s3://{bucket}/{prefix}")))?;
                    for common in page.common_prefixes() {
                        if let Some(id) = common
                            .prefix()
                            .and_then(|p| p.strip_prefix(prefix.as_str()))
                            .map(|p| p.trim_end_matches('/'))
                        {
                            ids.push(id.to_owned());
                        }
                    }
                }
                Ok(ids)
            }
        }
    }

    /// Deletes a set and everything in it.
    pub async fn delete_set(&self, set: &str) -> anyhow::Result<()> {
        match self {
            Storage::Local { root } => {
                let folder = root.join(set);
                match tokio::fs::remove_dir_all(&folder).await {
                    Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                        Err(anyhow!(err).context(format!("cannot delete {}", folder.display())))
                    }
                    _ => Ok(()),
                }
            }
            Storage::S3 {
                client,
                bucket,
                prefix,
                ..
            } => {
                let set_prefix = format!("{prefix}{set}/");
                let mut pages = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(&set_prefix)
                    .into_paginator()
                    .send();
                let mut keys = Vec::new();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|err| {
                        s3_error(err, &format!("listing s3://{bucket}/{set_prefix}"))
                    })?;
                    keys.extend(
                        page.contents()
                            .iter()
                            .filter_map(|o| o.key().map(str::to_owned)),
                    );
                }
                // The manifest goes first, so a half-deleted set is never listed as complete.
                keys.sort_by_key(|key| !key.ends_with("/manifest.json"));
                for key in keys {
                    client
                        .delete_object()
                        .bucket(bucket)
                        .key(&key)
                        .send()
                        .await
                        .map_err(|err| s3_error(err, &format!("deleting s3://{bucket}/{key}")))?;
                }
                Ok(())
            }
        }
    }
}

/// An object being written.
pub enum ObjectUpload {
    /// A file in the set's folder.
    Local {
        /// The open file.
        file: tokio::fs::File,
        /// Its path, for messages.
        path: PathBuf,
    },
    /// An S3 object: one PUT when small, a multipart upload otherwise.
    S3 {
        /// The client.
        client: Client,
        /// The bucket.
        bucket: String,
        /// The object's key.
        key: String,
        /// Bytes not yet sent.
        buffer: BytesMut,
        /// The part size.
        part_bytes: usize,
        /// The multipart upload, once started.
        upload_id: Option<String>,
        /// The parts sent so far.
        parts: Vec<CompletedPart>,
    },
}

impl ObjectUpload {
    /// Appends bytes to the object.
    pub async fn write(&mut self, chunk: Bytes) -> anyhow::Result<()> {
        match self {
            ObjectUpload::Local { file, path } => file
                .write_all(&chunk)
                .await
                .with_context(|| format!("cannot write {}", path.display())),
            ObjectUpload::S3 { buffer, .. } => {
                buffer.extend_from_slice(&chunk);
                while self.full_part_waiting() {
                    self.send_part().await?;
                }
                Ok(())
            }
        }
    }

    fn full_part_waiting(&self) -> bool {
        matches!(self, ObjectUpload::S3 { buffer, part_bytes, .. } if buffer.len() >= *part_bytes)
    }

    async fn send_part(&mut self) -> anyhow::Result<()> {
        let ObjectUpload::S3 {
            client,
            bucket,
            key,
            buffer,
            part_bytes,
            upload_id,
            parts,
        } = self
        else {
            return Ok(());
        };
        let id = match upload_id {
            Some(id) => id.clone(),
            None => {
                let created = client
                    .create_multipart_upload()
                    .bucket(bucket.as_str())
                    .key(key.as_str())
                    .send()
                    .await
                    .map_err(|err| {
                        s3_error(err, &format!("starting upload of s3://{bucket}/{key}"))
                    })?;
                let id = created
                    .upload_id()
                    .ok_or_else(|| anyhow!("S3 returned no upload id for s3://{bucket}/{key}"))?
                    .to_owned();
                *upload_id = Some(id.clone());
                id
            }
        };
        let number = parts.len() as i32 + 1;
        let size = (*part_bytes).min(buffer.len());
        let body = buffer.split_to(size).freeze();
        let sent = client
            .upload_part()
            .bucket(bucket.as_str())
            .key(key.as_str())
            .upload_id(&id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|err| {
                s3_error(
                    err,
                    &format!("uploading part {number} of s3://{bucket}/{key}"),
                )
            })?;
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(sent.e_tag().map(str::to_owned))
                .build(),
        );
        Ok(())
    }

    /// Completes the object: the file is synced, the upload completed.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        match &mut self {
            ObjectUpload::Local { file, path } => file
                .flush()
                .await
                .and(file.sync_all().await)
                .with_context(|| format!("cannot write {}", path.display())),
            ObjectUpload::S3 {
                client,
                bucket,
                key,
                buffer,
                upload_id,
                ..
            } => {
                if upload_id.is_none() {
                    let body = buffer.split().freeze();
                    client
                        .put_object()
                        .bucket(bucket.as_str())
                        .key(key.as_str())
                        .body(ByteStream::from(body))
                        .send()
                        .await
                        .map_err(|err| s3_error(err, &format!("writing s3://{bucket}/{key}")))?;
                    return Ok(());
                }
                if !buffer.is_empty() {
                    self.send_part().await?;
                }
                let ObjectUpload::S3 {
                    client,
                    bucket,
                    key,
                    upload_id: Some(id),
                    parts,
                    ..
                } = self
                else {
                    return Ok(());
                };
                client
                    .complete_multipart_upload()
                    .bucket(&bucket)
                    .key(&key)
                    .upload_id(&id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|err| s3_error(err, &format!("completing s3://{bucket}/{key}")))?;
                Ok(())
            }
        }
    }

    /// Gives up on the object: an unfinished multipart upload is aborted (best effort).
    pub async fn abort(self) {
        if let ObjectUpload::S3 {
            client,
            bucket,
            key,
            upload_id: Some(id),
            ..
        } = self
            && let Err(err) = client
                .abort_multipart_upload()
                .bucket(&bucket)
                .key(&key)
                .upload_id(&id)
                .send()
                .await
        {
            tracing::warn!(error = %err, bucket, key, "aborting a multipart upload failed");
        }
    }
}

/// An object being read.
pub enum ObjectRead {
    /// A local file.
    Local(tokio::fs::File),
    /// An S3 response body.
    S3(ByteStream),
}

impl ObjectRead {
    /// The next piece of the object; `None` at its end.
    pub async fn next_chunk(&mut self) -> anyhow::Result<Option<Bytes>> {
        match self {
            ObjectRead::Local(file) => {
                let mut chunk = BytesMut::with_capacity(READ_CHUNK_BYTES);
                let read = file
                    .read_buf(&mut chunk)
                    .await
                    .context("reading a backup object failed")?;
                Ok((read > 0).then(|| chunk.freeze()))
            }
            ObjectRead::S3(body) => body
                .try_next()
                .await
                .context("reading a backup object from S3 failed"),
        }
    }
}

/// An S3 client configured from `settings` and the standard AWS configuration.
pub async fn s3_client(settings: &S3Settings) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    let region_in_environment = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.is_empty()));
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    } else if settings.endpoint.is_some() && !region_in_environment {
        // S3-compatible stores ignore the region, and looking it up would wait
        // for the cloud metadata service to time out.
        loader = loader.region(Region::from_static("us-east-1"));
    }
    if let Some((key, secret)) = &settings.credentials {
        loader =
            loader.credentials_provider(Credentials::new(key, secret, None, None, "configured"));
    }
    let shared = loader.load().await;
    let mut config = aws_sdk_s3::config::Builder::from(&shared);
    if let Some(endpoint) = &settings.endpoint {
        config = config.endpoint_url(endpoint);
    }
    config = config.force_path_style(
        settings
            .force_path_style
            .unwrap_or(settings.endpoint.is_some()),
    );
    Client::from_conf(config.build())
}

/// An S3 failure with what was being done and S3's own error code, when it sent one.
fn s3_error<E>(err: aws_sdk_s3::error::SdkError<E>, doing: &str) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let message = err.message().map(str::to_owned);
    let cause = aws_sdk_s3::error::DisplayErrorContext(&err).to_string();
    match (code, message) {
        (Some(code), Some(message)) => anyhow!("{doing} failed: {code}: {message}"),
        (Some(code), None) => anyhow!("{doing} failed: {code}"),
        _ => anyhow!("{doing} failed: {cause}"),
    }
}

async fn write_synced(path: &Path, body: &[u8]) -> anyhow::Result<()> {
    let mut file = tokio::fs::File::create(path)
        .await
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(body)
        .await
        .and(file.sync_all().await)
        .with_context(|| format!("cannot write {}", path.display()))
}

async fn sync_folder(folder: &Path) -> anyhow::Result<()> {
    let folder = folder.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(&folder).and_then(|f| f.sync_all()))
        .await
        .context("syncing the backup folder failed")?
        .context("syncing the backup folder failed")
}
