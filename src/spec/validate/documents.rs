//! The `documents` section: the bucket, its uploads prefix, lifecycle and CORS.

use super::*;

impl Checker<'_> {
    pub(super) fn documents(
        &mut self,
        raw: RawDocuments,
        defaults: &Defaults,
        region: Option<&str>,
    ) -> Documents {
        let bucket = self.bucket("documents", raw.bucket, defaults);
        let encryption = match (
            raw.encryption.as_deref().unwrap_or("sse-s3"),
            raw.kms_key_arn,
        ) {
            ("sse-s3", None) => Encryption::SseS3,
            ("sse-s3", Some(_)) => {
                self.value(
                    "documents.kms_key_arn",
                    "only used with `encryption: sse-kms`; remove it, or set `encryption: sse-kms`",
                );
                Encryption::SseS3
            }
            ("sse-kms", None) => {
                self.value(
                    "documents.encryption",
                    "`sse-kms` needs `kms_key_arn`: the ARN of the KMS key, \
                     arn:aws:kms:REGION:ACCOUNT_ID:key/KEY_ID",
                );
                Encryption::SseS3
            }
            ("sse-kms", Some(key_arn)) => {
                match rules::kms_key_arn(&key_arn) {
                    Ok(key_region) => {
                        if region.is_some_and(|r| r != key_region) {
                            self.value(
                                "documents.kms_key_arn",
                                format!(
                                    "the key is in `{key_region}` but the stack is in `{}`; \
                                     S3 needs a KMS key in the bucket's own region",
                                    region.unwrap_or_default()
                                ),
                            );
                        }
                    }
                    Err(m) => self.value("documents.kms_key_arn", m),
                }
                Encryption::SseKms { key_arn }
            }
            (other, _) => {
                self.value(
                    "documents.encryption",
                    format!(
                        "`{other}` is not an encryption mode; use `sse-s3` (the default) \
                         or `sse-kms`"
                    ),
                );
                Encryption::SseS3
            }
        };
        let uploads_prefix = raw.uploads_prefix.unwrap_or_else(|| "uploads/".to_string());
        self.check(
            "documents.uploads_prefix",
            rules::uploads_prefix(&uploads_prefix),
        );
        let eventbridge = match raw.events.as_deref() {
            None => false,
            Some("eventbridge") => true,
            Some(other) => {
                self.value(
                    "documents.events",
                    format!(
                        "`{other}` is not an event destination; use `eventbridge` (S3 sends the \
                         bucket's object events to EventBridge, where rules route them), or \
                         leave it out"
                    ),
                );
                false
            }
        };
        let malware_scan = match raw.malware_scan.as_deref() {
            None => false,
            Some("guardduty") => true,
            Some(other) => {
                self.value(
                    "documents.malware_scan",
                    format!(
                        "`{other}` is not a malware scanner; use `guardduty` (GuardDuty Malware \
                         Protection for S3 scans each upload), or leave it out"
                    ),
                );
                false
            }
        };
        Documents {
            bucket,
            eventbridge,
            malware_scan,
            versioning: raw.versioning.unwrap_or(false),
            encryption,
            uploads_prefix,
            expire_uploads_after_days: self.number(
                "documents.expire_uploads_after_days",
                raw.expire_uploads_after_days,
                (1, 3650),
                " days",
            ),
            abort_incomplete_uploads_after_days: self
                .number(
                    "documents.abort_incomplete_uploads_after_days",
                    raw.abort_incomplete_uploads_after_days,
                    (1, 365),
                    " days",
                )
                .unwrap_or(1),
            cors: self.cors(raw.cors.unwrap_or_default()),
        }
    }

    fn cors(&mut self, raw: RawCors) -> Cors {
        Cors {
            allowed_origins: self.list(
                "documents.cors.allowed_origins",
                raw.allowed_origins,
                &["website"],
                "origin",
                rules::origin,
            ),
            allowed_methods: self.list(
                "documents.cors.allowed_methods",
                raw.allowed_methods,
                &["PUT", "GET"],
                "method",
                rules::method,
            ),
            allowed_headers: self.list(
                "documents.cors.allowed_headers",
                raw.allowed_headers,
                &["content-type"],
                "header",
                rules::header,
            ),
            expose_headers: self.list(
                "documents.cors.expose_headers",
                raw.expose_headers,
                &["etag"],
                "header",
                rules::header,
            ),
            max_age_seconds: self
                .number(
                    "documents.cors.max_age_seconds",
                    raw.max_age_seconds,
                    (0, 86_400),
                    " seconds",
                )
                .unwrap_or(3000),
        }
    }
}
