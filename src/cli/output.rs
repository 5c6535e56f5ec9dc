//! What goes to stdout (results, as text or JSON) and the last line on stderr.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;

use super::Format;
use crate::spec::Spec;

/// A result on stdout, as text or JSON.
pub fn print<T: Serialize + std::fmt::Display>(format: Format, value: &T) -> Result<()> {
    match format {
        Format::Text => out(value),
        Format::Json => out(serde_json::to_string_pretty(value)?),
    }
}

/// One line of results on stdout. A reader that went away (`| head`) ends the output quietly,
/// as for any Unix filter; any other write failure (a full disk) is an error.
pub fn out(line: impl std::fmt::Display) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("writing the result to stdout")
        }
        _ => Ok(()),
    }
}

/// A line on stderr; nowhere left to report a failure to write it.
pub fn err_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `validate`'s result: the resolved names and settings.
pub struct Validated<'a>(pub &'a Spec);

impl Serialize for Validated<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let spec = self.0;
        serde_json::json!({
            "valid": true,
            "name": spec.name,
            "env": spec.env,
            "region": spec.region,
            "documents_bucket": spec.documents.bucket,
            "website_bucket": spec.website.bucket,
            "function_name": spec.presigner.function_name,
            "role_name": spec.presigner.role_name,
        })
        .serialize(s)
    }
}

impl std::fmt::Display for Validated<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let spec = self.0;
        writeln!(f, "{} is valid (env {})", spec.file.display(), spec.env)?;
        writeln!(f, "  documents bucket  {}", spec.documents.bucket)?;
        writeln!(f, "  website bucket    {}", spec.website.bucket)?;
        writeln!(f, "  function          {}", spec.presigner.function_name)?;
        write!(f, "  role              {}", spec.presigner.role_name)
    }
}

/// What `bundle` wrote.
#[derive(Serialize)]
pub struct Bundled {
    /// The code digest `up` records on the function (`presign-stack:code`).
    digest: String,
    /// base64 SHA-256 of the zip: Lambda's CodeSha256.
    code_sha256: String,
    path: PathBuf,
    bytes: usize,
}

impl Bundled {
    pub fn new(code: &crate::bundle::Code, path: &std::path::Path) -> Bundled {
        let b = code.bundle.as_ref().expect("built");
        Bundled {
            digest: code.digest.clone(),
            code_sha256: b.sha256_base64.clone(),
            path: path.to_path_buf(),
            bytes: b.zip.len(),
        }
    }
}

/// `bundle --out-dir`: a zip for each architecture.
#[derive(Serialize)]
pub struct BundledAll {
    pub zips: Vec<Bundled>,
}

impl std::fmt::Display for BundledAll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, z) in self.zips.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{z}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Bundled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "digest      = {}", self.digest)?;
        writeln!(f, "code_sha256 = {}", self.code_sha256)?;
        write!(
            f,
            "wrote {} ({} KiB)",
            self.path.display(),
            self.bytes.div_ceil(1024)
        )
    }
}
