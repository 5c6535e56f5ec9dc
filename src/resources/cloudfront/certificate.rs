//! The custom domains' ACM certificate, checked before any write: CloudFront refuses a
//! distribution whose certificate is not issued or does not cover every alias.

use anyhow::{Context, Result};

use crate::context::Ctx;
use crate::errors::aws_err;

/// The IAM action of the check.
pub const ACTIONS: &[&str] = &["acm:DescribeCertificate"];

/// The custom domains' certificate (ACM, us-east-1) must be issued and cover every alias:
/// CloudFront refuses the distribution otherwise. Checked before any write.
pub async fn check_certificate(ctx: &Ctx) -> Result<()> {
    let Some(cf) = ctx.spec.website.cloudfront() else {
        return Ok(());
    };
    let Some(arn) = &cf.certificate_arn else {
        return Ok(());
    };
    let got = ctx
        .aws
        .acm
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .map_err(|e| {
            aws_err(
                format!("reading certificate {arn} (website.cloudfront.certificate_arn)"),
                e,
            )
        })?;
    let cert = got
        .certificate()
        .with_context(|| format!("certificate {arn}: no certificate in the answer"))?;
    let status = cert.status().map(|s| s.as_str()).unwrap_or("unknown");
    if status != "ISSUED" {
        anyhow::bail!(
            "certificate {arn} (website.cloudfront.certificate_arn) is {status}, not ISSUED: \
             CloudFront only serves an issued certificate; finish its validation in ACM \
             (us-east-1), or give another. Nothing was changed."
        );
    }
    let mut names: Vec<String> = cert.subject_alternative_names().to_vec();
    names.extend(cert.domain_name().map(str::to_string));
    let uncovered: Vec<&String> = cf
        .aliases
        .iter()
        .filter(|a| !names.iter().any(|n| covers(n, a)))
        .collect();
    if !uncovered.is_empty() {
        anyhow::bail!(
            "certificate {arn} (website.cloudfront.certificate_arn) does not cover {} (it \
             covers {}); CloudFront refuses an alias its certificate does not cover: add the \
             name to the certificate, or remove it from website.cloudfront.aliases. Nothing \
             was changed.",
            uncovered
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            names.join(", ")
        );
    }
    Ok(())
}

/// Whether a certificate name (`example.com`, `*.example.com`) covers `alias`; a wildcard
/// covers exactly one label.
fn covers(name: &str, alias: &str) -> bool {
    let name = name.to_ascii_lowercase();
    match name.strip_prefix("*.") {
        Some(rest) => alias
            .split_once('.')
            .is_some_and(|(first, tail)| tail == rest && first != "*" && !first.is_empty()),
        None => name == alias,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_names_cover_aliases_as_cloudfront_matches_them() {
        assert!(covers("files.example.com", "files.example.com"));
        assert!(covers("*.example.com", "files.example.com"));
        assert!(!covers("*.example.com", "a.files.example.com"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(!covers("example.com", "files.example.com"));
    }
}
