//! The S3 operations the benchmarked tools call, on the in-memory [`Store`]. Bodies are read
//! for their size and MD5 (the ETag, as S3 computes it) and dropped.

use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine;
use futures::StreamExt;
use hyper::body::Bytes;
use md5::{Digest, Md5};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use s3s::dto::{self, ETag, StreamingBlob, Timestamp};
use s3s::{s3_error, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, S3};

use crate::store::{Bucket, BucketError, Headers, Part, Store, Upload, Version, Versioning};

/// Most entries a listing returns, whatever max-keys asks.
const MAX_KEYS: usize = 1000;
/// S3's smallest part, but for the last.
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

pub struct BenchS3 {
    pub store: Arc<Store>,
}

type Locked<'a> = std::sync::MutexGuard<'a, Bucket>;

fn no_such_bucket() -> S3Error {
    s3_error!(NoSuchBucket, "The specified bucket does not exist")
}

fn bucket_error(e: BucketError) -> S3Error {
    match e {
        BucketError::NoSuchBucket => no_such_bucket(),
        BucketError::BucketNotEmpty => s3_error!(
            BucketNotEmpty,
            "The bucket you tried to delete is not empty. You must delete all versions in the bucket."
        ),
        BucketError::BucketAlreadyOwnedByYou => s3_error!(
            BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it."
        ),
    }
}

/// What `encoding-type=url` asks for: everything but unreserved characters and `/`
/// percent-encoded.
const KEY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

fn encoder(encoding: Option<&dto::EncodingType>) -> impl Fn(&str) -> String {
    let url = encoding.is_some_and(|e| e.as_str().eq_ignore_ascii_case("url"));
    move |s: &str| {
        if url {
            utf8_percent_encode(s, KEY_ENCODE).to_string()
        } else {
            s.to_string()
        }
    }
}

fn max_keys(asked: Option<i32>) -> usize {
    asked.map_or(MAX_KEYS, |n| (n.max(0) as usize).min(MAX_KEYS))
}

fn ts(t: SystemTime) -> Timestamp {
    Timestamp::from(t)
}

/// Size and MD5 of a request body, read to its end and dropped.
async fn digest(body: Option<StreamingBlob>) -> S3Result<([u8; 16], u64)> {
    let mut h = Md5::new();
    let mut size = 0u64;
    if let Some(mut body) = body {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| S3Error::with_source(S3ErrorCode::IncompleteBody, e))?;
            h.update(&chunk);
            size += chunk.len() as u64;
        }
    }
    Ok((h.finalize().into(), size))
}

/// Refuse a body whose Content-MD5 header does not match it, as S3 does.
fn check_content_md5(header: Option<&str>, md5: &[u8; 16]) -> S3Result<()> {
    let Some(header) = header else { return Ok(()) };
    let want = base64::engine::general_purpose::STANDARD
        .decode(header)
        .map_err(|_| s3_error!(InvalidDigest, "The Content-MD5 you specified was invalid."))?;
    if want != md5 {
        return Err(s3_error!(
            BadDigest,
            "The Content-MD5 you specified did not match what we received."
        ));
    }
    Ok(())
}

fn storage_class() -> dto::ObjectStorageClass {
    dto::ObjectStorageClass::from_static(dto::ObjectStorageClass::STANDARD)
}

fn version_id_out(b: &Bucket, id: &str) -> Option<String> {
    (b.versioning != Versioning::Off).then(|| id.to_string())
}

impl BenchS3 {
    fn bucket(&self, name: &str) -> S3Result<Arc<std::sync::Mutex<Bucket>>> {
        self.store.bucket(name).ok_or_else(no_such_bucket)
    }

    /// The version a read names: `version_id`, or the latest (an error if a delete marker).
    fn read_version<'a>(
        b: &'a Locked<'_>,
        key: &str,
        version_id: Option<&str>,
    ) -> S3Result<&'a Version> {
        match version_id {
            Some(id) => {
                let v = b.version(key, id).ok_or_else(|| {
                    s3_error!(NoSuchVersion, "The specified version does not exist.")
                })?;
                if v.delete_marker {
                    return Err(s3_error!(
                        MethodNotAllowed,
                        "The specified method is not allowed against this resource."
                    ));
                }
                Ok(v)
            }
            None => b
                .current(key)
                .ok_or_else(|| s3_error!(NoSuchKey, "The specified key does not exist.")),
        }
    }

    /// Store a new object version under the bucket's versioning; returns the version id
    /// to answer with (none when versioning was never on).
    fn write(
        &self,
        bucket: &str,
        key: &str,
        size: u64,
        etag: String,
        headers: Headers,
    ) -> S3Result<Option<String>> {
        let b = self.bucket(bucket)?;
        let mut b = b.lock().unwrap();
        let id = self.store.version_id(b.versioning);
        let out = version_id_out(&b, &id);
        b.put(
            key.to_string(),
            Version {
                id,
                delete_marker: false,
                size,
                etag,
                last_modified: SystemTime::now(),
                headers: Arc::new(headers),
            },
        );
        Ok(out)
    }
}

#[async_trait::async_trait]
impl S3 for BenchS3 {
    async fn create_bucket(
        &self,
        req: S3Request<dto::CreateBucketInput>,
    ) -> S3Result<S3Response<dto::CreateBucketOutput>> {
        let input = req.input;
        let region = input
            .create_bucket_configuration
            .and_then(|c| c.location_constraint)
            .map(|l| l.as_str().to_string())
            .filter(|l| !l.is_empty());
        self.store
            .create_bucket(&input.bucket, region)
            .map_err(bucket_error)?;
        Ok(S3Response::new(dto::CreateBucketOutput {
            location: Some(format!("/{}", input.bucket)),
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<dto::HeadBucketInput>,
    ) -> S3Result<S3Response<dto::HeadBucketOutput>> {
        let b = self.bucket(&req.input.bucket)?;
        let region = b.lock().unwrap().region.clone();
        Ok(S3Response::new(dto::HeadBucketOutput {
            bucket_region: Some(region.unwrap_or_else(|| "us-east-1".into())),
            ..Default::default()
        }))
    }

    async fn list_buckets(
        &self,
        _req: S3Request<dto::ListBucketsInput>,
    ) -> S3Result<S3Response<dto::ListBucketsOutput>> {
        let buckets = self
            .store
            .bucket_names()
            .into_iter()
            .map(|(name, created)| dto::Bucket {
                name: Some(name),
                creation_date: Some(ts(created)),
                bucket_region: None,
            })
            .collect();
        Ok(S3Response::new(dto::ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(dto::Owner {
                display_name: Some("bench".into()),
                id: Some("bench".into()),
            }),
            ..Default::default()
        }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<dto::GetBucketLocationInput>,
    ) -> S3Result<S3Response<dto::GetBucketLocationOutput>> {
        let b = self.bucket(&req.input.bucket)?;
        let region = b.lock().unwrap().region.clone();
        Ok(S3Response::new(dto::GetBucketLocationOutput {
            location_constraint: region.map(dto::BucketLocationConstraint::from),
        }))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<dto::DeleteBucketInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketOutput>> {
        self.store
            .delete_bucket(&req.input.bucket)
            .map_err(bucket_error)?;
        Ok(S3Response::new(dto::DeleteBucketOutput {}))
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<dto::PutBucketVersioningInput>,
    ) -> S3Result<S3Response<dto::PutBucketVersioningOutput>> {
        let input = req.input;
        let b = self.bucket(&input.bucket)?;
        let status = input.versioning_configuration.status;
        let mut b = b.lock().unwrap();
        match status.as_ref().map(|s| s.as_str()) {
            Some(dto::BucketVersioningStatus::ENABLED) => b.versioning = Versioning::Enabled,
            Some(dto::BucketVersioningStatus::SUSPENDED) => {
                if b.versioning != Versioning::Off {
                    b.versioning = Versioning::Suspended;
                }
            }
            _ => {
                return Err(s3_error!(
                    MalformedXML,
                    "Status must be Enabled or Suspended"
                ))
            }
        }
        Ok(S3Response::new(dto::PutBucketVersioningOutput {}))
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<dto::GetBucketVersioningInput>,
    ) -> S3Result<S3Response<dto::GetBucketVersioningOutput>> {
        let b = self.bucket(&req.input.bucket)?;
        let status = match b.lock().unwrap().versioning {
            Versioning::Off => None,
            Versioning::Enabled => Some(dto::BucketVersioningStatus::ENABLED),
            Versioning::Suspended => Some(dto::BucketVersioningStatus::SUSPENDED),
        };
        Ok(S3Response::new(dto::GetBucketVersioningOutput {
            status: status.map(dto::BucketVersioningStatus::from_static),
            mfa_delete: None,
        }))
    }

    async fn put_bucket_tagging(
        &self,
        req: S3Request<dto::PutBucketTaggingInput>,
    ) -> S3Result<S3Response<dto::PutBucketTaggingOutput>> {
        let input = req.input;
        let b = self.bucket(&input.bucket)?;
        let tags = input
            .tagging
            .tag_set
            .into_iter()
            .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
            .collect();
        b.lock().unwrap().tags = Some(tags);
        Ok(S3Response::new(dto::PutBucketTaggingOutput {}))
    }

    async fn get_bucket_tagging(
        &self,
        req: S3Request<dto::GetBucketTaggingInput>,
    ) -> S3Result<S3Response<dto::GetBucketTaggingOutput>> {
        let b = self.bucket(&req.input.bucket)?;
        let tags = b.lock().unwrap().tags.clone();
        let tags = tags.ok_or_else(|| s3_error!(NoSuchTagSet, "The TagSet does not exist"))?;
        Ok(S3Response::new(dto::GetBucketTaggingOutput {
            tag_set: tags
                .into_iter()
                .map(|(k, v)| dto::Tag {
                    key: Some(k),
                    value: Some(v),
                })
                .collect(),
        }))
    }

    async fn delete_bucket_tagging(
        &self,
        req: S3Request<dto::DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketTaggingOutput>> {
        let b = self.bucket(&req.input.bucket)?;
        b.lock().unwrap().tags = None;
        Ok(S3Response::new(dto::DeleteBucketTaggingOutput {}))
    }

    /// Stored and never enforced: every request is allowed.
    async fn put_bucket_policy(
        &self,
        req: S3Request<dto::PutBucketPolicyInput>,
    ) -> S3Result<S3Response<dto::PutBucketPolicyOutput>> {
        let input = req.input;
        let b = self.bucket(&input.bucket)?;
        b.lock().unwrap().policy = Some(input.policy);
        Ok(S3Response::new(dto::PutBucketPolicyOutput {}))
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<dto::GetBucketPolicyInput>,
    ) -> S3Result<S3Response<dto::GetBucketPolicyOutput>> {
        let b = self.bucket(&req.input.bucket)?;
        let policy = b.lock().unwrap().policy.clone();
        let policy = policy
            .ok_or_else(|| s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist"))?;
        Ok(S3Response::new(dto::GetBucketPolicyOutput {
            policy: Some(policy),
        }))
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<dto::DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketPolicyOutput>> {
        let b = self.bucket(&req.input.bucket)?;
        b.lock().unwrap().policy = None;
        Ok(S3Response::new(dto::DeleteBucketPolicyOutput {}))
    }

    async fn put_object(
        &self,
        req: S3Request<dto::PutObjectInput>,
    ) -> S3Result<S3Response<dto::PutObjectOutput>> {
        let input = req.input;
        self.bucket(&input.bucket)?;
        let (md5, size) = digest(input.body).await?;
        self.store.count_upload(size);
        check_content_md5(input.content_md5.as_deref(), &md5)?;
        let etag = hex::encode(md5);
        let headers = Headers {
            content_type: input.content_type,
            cache_control: input.cache_control,
            content_encoding: input.content_encoding,
            content_disposition: input.content_disposition,
            content_language: input.content_language,
            metadata: input.metadata,
        };
        let version_id = self.write(&input.bucket, &input.key, size, etag.clone(), headers)?;
        Ok(S3Response::new(dto::PutObjectOutput {
            e_tag: Some(ETag::Strong(etag)),
            version_id,
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<dto::HeadObjectInput>,
    ) -> S3Result<S3Response<dto::HeadObjectOutput>> {
        let input = req.input;
        let b = self.bucket(&input.bucket)?;
        let b = b.lock().unwrap();
        let v = Self::read_version(&b, &input.key, input.version_id.as_deref())?;
        let h = &v.headers;
        Ok(S3Response::new(dto::HeadObjectOutput {
            accept_ranges: Some("bytes".into()),
            content_length: Some(v.size as i64),
            e_tag: Some(ETag::Strong(v.etag.clone())),
            last_modified: Some(ts(v.last_modified)),
            content_type: h.content_type.clone(),
            cache_control: h.cache_control.clone(),
            content_encoding: h.content_encoding.clone(),
            content_disposition: h.content_disposition.clone(),
            content_language: h.content_language.clone(),
            metadata: h.metadata.clone(),
            version_id: version_id_out(&b, &v.id),
            ..Default::default()
        }))
    }

    /// The object's size in zero bytes (its bytes are not kept).
    async fn get_object(
        &self,
        req: S3Request<dto::GetObjectInput>,
    ) -> S3Result<S3Response<dto::GetObjectOutput>> {
        let input = req.input;
        let b = self.bucket(&input.bucket)?;
        let (v, version_id) = {
            let b = b.lock().unwrap();
            let v = Self::read_version(&b, &input.key, input.version_id.as_deref())?.clone();
            let id = version_id_out(&b, &v.id);
            (v, id)
        };
        let (len, content_range) = match &input.range {
            None => (v.size, None),
            Some(r) => {
                let r = r.check(v.size).map_err(|_| {
                    s3_error!(InvalidRange, "The requested range is not satisfiable")
                })?;
                (
                    r.end - r.start,
                    Some(format!(
                        "bytes {}-{}/{}",
                        r.start,
                        r.end.saturating_sub(1),
                        v.size
                    )),
                )
            }
        };
        static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
        let chunks = (0..len.div_ceil(ZEROS.len() as u64)).map(move |i| {
            let n = (len - i * ZEROS.len() as u64).min(ZEROS.len() as u64) as usize;
            Ok::<_, std::io::Error>(Bytes::from_static(&ZEROS[..n]))
        });
        let h = &v.headers;
        Ok(S3Response::new(dto::GetObjectOutput {
            body: Some(StreamingBlob::wrap(futures::stream::iter(chunks))),
            accept_ranges: Some("bytes".into()),
            content_length: Some(len as i64),
            content_range,
            e_tag: Some(ETag::Strong(v.etag.clone())),
            last_modified: Some(ts(v.last_modified)),
            content_type: h.content_type.clone(),
            cache_control: h.cache_control.clone(),
            content_encoding: h.content_encoding.clone(),
            content_disposition: h.content_disposition.clone(),
            content_language: h.content_language.clone(),
            metadata: h.metadata.clone(),
            version_id,
            ..Default::default()
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<dto::CopyObjectInput>,
    ) -> S3Result<S3Response<dto::CopyObjectOutput>> {
        let input = req.input;
        let dto::CopySource::Bucket {
            bucket: src_bucket,
            key: src_key,
            version_id: src_version,
        } = &input.copy_source
        else {
            return Err(s3_error!(NotImplemented, "only bucket copy sources"));
        };
        let src = {
            let b = self.bucket(src_bucket)?;
            let b = b.lock().unwrap();
            let v = Self::read_version(&b, src_key, src_version.as_deref())?.clone();
            let id = version_id_out(&b, &v.id);
            (v, id)
        };
        let (v, copy_source_version_id) = src;
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == dto::MetadataDirective::REPLACE);
        if !replace && **src_bucket == *input.bucket && **src_key == *input.key {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself \
                 without changing the object's metadata, storage class, website redirect \
                 location or encryption attributes."
            ));
        }
        let headers = if replace {
            Headers {
                content_type: input.content_type,
                cache_control: input.cache_control,
                content_encoding: input.content_encoding,
                content_disposition: input.content_disposition,
                content_language: input.content_language,
                metadata: input.metadata,
            }
        } else {
            (*v.headers).clone()
        };
        let version_id = self.write(&input.bucket, &input.key, v.size, v.etag.clone(), headers)?;
        Ok(S3Response::new(dto::CopyObjectOutput {
            copy_object_result: Some(dto::CopyObjectResult {
                e_tag: Some(ETag::Strong(v.etag)),
                last_modified: Some(ts(SystemTime::now())),
                ..Default::default()
            }),
            copy_source_version_id,
            version_id,
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<dto::DeleteObjectInput>,
    ) -> S3Result<S3Response<dto::DeleteObjectOutput>> {
        let input = req.input;
        let b = self.bucket(&input.bucket)?;
        let mut b = b.lock().unwrap();
        let marker = self.store.version_id(b.versioning);
        let d = b.delete(&input.key, input.version_id.as_deref(), marker);
        Ok(S3Response::new(dto::DeleteObjectOutput {
            delete_marker: d.delete_marker.then_some(true),
            version_id: d.version_id,
            ..Default::default()
        }))
    }

    async fn delete_objects(
        &self,
        req: S3Request<dto::DeleteObjectsInput>,
    ) -> S3Result<S3Response<dto::DeleteObjectsOutput>> {
        let input = req.input;
        if input.delete.objects.len() > MAX_KEYS {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
        let quiet = input.delete.quiet.unwrap_or(false);
        let b = self.bucket(&input.bucket)?;
        let mut b = b.lock().unwrap();
        let mut deleted = Vec::new();
        for o in input.delete.objects {
            let marker = self.store.version_id(b.versioning);
            let d = b.delete(&o.key, o.version_id.as_deref(), marker);
            if !quiet {
                let made_marker = o.version_id.is_none() && d.delete_marker;
                deleted.push(dto::DeletedObject {
                    key: Some(o.key),
                    version_id: o.version_id,
                    delete_marker: d.delete_marker.then_some(true),
                    delete_marker_version_id: made_marker.then_some(d.version_id).flatten(),
                });
            }
        }
        Ok(S3Response::new(dto::DeleteObjectsOutput {
            deleted: Some(deleted),
            ..Default::default()
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<dto::ListObjectsInput>,
    ) -> S3Result<S3Response<dto::ListObjectsOutput>> {
        let input = req.input;
        let b = self.bucket(&input.bucket)?;
        let b = b.lock().unwrap();
        let prefix = input.prefix.as_deref().unwrap_or("");
        let page = b.list_current(
            prefix,
            input.delimiter.as_deref(),
            input.marker.as_deref().filter(|m| !m.is_empty()),
            max_keys(input.max_keys),
        );
        let enc = encoder(input.encoding_type.as_ref());
        let output = dto::ListObjectsOutput {
            name: Some(input.bucket.clone()),
            prefix: Some(enc(prefix)),
            marker: Some(enc(input.marker.as_deref().unwrap_or(""))),
            max_keys: Some(max_keys(input.max_keys) as i32),
            is_truncated: Some(page.truncated),
            // S3 sends it only with a delimiter; sent always, clients that page by the last
            // key find the same value.
            next_marker: page
                .truncated
                .then(|| page.last.as_deref().map(&enc))
                .flatten(),
            contents: Some(objects(&page.objects, &enc)),
            common_prefixes: Some(prefixes(&page.prefixes, &enc)),
            delimiter: input.delimiter.as_deref().map(&enc),
            encoding_type: input.encoding_type.clone(),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<dto::ListObjectsV2Input>,
    ) -> S3Result<S3Response<dto::ListObjectsV2Output>> {
        let input = req.input;
        let b = self.bucket(&input.bucket)?;
        let b = b.lock().unwrap();
        let prefix = input.prefix.as_deref().unwrap_or("");
        // The continuation token is the last key or prefix returned.
        let after = match (
            input.continuation_token.as_deref(),
            input.start_after.as_deref(),
        ) {
            (Some(t), _) if !t.is_empty() => Some(t),
            (_, Some(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        let max = max_keys(input.max_keys);
        let page = b.list_current(prefix, input.delimiter.as_deref(), after, max);
        let enc = encoder(input.encoding_type.as_ref());
        let output = dto::ListObjectsV2Output {
            name: Some(input.bucket.clone()),
            prefix: Some(enc(prefix)),
            max_keys: Some(max as i32),
            key_count: Some((page.objects.len() + page.prefixes.len()) as i32),
            continuation_token: input.continuation_token.clone(),
            is_truncated: Some(page.truncated),
            next_continuation_token: page.truncated.then_some(page.last.clone()).flatten(),
            contents: Some(objects(&page.objects, &enc)),
            common_prefixes: Some(prefixes(&page.prefixes, &enc)),
            delimiter: input.delimiter.as_deref().map(&enc),
            encoding_type: input.encoding_type.clone(),
            start_after: input.start_after.as_deref().map(&enc),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn list_object_versions(
        &self,
        req: S3Request<dto::ListObjectVersionsInput>,
    ) -> S3Result<S3Response<dto::ListObjectVersionsOutput>> {
        let input = req.input;
        let b = self.bucket(&input.bucket)?;
        let b = b.lock().unwrap();
        let prefix = input.prefix.as_deref().unwrap_or("");
        let max = max_keys(input.max_keys);
        let page = b
            .list_versions(
                prefix,
                input.delimiter.as_deref(),
                input.key_marker.as_deref(),
                input.version_id_marker.as_deref(),
                max,
            )
            .map_err(|m| s3_error!(InvalidArgument, "{m}"))?;
        let enc = encoder(input.encoding_type.as_ref());
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        for (key, v, latest) in &page.versions {
            if v.delete_marker {
                markers.push(dto::DeleteMarkerEntry {
                    key: Some(enc(key)),
                    version_id: Some(v.id.clone()),
                    is_latest: Some(*latest),
                    last_modified: Some(ts(v.last_modified)),
                    owner: None,
                });
            } else {
                versions.push(dto::ObjectVersion {
                    key: Some(enc(key)),
                    version_id: Some(v.id.clone()),
                    is_latest: Some(*latest),
                    last_modified: Some(ts(v.last_modified)),
                    e_tag: Some(ETag::Strong(v.etag.clone())),
                    size: Some(v.size as i64),
                    storage_class: Some(dto::ObjectVersionStorageClass::from_static(
                        dto::ObjectVersionStorageClass::STANDARD,
                    )),
                    ..Default::default()
                });
            }
        }
        let output = dto::ListObjectVersionsOutput {
            name: Some(input.bucket.clone()),
            prefix: Some(enc(prefix)),
            key_marker: Some(enc(input.key_marker.as_deref().unwrap_or(""))),
            version_id_marker: Some(input.version_id_marker.clone().unwrap_or_default()),
            max_keys: Some(max as i32),
            is_truncated: Some(page.truncated),
            next_key_marker: page.next_key_marker.as_deref().map(&enc),
            next_version_id_marker: page.next_version_id_marker.clone(),
            versions: Some(versions),
            delete_markers: Some(markers),
            common_prefixes: Some(prefixes(&page.prefixes, &enc)),
            delimiter: input.delimiter.as_deref().map(&enc),
            encoding_type: input.encoding_type.clone(),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<dto::CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::CreateMultipartUploadOutput>> {
        let input = req.input;
        let b = self.bucket(&input.bucket)?;
        let upload_id = format!("u{:031x}", self.store.next_id());
        let upload = Upload {
            key: input.key.clone(),
            headers: Arc::new(Headers {
                content_type: input.content_type,
                cache_control: input.cache_control,
                content_encoding: input.content_encoding,
                content_disposition: input.content_disposition,
                content_language: input.content_language,
                metadata: input.metadata,
            }),
            parts: Default::default(),
        };
        b.lock().unwrap().uploads.insert(upload_id.clone(), upload);
        Ok(S3Response::new(dto::CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload_id),
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<dto::UploadPartInput>,
    ) -> S3Result<S3Response<dto::UploadPartOutput>> {
        let input = req.input;
        if !(1..=10_000).contains(&input.part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            ));
        }
        let b = self.bucket(&input.bucket)?;
        let known = |b: &Bucket| {
            b.uploads
                .get(&input.upload_id)
                .is_some_and(|u| u.key == input.key)
        };
        if !known(&b.lock().unwrap()) {
            return Err(no_such_upload());
        }
        let (md5, size) = digest(input.body).await?;
        self.store.count_upload(size);
        check_content_md5(input.content_md5.as_deref(), &md5)?;
        let mut b = b.lock().unwrap();
        let upload = b
            .uploads
            .get_mut(&input.upload_id)
            .ok_or_else(no_such_upload)?;
        upload.parts.insert(
            input.part_number,
            Part {
                md5,
                size,
                last_modified: SystemTime::now(),
            },
        );
        Ok(S3Response::new(dto::UploadPartOutput {
            e_tag: Some(ETag::Strong(hex::encode(md5))),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<dto::CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::CompleteMultipartUploadOutput>> {
        let input = req.input;
        let b = self.bucket(&input.bucket)?;
        let mut b = b.lock().unwrap();
        let upload = b
            .uploads
            .get(&input.upload_id)
            .filter(|u| u.key == input.key)
            .ok_or_else(no_such_upload)?;
        let listed = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default();
        if listed.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "You must specify at least one part"
            ));
        }
        let mut etag_md5 = Md5::new();
        let mut size = 0u64;
        let mut previous = 0;
        for (i, p) in listed.iter().enumerate() {
            let n = p.part_number.unwrap_or(0);
            if n <= previous {
                return Err(s3_error!(
                    InvalidPartOrder,
                    "The list of parts was not in ascending order."
                ));
            }
            previous = n;
            let part = upload.parts.get(&n).filter(|part| {
                p.e_tag
                    .as_ref()
                    .is_none_or(|e| e.value().trim_matches('"') == hex::encode(part.md5))
            });
            let Some(part) = part else {
                return Err(s3_error!(
                    InvalidPart,
                    "One or more of the specified parts could not be found."
                ));
            };
            if i + 1 < listed.len() && part.size < MIN_PART_SIZE {
                return Err(s3_error!(
                    EntityTooSmall,
                    "Your proposed upload is smaller than the minimum allowed object size."
                ));
            }
            etag_md5.update(part.md5);
            size += part.size;
        }
        let etag = format!("{}-{}", hex::encode(etag_md5.finalize()), listed.len());
        let upload = b.uploads.remove(&input.upload_id).expect("checked above");
        let id = self.store.version_id(b.versioning);
        let version_id = version_id_out(&b, &id);
        b.put(
            input.key.clone(),
            Version {
                id,
                delete_marker: false,
                size,
                etag: etag.clone(),
                last_modified: SystemTime::now(),
                headers: upload.headers,
            },
        );
        Ok(S3Response::new(dto::CompleteMultipartUploadOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key),
            e_tag: Some(ETag::Strong(etag)),
            location: Some(format!("/{}", input.bucket)),
            version_id,
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<dto::AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::AbortMultipartUploadOutput>> {
        let input = req.input;
        let b = self.bucket(&input.bucket)?;
        b.lock()
            .unwrap()
            .uploads
            .remove(&input.upload_id)
            .ok_or_else(no_such_upload)?;
        Ok(S3Response::new(dto::AbortMultipartUploadOutput::default()))
    }

    async fn list_parts(
        &self,
        req: S3Request<dto::ListPartsInput>,
    ) -> S3Result<S3Response<dto::ListPartsOutput>> {
        let input = req.input;
        let b = self.bucket(&input.bucket)?;
        let b = b.lock().unwrap();
        let upload = b
            .uploads
            .get(&input.upload_id)
            .filter(|u| u.key == input.key)
            .ok_or_else(no_such_upload)?;
        let max = input.max_parts.map_or(1000, |m| m.clamp(0, 1000) as usize);
        let after = input.part_number_marker.unwrap_or(0);
        let mut parts: Vec<dto::Part> = Vec::new();
        let mut truncated = false;
        for (n, p) in upload.parts.range(after + 1..) {
            if parts.len() == max {
                truncated = true;
                break;
            }
            parts.push(dto::Part {
                part_number: Some(*n),
                e_tag: Some(ETag::Strong(hex::encode(p.md5))),
                size: Some(p.size as i64),
                last_modified: Some(ts(p.last_modified)),
                ..Default::default()
            });
        }
        Ok(S3Response::new(dto::ListPartsOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            upload_id: Some(input.upload_id.clone()),
            max_parts: Some(max as i32),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: truncated
                .then(|| parts.last().and_then(|p| p.part_number))
                .flatten(),
            is_truncated: Some(truncated),
            parts: Some(parts),
            ..Default::default()
        }))
    }
}

fn no_such_upload() -> S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )
}

fn objects(list: &[(&str, &Version)], enc: &impl Fn(&str) -> String) -> Vec<dto::Object> {
    list.iter()
        .map(|(key, v)| dto::Object {
            key: Some(enc(key)),
            e_tag: Some(ETag::Strong(v.etag.clone())),
            size: Some(v.size as i64),
            last_modified: Some(ts(v.last_modified)),
            storage_class: Some(storage_class()),
            ..Default::default()
        })
        .collect()
}

fn prefixes(list: &[String], enc: &impl Fn(&str) -> String) -> Vec<dto::CommonPrefix> {
    list.iter()
        .map(|p| dto::CommonPrefix {
            prefix: Some(enc(p)),
        })
        .collect()
}
