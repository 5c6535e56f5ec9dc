//! The `website` section: the bucket, its source and build, hosting and CloudFront, cache rules.

use super::*;

impl Checker<'_> {
    pub(super) fn website(&mut self, raw: RawWebsite, defaults: &Defaults) -> Website {
        let bucket = self.bucket("website", raw.bucket, defaults);
        let build = raw.build.filter(|b| {
            let given = !b.trim().is_empty();
            if !given {
                self.value(
                    "website.build",
                    "must not be empty; give the command to run, or remove `build`",
                );
            }
            given
        });
        let source = self.resolve(raw.source.as_deref(), "frontend");
        // With a build step the folder may well be the build's output, not there yet.
        if self.cx.check_files && build.is_none() && !source.is_dir() {
            let given = if raw.source.is_some() {
                ""
            } else {
                " (the default `source: frontend`)"
            };
            self.value(
                "website.source",
                format!(
                    "`{}`{given} is not a directory; `source` is the folder synced to the \
                     website bucket, relative to the spec's directory",
                    source.display()
                ),
            );
        }
        let index_document = raw
            .index_document
            .unwrap_or_else(|| "index.html".to_string());
        self.check(
            "website.index_document",
            rules::index_document(&index_document),
        );
        let error_document = raw
            .error_document
            .unwrap_or_else(|| "index.html".to_string());
        self.check("website.error_document", rules::object_key(&error_document));
        let config_file = raw
            .config_file
            .unwrap_or_else(|| Some("config.json".to_string()));
        if let Some(key) = &config_file {
            self.check("website.config_file", rules::object_key(key));
        }
        let cache_control = match raw.cache_control {
            None => [
                ("**/*.html", "no-cache"),
                ("config.json", "no-cache"),
                ("**", "public, max-age=300"),
            ]
            .map(|(pattern, value)| CacheRule {
                pattern: pattern.to_string(),
                value: value.to_string(),
            })
            .to_vec(),
            Some(rules) => rules
                .into_iter()
                .enumerate()
                .filter_map(|(i, rule)| self.cache_rule(i, rule))
                .collect(),
        };
        let hosting = self.hosting(raw.hosting.as_deref(), raw.cloudfront);
        Website {
            bucket,
            source,
            build,
            index_document,
            error_document,
            config_file,
            cache_control,
            hosting,
        }
    }

    fn hosting(&mut self, hosting: Option<&str>, raw: Option<RawCloudFront>) -> Hosting {
        match hosting {
            None | Some("s3-website") => {
                if raw.is_some() {
                    self.key(
                        "website.cloudfront",
                        "only applies with `hosting: cloudfront`; add that, or remove \
                         `cloudfront`",
                    );
                }
                Hosting::S3Website
            }
            Some("cloudfront") => Hosting::CloudFront(self.cloudfront(raw.unwrap_or_default())),
            Some(other) => {
                self.value(
                    "website.hosting",
                    format!(
                        "`{other}` is not a hosting mode; use `cloudfront` (a private bucket \
                         behind CloudFront, HTTPS) or `s3-website` (the default: a public \
                         bucket behind the S3 website endpoint, HTTP only)"
                    ),
                );
                Hosting::S3Website
            }
        }
    }

    fn cloudfront(&mut self, raw: RawCloudFront) -> CloudFront {
        let api_path = raw.api_path.filter(|p| {
            self.check("website.cloudfront.api_path", rules::api_path(p))
                .is_some()
        });
        let mut aliases = match raw.aliases {
            Some(a) if a.is_empty() => vec![],
            a => self.list("website.cloudfront.aliases", a, &[], "alias", rules::alias),
        };
        aliases.sort();
        if aliases.len() > 100 {
            self.value(
                "website.cloudfront.aliases",
                format!("at most 100 aliases are allowed; got {}", aliases.len()),
            );
        }
        let certificate_given = raw.certificate_arn.is_some();
        let certificate_arn = raw.certificate_arn.filter(|a| {
            self.check(
                "website.cloudfront.certificate_arn",
                rules::certificate_arn(a),
            )
            .is_some()
        });
        if !aliases.is_empty() && !certificate_given {
            self.value(
                "website.cloudfront.aliases",
                "custom domains need a certificate that covers them: add \
                 `certificate_arn` (an ACM certificate in us-east-1)",
            );
        }
        if aliases.is_empty() && certificate_arn.is_some() {
            self.value(
                "website.cloudfront.certificate_arn",
                "a certificate is only used for custom domains: add `aliases`, or remove \
                 `certificate_arn`",
            );
        }
        let price_class = match raw.price_class.as_deref() {
            None => "PriceClass_100".to_string(),
            Some(p @ ("PriceClass_100" | "PriceClass_200" | "PriceClass_All")) => p.to_string(),
            Some(other) => {
                self.value(
                    "website.cloudfront.price_class",
                    format!(
                        "`{other}` is not a price class; use `PriceClass_100` (the default: \
                         North America and Europe), `PriceClass_200` or `PriceClass_All`"
                    ),
                );
                "PriceClass_100".to_string()
            }
        };
        // WAF's rate-based rules take 10 to 2,000,000,000 requests per evaluation window.
        let rate_limit = self.number(
            "website.cloudfront.rate_limit",
            raw.rate_limit,
            (10, 2_000_000_000),
            " requests per 5 minutes per client IP",
        );
        if rate_limit.is_some() && api_path.is_none() {
            self.value(
                "website.cloudfront.rate_limit",
                "limits the requests to the presigner served at `api_path`; without `api_path` \
                 the presigner is called at its own Function URL, which the distribution's web \
                 ACL never sees: add `api_path: /api`, or remove `rate_limit`",
            );
        }
        CloudFront {
            api_path,
            aliases,
            certificate_arn,
            price_class,
            rate_limit,
        }
    }

    fn cache_rule(&mut self, i: usize, rule: RawCacheRule) -> Option<CacheRule> {
        let path = item_path("website.cache_control", i);
        let (Some(pattern), Some(value)) = (rule.pattern, rule.value) else {
            self.value(
                &path,
                "each rule needs `match` (a glob over object keys, such as `**/*.html`) and \
                 `value` (the Cache-Control header, such as `no-cache`)",
            );
            return None;
        };
        let pattern_ok = self
            .check(&child_path(&path, "match"), rules::glob(&pattern))
            .is_some();
        let value_ok = self
            .check(&child_path(&path, "value"), rules::header_value(&value))
            .is_some();
        (pattern_ok && value_ok).then_some(CacheRule { pattern, value })
    }
}
