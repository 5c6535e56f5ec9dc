//! The `presigner` section: the function, its code, its limits and its URL.

use super::*;

impl Checker<'_> {
    pub(super) fn presigner(&mut self, raw: RawPresigner, defaults: &Defaults) -> Presigner {
        // The default name fits both rules whenever the stack name is valid.
        let default_name = format!("{}-presigner", defaults.prefix);
        let (max_upload_bytes, multipart_threshold_bytes, part_size_bytes) =
            self.upload_sizes(&raw);
        if let Some(name) = &raw.function_name {
            self.check("presigner.function_name", rules::function_name(name));
        }
        if let Some(name) = &raw.role_name {
            self.check("presigner.role_name", rules::role_name(name));
        }
        if let Some(arn) = &raw.permissions_boundary {
            self.check(
                "presigner.permissions_boundary",
                rules::managed_policy_arn(arn),
            );
        }
        let function_name = raw.function_name.unwrap_or_else(|| default_name.clone());
        let role_name = raw.role_name.unwrap_or(default_name);
        let code = self.code(raw.source.as_deref(), raw.zip.as_deref());
        let architecture = match raw.architecture.as_deref() {
            None | Some("x86_64") => Architecture::X86_64,
            Some("arm64") => Architecture::Arm64,
            Some(other) => {
                self.value(
                    "presigner.architecture",
                    format!(
                        "`{other}` is not an architecture; use `x86_64` (the default) or `arm64`"
                    ),
                );
                Architecture::X86_64
            }
        };
        let reserved_concurrency = match raw.reserved_concurrency {
            // Not given: the open presigner's default is decided with `auth` (validate).
            None | Some(None) => None,
            Some(Some(0)) => {
                self.value(
                    "presigner.reserved_concurrency",
                    "0 would stop the function from ever running; give 1 to 1000, or `null` \
                     for no reservation",
                );
                None
            }
            Some(given) => self.number("presigner.reserved_concurrency", given, (1, 1000), ""),
        };
        let function_url = raw.function_url.unwrap_or_default();
        let url_auth = match function_url.auth.as_deref() {
            None | Some("none") => UrlAuth::None,
            Some("aws_iam") => UrlAuth::AwsIam,
            Some(other) => {
                self.value(
                    "presigner.function_url.auth",
                    format!("`{other}` is not an auth mode; use `none` (the default) or `aws_iam`"),
                );
                UrlAuth::None
            }
        };
        let url_cors_origins = self.list(
            "presigner.function_url.cors_origins",
            function_url.cors_origins,
            &["website"],
            "origin",
            rules::origin,
        );
        if url_cors_origins.len() > MAX_URL_ORIGINS {
            self.value(
                "presigner.function_url.cors_origins",
                format!(
                    "at most {MAX_URL_ORIGINS} origins are allowed; got {}",
                    url_cors_origins.len()
                ),
            );
        }
        Presigner {
            function_name,
            role_name,
            permissions_boundary: raw.permissions_boundary,
            code,
            architecture,
            memory_mb: self
                .number(
                    "presigner.memory_mb",
                    raw.memory_mb,
                    (128, 10_240),
                    " (MiB)",
                )
                .unwrap_or(128),
            timeout_seconds: self
                .number(
                    "presigner.timeout_seconds",
                    raw.timeout_seconds,
                    (1, 900),
                    " seconds",
                )
                .unwrap_or(5),
            reserved_concurrency,
            concurrency_defaulted: false,
            url_expiry_seconds: self
                .number(
                    "presigner.url_expiry_seconds",
                    raw.url_expiry_seconds,
                    (1, 3600),
                    " seconds",
                )
                .unwrap_or(300),
            max_upload_bytes,
            multipart_threshold_bytes,
            part_size_bytes,
            allowed_content_types: self.list(
                "presigner.allowed_content_types",
                raw.allowed_content_types,
                &DEFAULT_CONTENT_TYPES,
                "content type (`*/*` allows any)",
                rules::content_type,
            ),
            allow_downloads: raw.allow_downloads.unwrap_or(true),
            log_retention_days: self.log_retention(raw.log_retention_days),
            url_auth,
            url_cors_origins,
        }
    }

    /// The documents bucket's CORS rule always allows what the presigner's own requests need,
    /// whatever `documents.cors` lists (its lists add to these): every upload is a PUT that
    /// signs `content-type` and `if-none-match`, and the page sends each file's SHA-256
    /// (`x-amz-checksum-sha256`); uploads in parts also POST (create, complete) and DELETE
    /// (abort), send `x-amz-checksum-algorithm` and read each part's `ETag`. Without them the
    /// page would fail in the browser, so they are added here, where `plan` shows them.
    pub(super) fn cors_lets_the_page_upload(&mut self, cors: &mut Cors, presigner: &Presigner) {
        let multipart = presigner.max_upload_bytes > presigner.multipart_threshold_bytes;
        let mut methods = vec!["PUT"];
        let mut headers = vec!["content-type", "if-none-match", "x-amz-checksum-sha256"];
        let mut expose = vec![];
        if multipart {
            methods.extend(["POST", "DELETE"]);
            headers.push("x-amz-checksum-algorithm");
            expose.push("etag");
        }
        for m in methods {
            if !cors
                .allowed_methods
                .iter()
                .any(|a| a.eq_ignore_ascii_case(m))
            {
                cors.allowed_methods.push(m.to_string());
            }
        }
        for h in headers {
            if !cors
                .allowed_headers
                .iter()
                .any(|a| rules::wildcard_match(a, h))
            {
                cors.allowed_headers.push(h.to_string());
            }
        }
        for h in expose {
            if !cors
                .expose_headers
                .iter()
                .any(|a| a.eq_ignore_ascii_case(h))
            {
                cors.expose_headers.push(h.to_string());
            }
        }
    }

    /// `max_upload_bytes`, `multipart_threshold_bytes` and `part_size_bytes`, checked against
    /// S3's limits and each other: an upload above the threshold must fit in 10,000 parts.
    fn upload_sizes(&mut self, raw: &RawPresigner) -> (u64, u64, u64) {
        let max = self
            .number(
                "presigner.max_upload_bytes",
                raw.max_upload_bytes,
                (1, MAX_UPLOAD_BYTES),
                " bytes (5 TiB, the most S3 holds in one object)",
            )
            .unwrap_or(10_485_760);
        let threshold = self
            .number(
                "presigner.multipart_threshold_bytes",
                raw.multipart_threshold_bytes,
                (1, presigner::MAX_SINGLE_PUT_BYTES as i128),
                " bytes (5 GiB, the most a single PUT can upload)",
            )
            .unwrap_or(presigner::DEFAULT_MULTIPART_THRESHOLD_BYTES);
        let part = self
            .number(
                "presigner.part_size_bytes",
                raw.part_size_bytes,
                (
                    presigner::MIN_PART_BYTES as i128,
                    presigner::MAX_PART_BYTES as i128,
                ),
                " bytes (S3's part sizes: 5 MiB to 5 GiB)",
            )
            .unwrap_or(presigner::DEFAULT_PART_SIZE_BYTES);
        if max > threshold && max.div_ceil(part) > presigner::MAX_PARTS {
            let path = if raw.part_size_bytes.is_some() {
                "presigner.part_size_bytes"
            } else {
                "presigner.max_upload_bytes"
            };
            self.value(
                path,
                format!(
                    "{max} bytes (max_upload_bytes) do not fit in S3's {} parts of {part} bytes \
                     (part_size_bytes); set part_size_bytes to at least {}",
                    presigner::MAX_PARTS,
                    presigner::min_part_size(max)
                ),
            );
        }
        (max, threshold, part)
    }

    fn code(&mut self, source: Option<&str>, zip: Option<&str>) -> CodeSource {
        if source.is_some() && zip.is_some() {
            self.value(
                "presigner.zip",
                "give either `source` (a crate to build with cargo lambda) or `zip` \
                 (a prebuilt bundle), not both",
            );
        }
        if let Some(zip) = zip {
            let path = self.resolve(Some(zip), "");
            if !zip.ends_with(".zip") {
                self.value(
                    "presigner.zip",
                    format!("`{zip}` must name a .zip file, with `bootstrap` at its root"),
                );
            } else if self.cx.check_files && !path.is_file() {
                self.value(
                    "presigner.zip",
                    format!(
                        "`{}` is not a file; `zip` is a prebuilt bundle, relative to the \
                         spec's directory",
                        path.display()
                    ),
                );
            }
            return CodeSource::Zip(path);
        }
        let Some(source) = source else {
            // The presigner of this presign-stack's own version (embedded in the binary).
            return CodeSource::Embedded;
        };
        let path = self.resolve(Some(source), "");
        if self.cx.check_files && !path.join("Cargo.toml").is_file() {
            let what = if path.is_dir() {
                "has no Cargo.toml"
            } else {
                "is not a directory"
            };
            self.value(
                "presigner.source",
                format!(
                    "`{}` {what}; `source` is a presigner crate of your own, relative to the \
                     spec's directory (or give `zip`, a prebuilt bundle, or neither: then \
                     presign-stack deploys the presigner it comes with)",
                    path.display()
                ),
            );
        }
        CodeSource::Crate(path)
    }
}
