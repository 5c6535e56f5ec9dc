//! Checks on single values. Each returns what is wrong and what is allowed, phrased to follow
//! the field path in an error line; normalising checks return the normalised value.

use super::model::Origin;

/// An S3 CORS entry (an origin or a header name, with at most one `*`, which matches any run
/// of characters) against a value; comparison ignores case. Used to complete the spec's CORS
/// rule and by dev, which evaluates that rule as S3 does.
pub fn wildcard_match(pattern: &str, value: &str) -> bool {
    let (p, v) = (pattern.to_ascii_lowercase(), value.to_ascii_lowercase());
    match p.split_once('*') {
        None => p == v,
        Some((prefix, suffix)) => {
            v.len() >= prefix.len() + suffix.len() && v.starts_with(prefix) && v.ends_with(suffix)
        }
    }
}

/// A character as it should appear in a message: invisible ones spelled out.
fn show(c: char) -> String {
    if c.is_whitespace() || c.is_control() {
        format!("{c:?}")
    } else {
        format!("`{c}`")
    }
}

fn len(s: &str) -> usize {
    s.chars().count()
}

const ENV_RULE: &str = "an environment name is 1 to 10 characters of a-z, 0-9 and `-`";

pub(super) fn env_name(s: &str) -> Result<(), String> {
    if !(1..=10).contains(&len(s)) {
        return Err(format!("it is {} characters long; {ENV_RULE}", len(s)));
    }
    match s
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-'))
    {
        Some(c) => Err(format!("it contains {}; {ENV_RULE}", show(c))),
        None => Ok(()),
    }
}

const NAME_RULE: &str =
    "a stack name is 3 to 24 characters of a-z, 0-9 and `-`, starting and ending with a letter or digit";

pub(super) fn stack_name(s: &str) -> Result<(), String> {
    if !(3..=24).contains(&len(s)) {
        return Err(format!("`{s}` is {} characters long; {NAME_RULE}", len(s)));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-'))
    {
        return Err(format!("`{s}` contains {}; {NAME_RULE}", show(c)));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err(format!("`{s}` starts or ends with `-`; {NAME_RULE}"));
    }
    Ok(())
}

/// A Cognito domain prefix: 1 to 63 of `[a-z0-9-]`, no `-` at either end, and none of the
/// words Cognito reserves (`aws`, `amazon`, `cognito`).
pub(super) fn cognito_domain(s: &str) -> Result<(), String> {
    const RULE: &str = "a domain prefix is 1 to 63 lower-case letters, digits and `-`, without \
                        `-` at either end";
    if !(1..=63).contains(&len(s)) {
        return Err(format!("`{s}` is {} characters long; {RULE}", len(s)));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-'))
    {
        return Err(format!("`{s}` contains {}; {RULE}", show(c)));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err(format!("`{s}` starts or ends with `-`; {RULE}"));
    }
    if let Some(word) = ["aws", "amazon", "cognito"].iter().find(|w| s.contains(*w)) {
        return Err(format!(
            "`{s}` contains `{word}`, which Cognito reserves for its own domains"
        ));
    }
    Ok(())
}

/// Region codes such as `eu-central-1`, `us-gov-west-1` or `us-isob-east-1`.
pub fn region(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.split('-').collect();
    let lower = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(lower)
        && parts
            .last()
            .is_some_and(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return Err(format!(
            "`{s}` does not look like an AWS region; use a region code such as `eu-central-1`"
        ));
    }
    commercial_region(s)
}

/// presign-stack writes ARNs (`arn:aws:`) and endpoints (`amazonaws.com`, `on.aws`) of the
/// commercial `aws` partition only: a region of another partition is refused up front rather
/// than met with wrong ARNs. Also applied to a region from the AWS config chain.
pub fn commercial_region(s: &str) -> Result<(), String> {
    let other = [
        ("cn-", "aws-cn (China)"),
        ("us-gov-", "aws-us-gov (GovCloud)"),
        ("us-iso", "an isolated partition"),
        ("eu-isoe-", "an isolated partition"),
    ];
    match other.iter().find(|(prefix, _)| s.starts_with(prefix)) {
        Some((_, partition)) => Err(format!(
            "`{s}` is a region of the {partition} partition; presign-stack supports the \
             commercial `aws` partition only (its ARNs and endpoints): use a region such as \
             `eu-central-1`"
        )),
        None => Ok(()),
    }
}

/// What is wrong with a bucket name, if anything. Beyond S3's own rules, dots are refused: a
/// dotted name does not match the `*.s3.<region>.amazonaws.com` wildcard certificate, so HTTPS
/// to the virtual-hosted endpoint fails.
pub(super) fn bucket(s: &str) -> Result<(), String> {
    const CHARS: &str = "bucket names use only lower-case letters, digits and `-`";
    if !(3..=63).contains(&len(s)) {
        return Err(format!(
            "it is {} characters long; bucket names are 3 to 63 characters",
            len(s)
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-' | '.'))
    {
        let kind = if c.is_uppercase() {
            "the upper-case "
        } else {
            ""
        };
        return Err(format!("it contains {kind}{}; {CHARS}", show(c)));
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("it is formatted as an IP address; {CHARS}"));
    }
    if s.contains('.') {
        return Err(format!(
            "it contains `.`, which S3 allows but which breaks HTTPS to the virtual-hosted \
             endpoint (the wildcard certificate covers one label only); {CHARS}"
        ));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("bucket names start and end with a letter or digit".to_string());
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if s.starts_with(prefix) {
            return Err(format!("names starting with `{prefix}` are reserved by S3"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", "--x-s3", "--table-s3"] {
        if s.ends_with(suffix) {
            return Err(format!("names ending with `{suffix}` are reserved by S3"));
        }
    }
    Ok(())
}

/// Characters that S3, Lambda and IAM all accept in tag keys and values.
fn tag_text(s: &str) -> Result<(), String> {
    match s.chars().find(|&c| {
        !(c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c))
    }) {
        Some(c) => Err(format!(
            "contains {}; tags use letters, digits, spaces and `_ . : / = + - @`",
            show(c)
        )),
        None => Ok(()),
    }
}

pub(super) fn tag_key(k: &str) -> Result<(), String> {
    if !(1..=128).contains(&len(k)) {
        return Err(format!(
            "tag key `{k}` is {} characters long; tag keys are 1 to 128 characters",
            len(k)
        ));
    }
    if k.to_ascii_lowercase().starts_with("aws:") {
        return Err(format!(
            "tag key `{k}`: keys starting with `aws:` are reserved by AWS"
        ));
    }
    if k.starts_with("presign-stack:") {
        return Err(format!(
            "tag key `{k}`: keys starting with `presign-stack:` are reserved for the ownership \
             tags presign-stack sets itself"
        ));
    }
    tag_text(k).map_err(|e| format!("tag key `{k}` {e}"))
}

pub(super) fn tag_value(v: &str) -> Result<(), String> {
    if len(v) > 256 {
        return Err(format!(
            "the value is {} characters long; tag values are at most 256 characters",
            len(v)
        ));
    }
    tag_text(v).map_err(|e| format!("the value `{v}` {e}"))
}

/// Returns the key's region. Only a key ARN will do: IAM authorises the presigner's KMS calls
/// against the key's ARN, never its alias, so a policy naming an alias allows nothing.
pub(super) fn kms_key_arn(s: &str) -> Result<&str, String> {
    let bad =
        || format!("`{s}` is not a KMS key ARN; use arn:aws:kms:REGION:ACCOUNT_ID:key/KEY_ID");
    if s.split(':').nth(5).is_some_and(|r| r.starts_with("alias/")) {
        return Err(format!(
            "`{s}` is an alias, but IAM authorises KMS calls against the key's ARN, so a role \
             policy naming an alias allows nothing and every upload would be refused: give the \
             key ARN it points to (`aws kms describe-key --key-id {} --query \
             KeyMetadata.Arn`)",
            s.rsplit_once(':').map_or(s, |(_, a)| a)
        ));
    }
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, key_region, account, resource] = parts[..] else {
        return Err(bad());
    };
    let named = |prefix: &str| resource.strip_prefix(prefix).is_some_and(|r| !r.is_empty());
    let ok = arn == "arn"
        && partition == "aws"
        && service == "kms"
        && region(key_region).is_ok()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && named("key/");
    if ok {
        Ok(key_region)
    } else {
        Err(bad())
    }
}

/// The presigner's own rule: a prefix it accepts here is one its init accepts.
pub(super) fn uploads_prefix(s: &str) -> Result<(), String> {
    presigner::validate_uploads_prefix(s)
}

/// `website`, `*`, or `http(s)://host[:port]`; returned lower-cased, as browsers send origins.
pub(super) fn origin(s: &str) -> Result<Origin, String> {
    const RULE: &str = "use `website` (the website bucket's own origin), `*`, or \
                        `http(s)://host[:port]` such as `https://app.example.com`";
    let o = s.to_ascii_lowercase();
    if o == "website" {
        return Ok(Origin::Website);
    }
    if o == "*" {
        return Ok(Origin::Url(o));
    }
    let Some(rest) = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"))
    else {
        return Err(format!("`{s}` is not an origin; {RULE}"));
    };
    if rest.contains(['/', '?', '#']) {
        return Err(format!(
            "`{s}` has a path; an origin is only `scheme://host[:port]`, without even a \
             trailing `/`"
        ));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    let port_ok = port.is_none_or(|p| {
        !p.starts_with('0') && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok()
    });
    if !port_ok {
        return Err(format!("`{s}` has an invalid port; ports are 1 to 65535"));
    }
    let host_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if !host_ok {
        return Err(format!(
            "`{s}` has an invalid host name (labels of a-z, 0-9 and `-`; no wildcards); {RULE}"
        ));
    }
    Ok(Origin::Url(o))
}

/// Upper-cased.
pub(super) fn method(s: &str) -> Result<String, String> {
    let m = s.to_ascii_uppercase();
    if ["GET", "PUT", "POST", "HEAD", "DELETE"].contains(&m.as_str()) {
        Ok(m)
    } else {
        Err(format!(
            "`{s}` is not allowed; S3 CORS methods are GET, PUT, POST, HEAD and DELETE"
        ))
    }
}

/// RFC 9110 token characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Lower-cased: header names are case-insensitive, and this makes duplicates visible.
pub(super) fn header(s: &str) -> Result<String, String> {
    if is_token(s) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(format!(
            "`{s}` is not a header name; use letters, digits and ! # $ % & ' * + - . ^ _ ` | ~"
        ))
    }
}

/// Lower-cased `type/subtype`, or `*/*`.
pub(super) fn content_type(s: &str) -> Result<String, String> {
    let t = s.to_ascii_lowercase();
    if t == "*/*" {
        return Ok(t);
    }
    let well_formed = t
        .split_once('/')
        .is_some_and(|(ty, sub)| is_token(ty) && is_token(sub));
    if !well_formed {
        return Err(format!(
            "`{s}` is not a content type; use `type/subtype` such as `image/png`, or `*/*` for any"
        ));
    }
    if t.contains('*') {
        return Err(format!(
            "`{s}`: only `*/*` may use a wildcard; list each type, such as `image/png`"
        ));
    }
    Ok(t)
}

pub(super) fn function_name(s: &str) -> Result<(), String> {
    aws_name(
        s,
        "-_",
        "a Lambda function name is 1 to 64 characters of A-Z, a-z, 0-9, `-` and `_`",
    )
}

pub(super) fn role_name(s: &str) -> Result<(), String> {
    aws_name(
        s,
        "+=,.@_-",
        "an IAM role name is 1 to 64 characters of A-Z, a-z, 0-9 and `+ = , . @ _ -`",
    )
}

/// A customer managed policy's ARN: `arn:aws:iam::ACCOUNT:policy/[PATH/]NAME`, the account
/// 12 digits or `{account}`.
pub(super) fn managed_policy_arn(s: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "`{s}` is not the ARN of a managed policy; use \
             arn:aws:iam::ACCOUNT_ID:policy/NAME (or `{{account}}` for this account)"
        )
    };
    let rest = s.strip_prefix("arn:aws:iam::").ok_or_else(bad)?;
    let (account, path) = rest.split_once(':').ok_or_else(bad)?;
    let account_ok = account == super::model::ACCOUNT_PLACEHOLDER
        || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()));
    let name = path.strip_prefix("policy/").ok_or_else(bad)?;
    let name_ok = name.split('/').all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    });
    if account_ok && name_ok && s.len() <= 2048 {
        Ok(())
    } else {
        Err(bad())
    }
}

fn aws_name(s: &str, extra: &str, rule: &str) -> Result<(), String> {
    if !(1..=64).contains(&len(s)) {
        return Err(format!("`{s}` is {} characters long; {rule}", len(s)));
    }
    match s
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || extra.contains(c)))
    {
        Some(c) => Err(format!("`{s}` contains {}; {rule}", show(c))),
        None => Ok(()),
    }
}

/// A key in the website bucket, relative to its root.
pub(super) fn object_key(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty; give a key such as `index.html`".to_string());
    }
    if s.starts_with('/') {
        return Err(format!(
            "`{s}` starts with `/`; give the key relative to the bucket root, such as `index.html`"
        ));
    }
    if s.len() > 1024 {
        return Err("is longer than 1024 bytes, the S3 key limit".to_string());
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(format!("contains the control character {}", show(c)));
    }
    Ok(())
}

pub(super) fn index_document(s: &str) -> Result<(), String> {
    object_key(s)?;
    if s.contains('/') {
        return Err(format!(
            "`{s}` contains `/`; S3 takes the index document as a file name, such as `index.html`"
        ));
    }
    Ok(())
}

pub(super) fn glob(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("must not be empty; use a glob such as `**/*.html`".to_string());
    }
    globset::GlobBuilder::new(p)
        .literal_separator(true)
        .build()
        .map(drop)
        .map_err(|e| format!("`{p}` is not a valid glob: {}", e.kind()))
}

pub(super) fn header_value(v: &str) -> Result<(), String> {
    if v.trim().is_empty() {
        return Err("must not be empty; give a Cache-Control value such as `no-cache`".to_string());
    }
    match v.chars().find(|c| !matches!(c, ' '..='~')) {
        Some(c) => Err(format!(
            "contains {}; the value is sent as the Cache-Control header, so it must be \
             printable ASCII",
            show(c)
        )),
        None => Ok(()),
    }
}

/// `/api`-style; the presigner's own rule for its base path, so a path accepted here is one
/// its init accepts.
pub(super) fn api_path(s: &str) -> Result<(), String> {
    presigner::validate_base_path(s)
}

/// A domain name for a distribution alias; returned lower-cased. A `*.` wildcard is allowed
/// as the first label, as CloudFront allows it.
pub(super) fn alias(s: &str) -> Result<String, String> {
    let d = s.to_ascii_lowercase();
    let rest = d.strip_prefix("*.").unwrap_or(&d);
    let labels: Vec<&str> = rest.split('.').collect();
    let ok = labels.len() >= 2
        && len(&d) <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if ok {
        Ok(d)
    } else {
        Err(format!(
            "`{s}` is not a domain name; give a name such as `files.example.com` (labels of \
             a-z, 0-9 and `-`, a leading `*.` allowed)"
        ))
    }
}

/// An ACM certificate in us-east-1, the one region CloudFront takes certificates from.
pub(super) fn certificate_arn(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, cert_region, account, resource] = parts[..] else {
        return Err(format!(
            "`{s}` is not an ACM certificate ARN; it looks like \
             `arn:aws:acm:us-east-1:111122223333:certificate/<id>`"
        ));
    };
    let shape = arn == "arn"
        && partition == "aws"
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource
            .strip_prefix("certificate/")
            .is_some_and(|id| !id.is_empty());
    if !shape || service != "acm" {
        return Err(format!(
            "`{s}` is not an ACM certificate ARN; it looks like \
             `arn:aws:acm:us-east-1:111122223333:certificate/<id>`"
        ));
    }
    if cert_region != "us-east-1" {
        return Err(format!(
            "the certificate is in {cert_region}, but CloudFront only uses ACM certificates in \
             us-east-1; request or import it there and give that ARN"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names() {
        assert!(stack_name("acme-docs").is_ok());
        assert!(stack_name("a1b").is_ok());
        assert!(stack_name("ab").unwrap_err().contains("2 characters long"));
        assert!(stack_name("Acme").unwrap_err().contains("contains `A`"));
        assert!(stack_name("acme docs")
            .unwrap_err()
            .contains("contains ' '"));
        assert!(stack_name("-acme").unwrap_err().contains("starts or ends"));
    }

    #[test]
    fn cognito_domains() {
        assert!(cognito_domain("acme-docs-dev-123456789012").is_ok());
        assert!(cognito_domain("my-aws-docs").unwrap_err().contains("`aws`"));
        assert!(cognito_domain("Acme").unwrap_err().contains("contains `A`"));
        assert!(cognito_domain(&"a".repeat(64)).unwrap_err().contains("64"));
        assert!(cognito_domain("acme-")
            .unwrap_err()
            .contains("starts or ends"));
    }

    #[test]
    fn env_names() {
        assert!(env_name("dev").is_ok());
        assert!(env_name("prod-eu-1").is_ok());
        assert!(env_name("").unwrap_err().contains("0 characters"));
        assert!(env_name("production1")
            .unwrap_err()
            .contains("11 characters"));
        assert!(env_name("Prod").unwrap_err().contains("contains `P`"));
    }

    #[test]
    fn regions() {
        for ok in ["eu-central-1", "ap-southeast-5", "il-central-1"] {
            assert!(region(ok).is_ok(), "{ok}");
        }
        for other_partition in ["us-gov-west-1", "us-isob-east-1", "cn-northwest-1"] {
            let e = region(other_partition).unwrap_err();
            assert!(e.contains("commercial `aws` partition"), "{e}");
        }
        for bad in [
            "eu-central",
            "EU-central-1",
            "europe-1",
            "eu--1",
            "eu-central-x",
            "",
        ] {
            assert!(region(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn buckets() {
        assert!(bucket("acme-docs-files").is_ok());
        assert!(bucket("a-b").is_ok());
        let reason = |b: &str| bucket(b).unwrap_err();
        assert!(reason("ab").contains("2 characters long"));
        assert!(reason(&"a".repeat(64)).contains("64 characters long"));
        assert!(reason("Acme").contains("the upper-case `A`"));
        assert!(reason("acme_docs").contains("contains `_`"));
        assert!(reason("192.168.1.1").contains("IP address"));
        assert!(reason("acme.docs").contains("contains `.`"));
        assert!(reason("-acme").contains("start and end"));
        assert!(reason("xn--acme").contains("`xn--` are reserved"));
        assert!(reason("sthree-acme").contains("reserved"));
        assert!(reason("amzn-s3-demo-acme").contains("reserved"));
        assert!(reason("acme-s3alias").contains("`-s3alias` are reserved"));
        assert!(reason("acme--ol-s3").contains("reserved"));
        assert!(reason("acme--x-s3").contains("reserved"));
    }

    #[test]
    fn tags() {
        assert!(tag_key("team").is_ok());
        assert!(tag_key("app.example/owner").is_ok());
        assert!(tag_value("").is_ok());
        assert!(tag_value("Team A (east)")
            .unwrap_err()
            .contains("contains `(`"));
        assert!(tag_key("AWS:x").unwrap_err().contains("reserved by AWS"));
        assert!(tag_key("presign-stack:env")
            .unwrap_err()
            .contains("ownership tags"));
        assert!(tag_key(&"k".repeat(129)).unwrap_err().contains("1 to 128"));
        assert!(tag_value(&"v".repeat(257))
            .unwrap_err()
            .contains("at most 256"));
    }

    #[test]
    fn policy_arns() {
        assert!(managed_policy_arn("arn:aws:iam::123456789012:policy/presign-stack-ci/b").is_ok());
        assert!(managed_policy_arn("arn:aws:iam::{account}:policy/b").is_ok());
        for bad in [
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::123456789012:role/x",
            "arn:aws:iam::123456789012:policy/",
            "arn:aws:iam::1234:policy/b",
            "b",
        ] {
            assert!(managed_policy_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kms_arns() {
        assert_eq!(
            kms_key_arn("arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab"),
            Ok("eu-central-1")
        );
        let alias = kms_key_arn("arn:aws:kms:eu-west-1:123456789012:alias/docs").unwrap_err();
        assert!(
            alias.contains("alias") && alias.contains("describe-key --key-id alias/docs"),
            "{alias}"
        );
        assert!(kms_key_arn("arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/k").is_err());
        let gov = region("us-gov-west-1").unwrap_err();
        assert!(
            gov.contains("aws-us-gov") && gov.contains("commercial"),
            "{gov}"
        );
        assert!(region("cn-north-1").unwrap_err().contains("aws-cn"));
        assert!(region("eu-central-1").is_ok());
        for bad in [
            "alias/docs",
            "arn:aws:kms:eu-central-1:1234:key/x",
            "arn:aws:s3:eu-central-1:123456789012:key/x",
            "arn:aws:kms:eu-central-1:123456789012:key/",
            "arn:aws:kms:eu-central-1:123456789012:secret/x",
        ] {
            assert!(kms_key_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes() {
        assert!(uploads_prefix("uploads/").is_ok());
        assert!(uploads_prefix("a/b_c.d-e/").is_ok());
        let reason = |p: &str| uploads_prefix(p).unwrap_err();
        assert!(reason("").contains("must not be empty"));
        assert!(reason("uploads").contains("must end with `/`"));
        assert!(reason("/uploads/").contains("starts with `/`"));
        assert!(reason("a/../b/").contains("`..` segment"));
        assert!(reason("../").contains("`..` segment"));
        assert!(reason("a//").contains("empty segment"));
        assert!(reason("up#/").contains("contains `#`"));
        assert!(reason("a/./").contains("`.` segment"));
        assert!(reason(&"a/".repeat(300)).contains("at most 512"));
        assert!(uploads_prefix("it's(1)!/").is_ok(), "S3's safe characters");
        // `*` is safe for S3 but a wildcard in the role's policy, as is `?`.
        assert!(reason("u*/").contains("contains `*`, which IAM reads"));
        assert!(reason("u?/").contains("contains `?`, which IAM reads"));
        assert!(reason("up loads/").contains("contains ' '"));
    }

    #[test]
    fn origins() {
        assert_eq!(origin("website"), Ok(Origin::Website));
        assert_eq!(origin("*"), Ok(Origin::Url("*".into())));
        assert_eq!(
            origin("https://App.Example.com"),
            Ok(Origin::Url("https://app.example.com".into()))
        );
        assert!(origin("http://localhost:5173").is_ok());
        assert!(origin("http://127.0.0.1:8080").is_ok());
        let reason = |o: &str| origin(o).unwrap_err();
        assert!(reason("https://a.com/app").contains("has a path"));
        assert!(reason("https://a.com/").contains("has a path"));
        assert!(reason("a.com").contains("is not an origin"));
        assert!(reason("ftp://a.com").contains("is not an origin"));
        assert!(reason("https://a.com:0").contains("invalid port"));
        assert!(reason("https://a.com:99999").contains("invalid port"));
        assert!(reason("https://a.com:").contains("invalid port"));
        assert!(reason("https://*.a.com").contains("invalid host"));
        assert!(reason("https://").contains("invalid host"));
        assert!(reason("https://a..com").contains("invalid host"));
    }

    #[test]
    fn methods_headers_and_types() {
        assert_eq!(method("put"), Ok("PUT".into()));
        assert!(method("PATCH")
            .unwrap_err()
            .contains("GET, PUT, POST, HEAD and DELETE"));
        assert_eq!(header("Content-Type"), Ok("content-type".into()));
        assert!(header("x-amz-*").is_ok());
        assert!(header("content type").is_err());
        assert_eq!(content_type("Image/PNG"), Ok("image/png".into()));
        assert_eq!(content_type("*/*"), Ok("*/*".into()));
        assert!(content_type("application/vnd.ms-excel").is_ok());
        assert!(content_type("image")
            .unwrap_err()
            .contains("not a content type"));
        assert!(content_type("image/").is_err());
        assert!(content_type("text/plain; charset=utf-8").is_err());
        assert!(content_type("a/b/c").is_err());
        assert!(content_type("image/*").unwrap_err().contains("only `*/*`"));
    }

    #[test]
    fn names_keys_globs_and_values() {
        assert!(function_name("acme_docs-presigner").is_ok());
        assert!(function_name("acme.docs")
            .unwrap_err()
            .contains("contains `.`"));
        assert!(function_name(&"f".repeat(65))
            .unwrap_err()
            .contains("65 characters"));
        assert!(role_name("acme+docs=x,y.z@w").is_ok());
        assert!(role_name("acme/docs").is_err());
        assert!(object_key("errors/404.html").is_ok());
        assert!(object_key("/index.html")
            .unwrap_err()
            .contains("starts with `/`"));
        assert!(index_document("docs/index.html")
            .unwrap_err()
            .contains("contains `/`"));
        assert!(glob("**/*.html").is_ok());
        assert!(glob("{a,b").unwrap_err().contains("not a valid glob"));
        assert!(glob("").is_err());
        assert!(header_value("public, max-age=300").is_ok());
        assert!(header_value(" ").is_err());
        assert!(header_value("caf\u{e9}")
            .unwrap_err()
            .contains("printable ASCII"));
    }
}
