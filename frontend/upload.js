// One file's upload: asks the presigner, then sends the file in one PUT (hashed first, so that
// storage checks its bytes) or in parts; resumes a saved upload in parts, and begins again,
// once, when storage no longer has it. Its progress goes to a reporter, its outcome is a value
// the page shows: nothing here touches the page.
//
// The reporter: hashing(on), sending(bytesAlreadyStored), progress(id, bytesSent),
// stored(id, bytes), dropped(id), finishing() (no cancel from here on), resuming(saved),
// restarting(reason), cancelling().
import { HASH_SLICE, canHash, sha256Blob } from "./checksum.js";
import { checkCancelled } from "./failures.js";
import { fileType } from "./limits.js";
import { discardUpload, newUpload, uploadParts } from "./multipart.js";
import { createUpload, storageError, storageRequest } from "./storage.js";

// The presigner's default multipart_threshold_bytes: a file up to this size is hashed whole
// before the presigner is asked, so that its single PUT can be checked by storage.
const DEFAULT_THRESHOLD = 64 * 1024 * 1024;

// The smallest file the presigner has planned in parts so far.
let multipartAbove = Infinity;

// Whether to hash the whole file before asking: only when it is likely to go in one PUT.
function likelySinglePut(config, size) {
  const threshold = config.multipartThresholdBytes || DEFAULT_THRESHOLD;
  return size <= threshold && size < multipartAbove;
}

// The file's SHA-256 for its single PUT; null when this page has no way to compute it (no
// WebCrypto and no sha256.js): the PUT then goes unchecked, as it did before checksums.
async function hashFile(t) {
  const file = t.file;
  if (!(await canHash())) return null;
  t.report.hashing(file.size > HASH_SLICE);
  const sha = await sha256Blob(file, file.name, () => checkCancelled(t.signal));
  checkCancelled(t.signal);
  t.report.hashing(false);
  return sha;
}

// A file up to the presigner's threshold: one PUT, checked by storage against its SHA-256
// and made only if no object has the key yet.
async function putWhole(t, plan) {
  const file = t.file;
  const headers = plan.headers || {};
  const signedLength = headers["content-length"];
  if (signedLength !== undefined && String(signedLength) !== String(file.size)) {
    throw new Error("The upload URL was signed for a different file size; please try again.");
  }
  t.report.sending(0);
  const res = await storageRequest(
    {
      method: plan.method || "PUT",
      url: plan.url,
      headers,
      body: file,
      onProgress: (loaded) => t.report.progress("whole", loaded),
    },
    t.signal,
  );
  if (res.status < 200 || res.status >= 300) throw new Error(storageError(res.status, res.text));
  t.report.stored("whole", file.size);
}

// Asks the presigner for the file's upload: hashed first when it likely goes in one PUT.
async function planUpload(t) {
  const file = t.file;
  const ask = (sha) => t.presigner.requestUpload(file, fileType(file), sha, t.signal);
  const hashedFirst = likelySinglePut(t.config, file.size);
  const first = await ask(hashedFirst ? await hashFile(t) : null);
  if (first.method === "MULTIPART") {
    multipartAbove = Math.min(multipartAbove, file.size);
    return first;
  }
  if (hashedFirst) return first;
  // Larger than the page guessed the presigner's threshold to be: hash it and ask again,
  // so that storage checks these bytes too. The first key is never used.
  const sha = await hashFile(t);
  return sha ? ask(sha) : first;
}

// Starts an upload: asks the presigner, then sends the file in one PUT or in parts.
async function uploadFresh(t) {
  const p = await planUpload(t);
  if (p.method !== "MULTIPART") {
    await putWhole(t, p);
    return p.key;
  }
  const uploadId =
    typeof p.uploadId === "string" ? p.uploadId : await createUpload(p.create, t.signal);
  const up = newUpload(p, uploadId, fileType(t.file));
  t.store.save(t.file, up);
  return uploadParts(t, up);
}

// Stores the file: resumes its saved upload in parts, if any, or starts one; begins again once
// if storage no longer has the upload. Resolves with { key, resumed, restarted }.
async function storeFile(t) {
  const saved = t.store.load(t.file);
  try {
    if (!saved) return { key: await uploadFresh(t), resumed: false, restarted: "" };
    t.report.resuming(saved);
    return { key: await uploadParts(t, saved), resumed: true, restarted: "" };
  } catch (e) {
    if (!e.restart || t.signal.aborted) throw e;
    // The upload in parts is gone, or cannot be finished: begin again, once, cleanly.
    const stale = t.upload;
    t.store.drop(t.file);
    if (stale) discardUpload(t.presigner, stale);
    t.upload = null;
    t.report.restarting(e.restart);
    return { key: await uploadFresh(t), resumed: false, restarted: e.restart };
  }
}

// After a cancel: whether storage discarded the parts already sent (null: none were).
async function discardCancelled(t) {
  t.report.cancelling();
  if (!t.upload) return null;
  t.store.drop(t.file);
  return discardUpload(t.presigner, t.upload);
}

// The parts of a failed upload in parts that a resume would not send again, or null.
function partsKept(t) {
  const up = t.upload;
  if (!up || !t.store.load(t.file)) return null;
  return { stored: Object.keys(up.parts).length, count: up.partCount };
}

// Uploads `file` with { config, presigner, store, signal, report }; never throws. Resolves
// with { state: "done", key, resumed, restarted }, { state: "cancelled", discarded } or
// { state: "failed", message, parts }.
export async function uploadFile(file, options) {
  const t = { ...options, file, upload: null };
  try {
    return { state: "done", ...(await storeFile(t)) };
  } catch (e) {
    if (t.signal.aborted) return { state: "cancelled", discarded: await discardCancelled(t) };
    return { state: "failed", message: e.message, parts: partsKept(t) };
  }
}
