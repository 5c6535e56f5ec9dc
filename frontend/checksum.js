// SHA-256, for storage's checks (x-amz-checksum-sha256, base64) and for the payload hash the
// presigner needs behind CloudFront (hex): WebCrypto where the page has it (https, localhost);
// sha256.js where it does not (an S3 website endpoint serves the page over plain http, which is
// not a secure context).

const subtle =
  window.isSecureContext && window.crypto && window.crypto.subtle ? window.crypto.subtle : null;
// WebCrypto digests one buffer whole; past this size a file is read and hashed in slices.
const WHOLE_DIGEST_MAX = 256 * 1024 * 1024;
export const HASH_SLICE = 8 * 1024 * 1024;

// sha256.js is fetched the first time the page needs it: with WebCrypto, files up to
// WHOLE_DIGEST_MAX never do.
let jsSha256Loaded = null;
function jsSha256() {
  if (!jsSha256Loaded) {
    jsSha256Loaded = import("./sha256.js").catch(() => {
      throw new Error(
        "This page could not load sha256.js, which it needs to check files here. Reload the page.",
      );
    });
  }
  return jsSha256Loaded;
}

// Whether this page can compute a SHA-256 at all (WebCrypto, or sha256.js once loaded).
export async function canHash() {
  if (subtle) return true;
  return jsSha256().then(() => true, () => false);
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function base64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 1) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

// The hex SHA-256 of `bytes` (a Uint8Array).
export async function sha256Hex(bytes) {
  if (subtle) return hex(new Uint8Array(await subtle.digest("SHA-256", bytes)));
  return hex((await jsSha256()).digest(bytes));
}

async function readBlob(blob, name) {
  try {
    return await blob.arrayBuffer();
  } catch (_) {
    throw new Error(
      "Could not read " + name + ": it may have been moved, deleted or changed since it was " +
        "chosen. Choose it again.",
    );
  }
}

// The base64 SHA-256 of `blob` (a file or a slice of one), as S3's x-amz-checksum-sha256;
// `stillWanted` throws to stop between slices.
export async function sha256Blob(blob, name, stillWanted) {
  if (subtle && blob.size <= WHOLE_DIGEST_MAX) {
    return base64(new Uint8Array(await subtle.digest("SHA-256", await readBlob(blob, name))));
  }
  const h = (await jsSha256()).create();
  for (let at = 0; at < blob.size; at += HASH_SLICE) {
    stillWanted();
    h.update(new Uint8Array(await readBlob(blob.slice(at, at + HASH_SLICE), name)));
  }
  return base64(h.digest());
}
