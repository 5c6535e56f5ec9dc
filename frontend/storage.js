// The storage transport: the requests to storage (S3, or dev's store) with the URLs and headers
// the presigner signed, S3's XML answers and refusals in plain words, which failures are worth
// trying again, and the wait before each new try.
import { abortReason, failure } from "./failures.js";

// Tries for completing (S3 may answer 200 with an InternalError body; try again then).
const COMPLETE_ATTEMPTS = 3;

// Browsers refuse to let scripts set these; they send the right values themselves.
const FORBIDDEN_HEADERS = new Set(["content-length", "host", "connection", "expect"]);

const NETWORK_ERROR =
  "The upload to storage failed: network error, or the documents bucket's CORS " +
  "settings do not allow this site.";

// One request to storage by XMLHttpRequest (for its upload progress), with every header the
// presigner signed but content-length. Resolves with { status, text, etag } whatever storage
// answers (etag only when `req.etag` asks for it); rejects on a network error, or when
// `signal` aborts it (cancelled, or stopped when aborted with a stop).
export function storageRequest(req, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open(req.method, req.url, true);
    for (const [name, value] of Object.entries(req.headers || {})) {
      if (!FORBIDDEN_HEADERS.has(name.toLowerCase())) xhr.setRequestHeader(name, String(value));
    }
    if (req.onProgress) {
      xhr.upload.onprogress = (e) => req.onProgress(e.loaded);
    }
    const abort = () => xhr.abort();
    if (signal) signal.addEventListener("abort", abort, { once: true });
    const settle = (f) => () => {
      if (signal) signal.removeEventListener("abort", abort);
      f();
    };
    xhr.onload = settle(() => {
      // Only a part's answer has an ETag to read (asking for an unexposed header logs an error).
      const ok = xhr.status >= 200 && xhr.status < 300;
      const etag = ok && req.etag ? xhr.getResponseHeader("ETag") : null;
      resolve({ status: xhr.status, text: xhr.responseText || "", etag });
    });
    xhr.onerror = settle(() => reject(failure(NETWORK_ERROR, { network: true })));
    xhr.ontimeout = settle(() =>
      reject(failure("The upload to storage timed out.", { network: true })),
    );
    xhr.onabort = settle(() => reject(abortReason(signal)));
    xhr.send(req.body === undefined ? null : req.body);
  });
}

// S3 answers in XML: <Error><Code>…</Code><Message>…</Message></Error> when it refuses.
function parseXml(text) {
  if (!text || !text.trim()) return null;
  const doc = new DOMParser().parseFromString(text, "application/xml");
  if (doc.getElementsByTagName("parsererror").length > 0) return null;
  return doc;
}

function xmlText(doc, name) {
  const node = doc.getElementsByTagNameNS("*", name)[0];
  return node ? node.textContent.trim() : "";
}

function s3Error(text) {
  const doc = parseXml(text);
  if (!doc || doc.documentElement.localName !== "Error") return null;
  return { code: xmlText(doc, "Code"), message: xmlText(doc, "Message") };
}

function expiredLink(err) {
  return err && err.code === "AccessDenied" && /expired/i.test(err.message);
}

// Storage's refusal in plain words, with its XML Code and Message.
export function storageError(status, text) {
  const err = s3Error(text) || { code: "", message: "" };
  const { code, message } = err;
  if (expiredLink(err)) {
    return "The upload link expired before the upload started. Please try again.";
  }
  if (code === "SignatureDoesNotMatch") {
    return (
      "Storage refused the upload: it does not match what was signed (" + status + " " + code +
      ")."
    );
  }
  if (code === "EntityTooLarge") {
    return "Storage refused the upload: the file is too large (" + status + " " + code + ").";
  }
  if (status === 412 || code === "PreconditionFailed") {
    return (
      "Storage refused the upload: a file is already stored under this key, and it was " +
      "not replaced (" + status + " " + (code || "PreconditionFailed") + ")."
    );
  }
  if (code === "BadDigest") {
    return (
      "Storage refused the bytes: they do not match the SHA-256 the page computed from the " +
      "file (" + status + " " + code + "). If the file changed while it was being sent, " +
      "choose it again."
    );
  }
  const detail = [code, message].filter(Boolean).join(": ");
  return "Storage refused the upload (" + status + (detail ? " " + detail : "") + ").";
}

// Worth trying again: the network, storage's own failures and throttling, a timeout, an
// expired link (a new one is asked for).
export function retryable(status, text) {
  if (status === 0 || status === 408 || status === 429 || status >= 500) return true;
  const err = s3Error(text);
  if (!err) return false;
  return (
    ["RequestTimeout", "InternalError", "SlowDown", "ServiceUnavailable"].includes(err.code) ||
    expiredLink(err)
  );
}

// The failure for an answer saying storage no longer has the upload in parts, or null.
export function uploadGone(status, text) {
  const err = s3Error(text);
  if (status !== 404 || (err && err.code !== "NoSuchUpload")) return null;
  return failure("Storage no longer has this upload (404 NoSuchUpload).", {
    restart: "storage no longer had the parts sent earlier (404 NoSuchUpload)",
  });
}

// 1 s, 2 s, 4 s…, each somewhere between half and all of that.
export function backoff(attempt) {
  const ms = 1000 * 2 ** (attempt - 1);
  return ms / 2 + Math.random() * (ms / 2);
}

// Waits `ms`, or less if `signal` aborts meanwhile.
export function pause(signal, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

// Sends the presigner's CreateMultipartUpload request; resolves with storage's UploadId.
export async function createUpload(create, signal) {
  const res = await storageRequest(
    { method: create.method || "POST", url: create.url, headers: create.headers },
    signal,
  );
  const doc = res.status === 200 ? parseXml(res.text) : null;
  const uploadId = doc && doc.documentElement.localName !== "Error" ? xmlText(doc, "UploadId") : "";
  if (!uploadId) {
    throw new Error(
      res.status === 200 && !s3Error(res.text)
        ? "Storage answered the start of the upload without an UploadId."
        : storageError(res.status, res.text),
    );
  }
  return uploadId;
}

// Sends the presigner's CompleteMultipartUpload request until storage has made the object. S3
// may answer 200 with an <Error> body: that is a failure too, tried again when S3 is the one
// failing.
export async function completeUpload(done, signal) {
  for (let attempt = 1; ; attempt += 1) {
    const res = await storageRequest(
      {
        method: done.method || "POST",
        url: done.url,
        headers: done.headers,
        body: new Blob([done.body], { type: "application/xml" }),
      },
      signal,
    );
    const doc = parseXml(res.text);
    const root = doc ? doc.documentElement.localName : "";
    if (res.status === 200 && root === "CompleteMultipartUploadResult") return;
    const gone = uploadGone(res.status, res.text);
    if (gone) throw gone;
    const err = s3Error(res.text);
    const passing = err && ["InternalError", "SlowDown", "ServiceUnavailable"].includes(err.code);
    if (attempt < COMPLETE_ATTEMPTS && (res.status >= 500 || (res.status === 200 && passing))) {
      await pause(signal, backoff(attempt));
      continue;
    }
    if (res.status === 200 && !err) {
      throw new Error("Storage answered the completion of the upload with something unexpected.");
    }
    // The parts can never make this object (the key is taken, or storage refuses them).
    throw failure(storageError(res.status, res.text), {
      discard: res.status === 412 || res.status === 400 || res.status === 200,
    });
  }
}

// Sends the presigner's AbortMultipartUpload request; true when storage no longer has the upload.
export async function abortUpload(req) {
  const res = await storageRequest({
    method: req.method || "DELETE",
    url: req.url,
    headers: req.headers,
  });
  return (res.status >= 200 && res.status < 300) || res.status === 404;
}
