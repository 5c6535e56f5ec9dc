// The multipart engine: sends the parts an upload in parts lacks, PARTS_IN_FLIGHT at a time,
// each checked by its SHA-256 and saved once stored (for a resume), with its URL asked of the
// presigner a batch at a time and failures that may pass tried again; then completes the
// upload, or aborts it.
import { sha256Blob } from "./checksum.js";
import { cancelled, checkCancelled, failure, stopped } from "./failures.js";
import {
  abortUpload,
  backoff,
  completeUpload,
  pause,
  retryable,
  storageError,
  storageRequest,
  uploadGone,
} from "./storage.js";

// Parts of one file in flight.
const PARTS_IN_FLIGHT = 4;
// Part URLs asked of the presigner in one call, at most.
const PARTS_PER_REQUEST = 32;
// Parts hashed ahead of the ones being sent, so that each call for URLs can ask for many.
const HASH_AHEAD = 32;
// Tries for one part (network errors, storage's 5xx and throttling, an expired link).
const PART_ATTEMPTS = 4;

// A new upload in parts, as the resume store keeps it, from the presigner's plan.
export function newUpload(plan, uploadId, contentType) {
  const now = new Date().toISOString();
  return {
    key: plan.key,
    uploadId,
    partSize: plan.partSize,
    partCount: plan.partCount,
    contentType,
    parts: {},
    createdAt: now,
    savedAt: now,
  };
}

function partRange(up, size, n) {
  const start = (n - 1) * up.partSize;
  return [start, Math.min(n * up.partSize, size)];
}

function fresh(link) {
  return link && performance.now() < link.freshUntil;
}

// A failure to get a part's URL that the part's next try may not meet: the presigner out of
// reach, or unavailable for a moment, is like a failed part.
function presignerMayPass(e) {
  if (e.cancelled || e.stopped || e.restart) return false;
  return e.network || e.status === 429 || e.status >= 500;
}

// The sending of the parts `missing` of the upload `up`, for the transfer `t` ({ file,
// presigner, store, signal, report }).
class PartSender {
  constructor(t, up, missing) {
    this.t = t;
    this.up = up;
    this.missing = missing;
    this.todo = missing.slice();
    this.shas = new Map(); // part number -> promise of its base64 SHA-256
    this.shaKnown = new Map(); // part number -> its base64 SHA-256, once computed
    this.links = new Map(); // part number -> { method, url, headers, freshUntil }
    this.sending = new Set();
    this.finished = new Set();
    this.hashing = Promise.resolve();
    this.asking = null; // the call for part URLs in flight
    this.stop = null; // the error that ends this upload
    // The part requests in flight end when the upload is cancelled, or cannot go on.
    this.inFlight = new AbortController();
    this.cancelParts = () => this.inFlight.abort(cancelled());
  }

  halt() {
    checkCancelled(this.t.signal);
    if (this.stop) throw stopped();
  }

  range(n) {
    return partRange(this.up, this.t.file.size, n);
  }

  // Parts are hashed one at a time, in order, a little ahead of the ones being sent.
  shaOf(n) {
    if (!this.shas.has(n)) {
      const p = this.hashing.then(async () => {
        this.halt();
        const [start, end] = this.range(n);
        const file = this.t.file;
        const sha = await sha256Blob(file.slice(start, end), file.name, () => this.halt());
        this.shaKnown.set(n, sha);
        return sha;
      });
      p.catch(() => {}); // awaited by the sender; not an unhandled rejection meanwhile
      this.hashing = p.catch(() => {});
      this.shas.set(n, p);
    }
    return this.shas.get(n);
  }

  hashAhead() {
    for (const n of this.todo.slice(0, HASH_AHEAD)) this.shaOf(n);
  }

  // One call for the URLs of part `n` and of the other parts still to send: the next few
  // (hashed first if need be, so that the first call serves every sender) and any others
  // whose hashes are ready.
  async askLinks(n) {
    const others = this.missing.filter(
      (m) => m !== n && !this.finished.has(m) && !this.sending.has(m) && !fresh(this.links.get(m)),
    );
    await Promise.allSettled(others.slice(0, PARTS_IN_FLIGHT - 1).map((m) => this.shaOf(m)));
    this.halt();
    const wanted = [n, ...others.filter((m) => this.shaKnown.has(m))].slice(0, PARTS_PER_REQUEST);
    const parts = await this.t.presigner.partUrls(
      this.up,
      this.t.file.size,
      wanted.map((m) => ({ partNumber: m, sha256: this.shaKnown.get(m) })),
      this.t.signal,
    );
    const received = performance.now();
    for (const p of parts) {
      if (!p || !wanted.includes(p.partNumber) || typeof p.url !== "string") {
        throw new Error("The presigner answered with a part URL that was not asked for.");
      }
      this.links.set(p.partNumber, this.link(p, received));
    }
  }

  // A part's URL as the presigner gave it, and until when to use it.
  link(p, received) {
    const [start, end] = this.range(p.partNumber);
    const headers = p.headers || {};
    const length = headers["content-length"];
    if (length !== undefined && Number(length) !== end - start) {
      // The presigner's part size changed since this upload began: its parts cannot be
      // completed together. Begin again.
      throw failure("The presigner now cuts files into parts of another size.", {
        restart: "the presigner's part size has changed since it began",
      });
    }
    // Used before it expires, with a margin (the link says how long it lasts).
    const seconds = Number(new URL(p.url).searchParams.get("X-Amz-Expires")) || 300;
    const margin = Math.min(60, seconds / 4) * 1000;
    const freshUntil = received + seconds * 1000 - margin;
    return { method: p.method || "PUT", url: p.url, headers, freshUntil };
  }

  async linkFor(n) {
    for (;;) {
      this.halt();
      const link = this.links.get(n);
      if (fresh(link)) {
        this.links.delete(n);
        return link;
      }
      if (this.asking) {
        await this.asking;
      } else {
        this.asking = this.askLinks(n);
        this.asking.catch(() => {});
        try {
          await this.asking;
        } finally {
          this.asking = null;
        }
      }
    }
  }

  // One PUT of part `n`: { res } with storage's answer, or { error } when none came.
  async put(n, link) {
    const [start, end] = this.range(n);
    this.halt();
    this.sending.add(n);
    try {
      const res = await storageRequest(
        {
          method: link.method,
          url: link.url,
          headers: link.headers,
          body: this.t.file.slice(start, end),
          etag: true,
          onProgress: (loaded) => this.t.report.progress(n, loaded),
        },
        this.inFlight.signal,
      );
      return { res };
    } catch (e) {
      if (e.cancelled || e.stopped) throw e;
      return { error: e };
    } finally {
      this.sending.delete(n);
    }
  }

  stored(n, sha, etag) {
    if (!etag) {
      throw new Error(
        "Storage took part " + n + " but the page cannot read its ETag: the documents " +
          "bucket's CORS settings must expose the ETag header.",
      );
    }
    const [start, end] = this.range(n);
    this.up.parts[n] = { etag, sha256: sha };
    this.finished.add(n);
    this.t.store.save(this.t.file, this.up);
    this.t.report.stored(n, end - start);
  }

  // Sends part `n`, trying again after failures that may pass.
  async sendPart(n) {
    for (let attempt = 1; ; attempt += 1) {
      const sha = await this.shaOf(n);
      let link;
      try {
        link = await this.linkFor(n);
      } catch (e) {
        if (!presignerMayPass(e) || attempt >= PART_ATTEMPTS) throw e;
        await pause(this.t.signal, backoff(attempt));
        continue;
      }
      const { res, error } = await this.put(n, link);
      if (res && res.status >= 200 && res.status < 300) {
        this.stored(n, sha, res.etag);
        return;
      }
      this.t.report.dropped(n);
      const status = res ? res.status : 0;
      const text = res ? res.text : "";
      const gone = uploadGone(status, text);
      if (gone) throw gone;
      if (attempt < PART_ATTEMPTS && retryable(status, text)) {
        await pause(this.t.signal, backoff(attempt));
        continue;
      }
      if (error) throw error;
      throw new Error("Part " + n + " of " + this.up.partCount + ": " + storageError(status, text));
    }
  }

  async worker() {
    while (!this.stop && !this.t.signal.aborted) {
      const n = this.todo.shift();
      if (n === undefined) return;
      this.hashAhead();
      try {
        await this.sendPart(n);
      } catch (e) {
        if (e.stopped) return;
        if (!this.stop) this.stop = e;
        // The others finish the parts they are sending (kept for a resume), unless the whole
        // upload is gone or cancelled.
        if (e.cancelled || e.restart) this.inFlight.abort(stopped());
        return;
      }
    }
  }

  async run() {
    this.t.signal.addEventListener("abort", this.cancelParts, { once: true });
    try {
      this.hashAhead();
      const workers = [];
      const count = Math.min(PARTS_IN_FLIGHT, this.todo.length);
      for (let i = 0; i < count; i += 1) workers.push(this.worker());
      await Promise.all(workers);
    } finally {
      this.t.signal.removeEventListener("abort", this.cancelParts);
    }
    checkCancelled(this.t.signal);
    if (this.stop) throw this.stop;
  }
}

// Completes the upload `up`: the presigner does, or gives the request storage takes.
async function completeParts(t, up) {
  const parts = [];
  for (let n = 1; n <= up.partCount; n += 1) {
    parts.push({ partNumber: n, etag: up.parts[n].etag, sha256: up.parts[n].sha256 });
  }
  checkCancelled(t.signal);
  const done = await t.presigner.complete(up, t.file.size, parts, t.signal);
  // Past this point a cancel could race storage's completion: it is no longer offered.
  t.report.finishing();
  if (typeof done.url !== "string") {
    t.store.drop(t.file);
    return up.key;
  }
  if (typeof done.body !== "string") {
    throw new Error("The presigner answered with something that is not a completion request.");
  }
  try {
    await completeUpload(done, t.signal);
  } catch (e) {
    // Parts that can never make this object are discarded rather than resumed.
    if (e.discard) {
      t.store.drop(t.file);
      await discardUpload(t.presigner, up);
    }
    throw e;
  }
  t.store.drop(t.file);
  return up.key;
}

// Sends the parts `up` is missing, then completes the upload; resolves with its key.
export async function uploadParts(t, up) {
  t.upload = up;
  const missing = [];
  let stored = 0;
  for (let n = 1; n <= up.partCount; n += 1) {
    if (up.parts[n]) {
      const [start, end] = partRange(up, t.file.size, n);
      stored += end - start;
    } else {
      missing.push(n);
    }
  }
  t.report.sending(stored);
  if (missing.length > 0) await new PartSender(t, up, missing).run();
  return completeParts(t, up);
}

// Asks the presigner for an AbortMultipartUpload and sends it: storage deletes the parts.
// True when storage no longer has the upload.
export async function discardUpload(presigner, up) {
  try {
    const answer = await presigner.abort(up);
    if (typeof answer.url !== "string") return true;
    return await abortUpload(answer);
  } catch (_) {
    return false;
  }
}
