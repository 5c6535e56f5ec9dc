//! The spec exactly as written: every field optional, unknown keys rejected. Numbers are read as
//! `i128` so that any integer, however large or negative, reaches the range checks, whose
//! messages say what is allowed.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map of spec settings")]
pub(super) struct RawSpec {
    pub version: Option<i128>,
    pub name: Option<String>,
    pub region: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    pub documents: Option<RawDocuments>,
    pub presigner: Option<RawPresigner>,
    pub website: Option<RawWebsite>,
    pub auth: Option<RawAuth>,
    /// Already applied as an overlay by the time this is read; declared so that it is a known
    /// key, listed among the allowed ones.
    #[serde(rename = "environments")]
    pub _environments: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map of `documents` settings")]
pub(super) struct RawDocuments {
    pub bucket: Option<String>,
    pub versioning: Option<bool>,
    pub encryption: Option<String>,
    pub kms_key_arn: Option<String>,
    pub uploads_prefix: Option<String>,
    pub expire_uploads_after_days: Option<i128>,
    pub abort_incomplete_uploads_after_days: Option<i128>,
    pub cors: Option<RawCors>,
    pub events: Option<String>,
    pub malware_scan: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map of `cors` settings")]
pub(super) struct RawCors {
    pub allowed_origins: Option<Vec<String>>,
    pub allowed_methods: Option<Vec<String>>,
    pub allowed_headers: Option<Vec<String>>,
    pub expose_headers: Option<Vec<String>>,
    pub max_age_seconds: Option<i128>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map of `presigner` settings")]
pub(super) struct RawPresigner {
    pub function_name: Option<String>,
    pub role_name: Option<String>,
    pub source: Option<String>,
    pub zip: Option<String>,
    pub architecture: Option<String>,
    pub memory_mb: Option<i128>,
    pub timeout_seconds: Option<i128>,
    /// Outer `None`: not given (the default); `Some(None)`: explicitly null (no reservation).
    #[serde(default, deserialize_with = "given")]
    pub reserved_concurrency: Option<Option<i128>>,
    pub url_expiry_seconds: Option<i128>,
    pub max_upload_bytes: Option<i128>,
    pub multipart_threshold_bytes: Option<i128>,
    pub part_size_bytes: Option<i128>,
    pub allowed_content_types: Option<Vec<String>>,
    pub allow_downloads: Option<bool>,
    pub log_retention_days: Option<i128>,
    pub function_url: Option<RawFunctionUrl>,
    pub permissions_boundary: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map of `function_url` settings")]
pub(super) struct RawFunctionUrl {
    pub auth: Option<String>,
    pub cors_origins: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map of `website` settings")]
pub(super) struct RawWebsite {
    pub bucket: Option<String>,
    pub source: Option<String>,
    pub build: Option<String>,
    pub index_document: Option<String>,
    pub error_document: Option<String>,
    /// Outer `None`: not given (default); `Some(None)`: explicitly null (no config file).
    #[serde(default, deserialize_with = "given")]
    pub config_file: Option<Option<String>>,
    pub cache_control: Option<Vec<RawCacheRule>>,
    pub hosting: Option<String>,
    pub cloudfront: Option<RawCloudFront>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map of `cloudfront` settings")]
pub(super) struct RawCloudFront {
    pub api_path: Option<String>,
    pub aliases: Option<Vec<String>>,
    pub certificate_arn: Option<String>,
    pub price_class: Option<String>,
    pub rate_limit: Option<i128>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map of `auth` settings")]
pub(super) struct RawAuth {
    pub issuer: Option<String>,
    pub audiences: Option<Vec<String>>,
    pub client_id: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub jwks_uri: Option<String>,
    pub files: Option<String>,
    pub quota: Option<RawQuota>,
    pub cognito: Option<RawCognito>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map of `cognito` settings")]
pub(super) struct RawCognito {
    pub domain_prefix: Option<String>,
    pub self_signup: Option<bool>,
    pub mfa: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a map such as {bytes: 1073741824, files: 1000}"
)]
pub(super) struct RawQuota {
    pub bytes: Option<i128>,
    pub files: Option<i128>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a rule such as {match: \"**/*.html\", value: \"no-cache\"}"
)]
pub(super) struct RawCacheRule {
    #[serde(rename = "match")]
    pub pattern: Option<String>,
    pub value: Option<String>,
}

fn given<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
