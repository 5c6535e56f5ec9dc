// presign-stack demo page: ask the presigner for a signed URL, then upload straight to S3.
// No dependencies, no build step. Runtime settings come from config.json (SPEC.md section 4).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const els = {
    file: $("file"),
    drop: $("drop-zone"),
    limits: $("limits"),
    queue: $("queue"),
    upload: $("upload"),
    status: $("status"),
    uploads: $("uploads"),
    uploadsEmpty: $("uploads-empty"),
    downloadsNote: $("downloads-note"),
  };

  const STORAGE_KEY = "presign-stack:uploads";
  const TYPE_LABELS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "image/svg+xml": "SVG",
    "image/heic": "HEIC",
    "application/pdf": "PDF",
    "text/plain": "plain text",
    "text/csv": "CSV",
    "application/zip": "ZIP",
    "application/json": "JSON",
    "application/msword": "Word",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word (.docx)",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel (.xlsx)",
  };

  // Files upload this many at a time; the rest wait their turn.
  const PARALLEL_UPLOADS = 3;

  let config = null;
  // The files chosen last, one entry each: { id, file, problem, state, row elements }.
  // state: ready | refused (by the page's own checks) | waiting | asking | uploading |
  // done | failed (refused by the presigner or storage, or a network error).
  let queue = [];
  let nextId = 1;
  let busy = false;

  // ---------- small helpers ----------

  function setStatus(message, state) {
    els.status.textContent = message;
    els.status.dataset.state = state || "info";
  }

  function formatBytes(n) {
    if (n < 1024) return n + " bytes";
    const units = ["KB", "MB", "GB", "TB"];
    let v = n / 1024;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i += 1;
    }
    const digits = v >= 100 || Number.isInteger(v) ? 0 : 1;
    return v.toFixed(digits) + " " + units[i];
  }

  function typeLabel(t) {
    if (t === "*/*") return "any type";
    if (t.endsWith("/*")) return t.slice(0, -2) + " files";
    return TYPE_LABELS[t] || t;
  }

  function listPhrase(items) {
    if (items.length <= 1) return items.join("");
    return items.slice(0, -1).join(", ") + " and " + items[items.length - 1];
  }

  function typeAllowed(t) {
    const [major] = t.split("/");
    return config.allowedContentTypes.some(
      (a) => a === "*/*" || a === t || (a.endsWith("/*") && a.slice(0, -2) === major),
    );
  }

  // The browser's idea of the type; an unknown type is sent as application/octet-stream.
  function fileType(file) {
    return (file.type || "application/octet-stream").toLowerCase();
  }

  // `${presignerUrl}<path>`, whether or not presignerUrl ends with "/" (relative URLs allowed).
  function presignerEndpoint(path) {
    const base = new URL(config.presignerUrl, window.location.href);
    if (!base.pathname.endsWith("/")) base.pathname += "/";
    return new URL(path, base).toString();
  }

  // Behind CloudFront (the presigner at <api_path>/ of the page's own origin), the
  // distribution signs each call to the Lambda with Origin Access Control, and Lambda takes
  // only a signed payload: the viewer sends x-amz-content-sha256, the hex SHA-256 of the
  // exact body bytes. Cross-origin (the presigner's own Function URL) it is not sent, since
  // the URL's CORS rules do not allow that header.
  const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

  function presignerIsSameOrigin() {
    return new URL(config.presignerUrl, window.location.href).origin === window.location.origin;
  }

  async function sha256Hex(bytes) {
    return hex(await sha256Bytes(bytes));
  }

  // The headers for a call to the presigner carrying `body` (a Uint8Array, or null).
  async function presignerHeaders(headers, body) {
    if (!presignerIsSameOrigin()) return headers;
    if (!body || body.length === 0) return { ...headers, "x-amz-content-sha256": EMPTY_SHA256 };
    return { ...headers, "x-amz-content-sha256": await sha256Hex(body) };
  }

  // ---------- SHA-256 ----------

  // WebCrypto where the page has it (https, localhost); sha256.js where it does not (an S3
  // website endpoint serves the page over plain http, which is not a secure context).
  const subtle = window.isSecureContext && window.crypto && window.crypto.subtle ? window.crypto.subtle : null;
  // WebCrypto digests one buffer whole; past this size a file is read and hashed in slices.
  const WHOLE_DIGEST_MAX = 256 * 1024 * 1024;
  const HASH_SLICE = 8 * 1024 * 1024;

  // sha256.js, fetched the first time the page needs it: where WebCrypto is there, files up to
  // WHOLE_DIGEST_MAX never need it.
  let jsSha256Loaded = null;
  function jsSha256() {
    if (!jsSha256Loaded) {
      jsSha256Loaded = import("./sha256.js").catch(() => {
        throw new Error("This page could not load sha256.js, which it needs to check files here. Reload the page.");
      });
    }
    return jsSha256Loaded;
  }

  async function sha256Bytes(bytes) {
    if (subtle) return new Uint8Array(await subtle.digest("SHA-256", bytes));
    return (await jsSha256()).digest(bytes);
  }

  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function base64(bytes) {
    let s = "";
    for (let i = 0; i < bytes.length; i += 1) s += String.fromCharCode(bytes[i]);
    return btoa(s);
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

  // The base64 SHA-256 of `blob` (a file or a slice of one), as S3's x-amz-checksum-sha256.
  async function sha256Blob(blob, name, stillWanted) {
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

  async function readJson(response) {
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch (_) {
      return null;
    }
  }

  // ---------- configuration ----------

  async function loadConfig() {
    let response;
    try {
      response = await fetch("config.json", { cache: "no-store" });
    } catch (_) {
      throw new Error("Could not load this site's settings (config.json): network error.");
    }
    if (response.status === 404) {
      throw new Error(
        "This site has no config.json yet, so it does not know where the presigner is. " +
          "Deploy it with `presign-stack up`, or run `presign-stack dev`.",
      );
    }
    if (!response.ok) {
      throw new Error("Could not load config.json: the server answered " + response.status + ".");
    }
    const c = await readJson(response);
    if (!c || typeof c !== "object") {
      throw new Error("config.json is not valid JSON.");
    }
    const problems = [];
    if (typeof c.presignerUrl !== "string" || c.presignerUrl === "") {
      problems.push("presignerUrl (the presigner's URL) is missing");
    } else {
      try {
        new URL(c.presignerUrl, window.location.href);
      } catch (_) {
        problems.push("presignerUrl is not a URL");
      }
    }
    if (!Number.isSafeInteger(c.maxUploadBytes) || c.maxUploadBytes < 1) {
      problems.push("maxUploadBytes must be a positive whole number");
    }
    if (
      !Array.isArray(c.allowedContentTypes) ||
      c.allowedContentTypes.length === 0 ||
      !c.allowedContentTypes.every((t) => typeof t === "string")
    ) {
      problems.push("allowedContentTypes must be a non-empty list of media types");
    }
    if (c.allowDownloads !== undefined && typeof c.allowDownloads !== "boolean") {
      problems.push("allowDownloads must be true or false");
    }
    if (problems.length) {
      throw new Error("config.json is not usable: " + problems.join("; ") + ".");
    }
    return {
      // Not written by every version of presign-stack: without it the page guesses.
      multipartThresholdBytes:
        Number.isSafeInteger(c.multipartThresholdBytes) && c.multipartThresholdBytes > 0
          ? c.multipartThresholdBytes
          : null,
      presignerUrl: c.presignerUrl,
      region: typeof c.region === "string" ? c.region : "",
      maxUploadBytes: c.maxUploadBytes,
      allowedContentTypes: c.allowedContentTypes.map((t) => t.trim().toLowerCase()),
      allowDownloads: c.allowDownloads === true,
    };
  }

  // ---------- choosing files ----------

  function problemWith(file) {
    if (file.size === 0) {
      return file.name + " is empty; choose a file with something in it.";
    }
    if (file.size > config.maxUploadBytes) {
      return (
        file.name + " is " + formatBytes(file.size) + "; the limit is " +
        formatBytes(config.maxUploadBytes) + "."
      );
    }
    const t = fileType(file);
    if (!typeAllowed(t)) {
      const allowed = listPhrase(config.allowedContentTypes.map(typeLabel));
      let what;
      if (!file.type) what = "is of a type your browser does not recognise";
      else if (TYPE_LABELS[t]) what = "is a " + TYPE_LABELS[t] + " file (" + t + ")";
      else what = "has type " + t;
      return file.name + " " + what + "; this site accepts " + allowed + ".";
    }
    return null;
  }

  function plural(n, one, many) {
    return n + " " + (n === 1 ? one : many);
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // One row per chosen file: its name, size and type, its own progress bar with the bytes sent
  // and the speed, a Cancel button while it is under way, and its result (the key once stored,
  // or why it was refused), announced on its own.
  function makeEntry(file) {
    const id = "file-" + nextId++;
    const problem = problemWith(file);
    const row = el("li", "file");
    row.dataset.testid = "file-row";
    row.dataset.name = file.name;

    const head = el("div", "file-head");
    const name = el("span", "file-name", file.name);
    const meta = el("span", "file-meta", formatBytes(file.size) + " · " + typeLabel(fileType(file)));
    head.append(name, meta);

    const bar = el("div", "file-progress");
    bar.hidden = true;
    const progress = document.createElement("progress");
    progress.max = 100;
    progress.value = 0;
    progress.dataset.testid = "file-progress";
    progress.setAttribute("aria-label", "Upload of " + file.name);
    const percent = el("span", "progress-label", "");
    percent.dataset.testid = "file-percent";
    percent.setAttribute("aria-hidden", "true");
    const cancel = el("button", "secondary file-cancel", "Cancel");
    cancel.type = "button";
    cancel.hidden = true;
    cancel.dataset.testid = "file-cancel";
    cancel.setAttribute("aria-label", "Cancel the upload of " + file.name);
    bar.append(progress, percent, cancel);

    // Bytes sent of the total and the speed: read on demand, not announced at every change.
    const stats = el("p", "file-stats", "");
    stats.dataset.testid = "file-stats";
    stats.hidden = true;

    const result = el("p", "file-result");
    result.dataset.testid = "file-result";
    result.setAttribute("aria-live", "polite");
    result.id = id + "-result";
    row.setAttribute("aria-describedby", result.id);

    row.append(head, bar, stats, result);
    const entry = {
      id, file, problem, state: "", row, bar, progress, percent, cancel, stats, result,
      resume: null,
    };
    cancel.addEventListener("click", () => cancelEntry(entry));
    if (problem) {
      setState(entry, "refused");
      result.textContent = problem;
    } else {
      setState(entry, "ready");
      entry.resume = loadResume(file);
      if (entry.resume) result.textContent = resumeOffer(entry.resume);
    }
    return entry;
  }

  function resumeOffer(saved) {
    const stored = Object.keys(saved.parts).length;
    return (
      "Part of this file was sent earlier (" + stored + " of " + saved.partCount +
      " parts are stored): Upload resumes from there."
    );
  }

  const IN_PROGRESS = new Set(["waiting", "asking", "uploading"]);

  function setState(entry, state) {
    entry.state = state;
    entry.row.dataset.state = state;
    if (entry.cancel) entry.cancel.hidden = !IN_PROGRESS.has(state) || entry.finishing === true;
  }

  // The bar and its label always show the same number. 100 is kept for the moment storage has
  // accepted the file: until then an upload whose bytes have all been sent shows 99.
  function showProgress(entry, pct) {
    entry.bar.hidden = false;
    entry.progress.value = pct;
    entry.percent.textContent = pct + "%";
  }

  function count(state) {
    return queue.filter((e) => e.state === state).length;
  }

  function refreshButton() {
    const ready = count("ready");
    els.upload.disabled = busy || ready === 0;
    els.upload.textContent = ready > 1 ? "Upload " + ready + " files" : "Upload";
  }

  function choose(fileList) {
    if (busy || !config) return;
    const files = Array.from(fileList || []);
    queue = files.map(makeEntry);
    els.queue.replaceChildren(...queue.map((e) => e.row));
    els.queue.hidden = queue.length === 0;
    els.queue.dataset.state = queue.length === 0 ? "empty" : "chosen";
    refreshButton();
    const ready = count("ready");
    const refused = count("refused");
    const resumable = queue.filter((e) => e.resume).length;
    if (queue.length === 0) {
      setStatus("Choose files to upload.", "info");
    } else if (ready === 0 && refused === 1) {
      setStatus(queue[0].problem, "error");
    } else if (ready === 0) {
      setStatus("None of these " + refused + " files can be uploaded: their rows say why.", "error");
    } else {
      let message =
        ready === 1 && refused === 0
          ? "Ready to upload " + queue[0].file.name + "."
          : "Ready to upload " + plural(ready, "file", "files") + ".";
      if (resumable === 1 && ready === 1) {
        message += " Part of it was sent earlier: the upload resumes from there.";
      } else if (resumable > 0) {
        message += " " + resumable + " resume where an earlier upload stopped.";
      }
      if (refused > 0) {
        message +=
          refused === 1
            ? " 1 cannot be uploaded: its row says why."
            : " " + refused + " cannot be uploaded: their rows say why.";
      }
      setStatus(message, "info");
    }
  }

  // ---------- uploading ----------

  // Files above the presigner's threshold go in parts: this many parts of one file in flight.
  const PARTS_IN_FLIGHT = 4;
  // Part URLs asked of the presigner in one call, at most.
  const PARTS_PER_REQUEST = 32;
  // Parts hashed ahead of the ones being sent, so that each call for URLs can ask for many.
  const HASH_AHEAD = 32;
  // Tries for one part (network errors, storage's 5xx and throttling, an expired link).
  const PART_ATTEMPTS = 4;
  // Tries for completing (S3 may answer 200 with an InternalError body; try again then).
  const COMPLETE_ATTEMPTS = 3;
  // The presigner's default multipart_threshold_bytes: a file up to this size is hashed whole
  // before the presigner is asked, so that its single PUT can be checked by storage.
  const DEFAULT_THRESHOLD = 64 * 1024 * 1024;

  function setBusy(on) {
    busy = on;
    els.file.disabled = on;
    els.drop.dataset.state = on ? "disabled" : "idle";
    refreshButton();
  }

  // Plain words for the presigner's refusals (SPEC.md section 3).
  const PRESIGNER_STATUS = {
    400: "not a valid request",
    403: "not allowed",
    404: "not offered",
    413: "too large",
    415: "content type not allowed",
    503: "unavailable for now",
  };

  function sentence(text) {
    const t = String(text).trim();
    return /[.!?]$/.test(t) ? t : t + ".";
  }

  // An Error carrying what the upload does next: `cancelled` (the user asked), `restart` (the
  // upload in parts is gone at storage: begin again), `stopped` (another part failed first).
  function failure(message, props) {
    return Object.assign(new Error(message), props || {});
  }

  function cancelled() {
    return failure("The upload was cancelled.", { cancelled: true });
  }

  function checkCancelled(entry) {
    if (entry.cancelled) throw cancelled();
  }

  // Waits `ms`, or less if the upload is cancelled meanwhile.
  function pause(entry, ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      entry.controller.signal.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  // 1 s, 2 s, 4 s…, each somewhere between half and all of that.
  function backoff(attempt) {
    const ms = 1000 * 2 ** (attempt - 1);
    return ms / 2 + Math.random() * (ms / 2);
  }

  // POSTs `fields` as JSON to the presigner's `path` and returns its answer.
  async function askPresigner(path, fields, signal) {
    // The exact bytes sent, so that their hash is the one the header names.
    const payload = new TextEncoder().encode(JSON.stringify(fields));
    const headers = await presignerHeaders({ "content-type": "application/json" }, payload);
    let response;
    let body;
    try {
      response = await fetch(presignerEndpoint(path), {
        method: "POST",
        headers,
        body: payload,
        signal,
      });
      body = await readJson(response);
    } catch (_) {
      if (signal && signal.aborted) throw cancelled();
      throw failure(
        "Could not reach the presigner (network error, or it does not allow this site's " +
          "origin). Check your connection and try again.",
        { network: true },
      );
    }
    if (!response.ok) {
      const reason = body && typeof body.error === "string" ? body.error : "no details given";
      const words = PRESIGNER_STATUS[response.status];
      throw failure(
        "The presigner refused it (" + response.status + (words ? " " + words : "") + "): " +
          sentence(reason),
        { status: response.status },
      );
    }
    if (!body || typeof body !== "object") {
      throw new Error("The presigner answered with something that is not JSON.");
    }
    return body;
  }

  // POST uploads: a single PUT, or the plan of an upload in parts.
  async function requestUpload(entry, sha256) {
    const file = entry.file;
    const fields = { filename: file.name, contentType: fileType(file), size: file.size };
    if (sha256) fields.sha256 = sha256;
    const plan = await askPresigner("uploads", fields, entry.controller.signal);
    const bad = () => new Error("The presigner answered with something that is not an upload URL.");
    if (typeof plan.key !== "string") throw bad();
    if (plan.method === "MULTIPART") {
      const c = plan.create;
      const planned =
        Number.isSafeInteger(plan.partSize) && plan.partSize > 0 &&
        plan.partCount === Math.ceil(file.size / plan.partSize) &&
        (typeof plan.uploadId === "string" || (c && typeof c === "object" && typeof c.url === "string"));
      if (!planned) throw bad();
      return plan;
    }
    if (typeof plan.url !== "string") throw bad();
    return plan;
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
  function storageError(status, text) {
    const err = s3Error(text) || { code: "", message: "" };
    const { code, message } = err;
    if (expiredLink(err)) {
      return "The upload link expired before the upload started. Please try again.";
    }
    if (code === "SignatureDoesNotMatch") {
      return "Storage refused the upload: it does not match what was signed (" + status + " " + code + ").";
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
  function retryable(status, text) {
    if (status === 0 || status === 408 || status === 429 || status >= 500) return true;
    const err = s3Error(text);
    if (!err) return false;
    return (
      ["RequestTimeout", "InternalError", "SlowDown", "ServiceUnavailable"].includes(err.code) ||
      expiredLink(err)
    );
  }

  // Browsers refuse to let scripts set these; they send the right values themselves.
  const FORBIDDEN_HEADERS = new Set(["content-length", "host", "connection", "expect"]);

  const NETWORK_ERROR =
    "The upload to storage failed: network error, or the documents bucket's CORS " +
    "settings do not allow this site.";

  // One request to storage by XMLHttpRequest (for its upload progress), with every header the
  // presigner signed but content-length. Resolves with { status, text, etag } whatever storage
  // answers (etag only when `req.etag` asks for it); rejects on a network error, or when
  // cancelled or stopped.
  function storageRequest(owner, req) {
    return new Promise((resolve, reject) => {
      if (owner.cancelled) {
        reject(cancelled());
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
      const settle = (f) => () => {
        owner.xhrs.delete(xhr);
        f();
      };
      xhr.onload = settle(() => {
        // Only a part's answer has an ETag to read (asking for an unexposed header logs an error).
        const ok = xhr.status >= 200 && xhr.status < 300;
        const etag = ok && req.etag ? xhr.getResponseHeader("ETag") : null;
        resolve({ status: xhr.status, text: xhr.responseText || "", etag });
      });
      xhr.onerror = settle(() => reject(failure(NETWORK_ERROR, { network: true })));
      xhr.ontimeout = settle(() => reject(failure("The upload to storage timed out.", { network: true })));
      xhr.onabort = settle(() =>
        reject(owner.cancelled ? cancelled() : failure("The upload was stopped.", { stopped: true })),
      );
      owner.xhrs.add(xhr);
      xhr.send(req.body === undefined ? null : req.body);
    });
  }

  // ---------- progress and speed ----------

  // How much of the file storage holds or is receiving, and how fast this page is sending it
  // (smoothed). `done`: bytes of finished parts (including those stored before a reload);
  // `live`: bytes of each request in flight; `sent`: bytes sent by this page, retries included.
  function startTracking(entry, done) {
    stopTracking(entry);
    const t = {
      total: entry.file.size,
      done,
      live: new Map(),
      sent: 0,
      started: performance.now(),
      lastAt: performance.now(),
      lastSent: 0,
      speed: 0,
      timer: 0,
    };
    entry.track = t;
    t.timer = setInterval(() => {
      const now = performance.now();
      const rate = ((t.sent - t.lastSent) * 1000) / Math.max(1, now - t.lastAt);
      t.speed = t.speed === 0 ? rate : t.speed * 0.7 + rate * 0.3;
      t.lastAt = now;
      t.lastSent = t.sent;
      renderTracking(entry);
    }, 500);
    renderTracking(entry);
  }

  function stopTracking(entry) {
    if (entry.track) clearInterval(entry.track.timer);
  }

  function trackLive(entry, id, loaded) {
    const t = entry.track;
    const before = t.live.get(id) || 0;
    if (loaded > before) t.sent += loaded - before;
    t.live.set(id, loaded);
    renderTracking(entry);
  }

  function trackDone(entry, id, bytes) {
    const t = entry.track;
    t.live.delete(id);
    t.done += bytes;
    renderTracking(entry);
  }

  function trackDropped(entry, id) {
    entry.track.live.delete(id);
    renderTracking(entry);
  }

  function megabytesPerSecond(bytesPerSecond) {
    return (bytesPerSecond / (1024 * 1024)).toFixed(1) + " MB/s";
  }

  function renderTracking(entry) {
    const t = entry.track;
    if (!t || entry.state !== "uploading") return;
    let bytes = t.done;
    for (const n of t.live.values()) bytes += n;
    bytes = Math.min(bytes, t.total);
    showProgress(entry, Math.min(99, Math.floor((bytes / Math.max(1, t.total)) * 100)));
    entry.stats.hidden = false;
    entry.stats.textContent =
      formatBytes(bytes) + " of " + formatBytes(t.total) +
      (t.speed > 0 ? " · " + megabytesPerSecond(t.speed) : "");
  }

  // Once stored: what this page sent, in how long, how fast on average.
  function finishTracking(entry) {
    const t = entry.track;
    if (!t) return;
    stopTracking(entry);
    const seconds = Math.max(0.001, (performance.now() - t.started) / 1000);
    const earlier = t.total - t.sent;
    entry.stats.hidden = false;
    entry.stats.textContent =
      formatBytes(t.sent) + " sent in " + seconds.toFixed(1) + " s · " +
      megabytesPerSecond(t.sent / seconds) +
      (earlier > 0 && entry.resumed ? " (" + formatBytes(earlier) + " was stored earlier)" : "");
    entry.row.dataset.seconds = seconds.toFixed(3);
    entry.row.dataset.sentBytes = String(t.sent);
  }

  // ---------- resuming uploads in parts ----------

  // Each upload in parts is saved in localStorage, under the file (name, size, last change)
  // and the presigner it was planned by, until it is stored, cancelled or given up: choosing
  // the same file again, after a reload or a failure, sends only the parts still missing.
  const RESUME_PREFIX = "presign-stack:resume:";
  // The documents bucket's lifecycle aborts uploads a day after they began.
  const RESUME_MAX_AGE_MS = 24 * 60 * 60 * 1000;

  function resumeKey(file) {
    const presigner = new URL(config.presignerUrl, window.location.href).href;
    return RESUME_PREFIX + JSON.stringify([presigner, file.name, file.size, file.lastModified]);
  }

  function resumeAge(saved) {
    const began = Date.parse(saved.createdAt || saved.savedAt);
    return Number.isFinite(began) ? Date.now() - began : Infinity;
  }

  function resumeUsable(saved, size) {
    if (!saved || typeof saved !== "object") return false;
    if (typeof saved.key !== "string" || typeof saved.uploadId !== "string") return false;
    if (typeof saved.contentType !== "string") return false;
    if (!Number.isSafeInteger(saved.partSize) || saved.partSize <= 0) return false;
    if (saved.partCount !== Math.ceil(size / saved.partSize)) return false;
    if (!saved.parts || typeof saved.parts !== "object") return false;
    for (const [n, p] of Object.entries(saved.parts)) {
      const k = Number(n);
      if (!Number.isSafeInteger(k) || k < 1 || k > saved.partCount) return false;
      if (!p || typeof p.etag !== "string" || typeof p.sha256 !== "string") return false;
    }
    return resumeAge(saved) < RESUME_MAX_AGE_MS;
  }

  function loadResume(file) {
    let saved = null;
    try {
      saved = JSON.parse(localStorage.getItem(resumeKey(file)) || "null");
    } catch (_) {
      saved = null;
    }
    if (saved === null) return null;
    if (!resumeUsable(saved, file.size)) {
      dropResume(file);
      return null;
    }
    return saved;
  }

  function saveResume(file, up) {
    up.savedAt = new Date().toISOString();
    try {
      localStorage.setItem(resumeKey(file), JSON.stringify(up));
    } catch (_) {
      // Storage full or disabled: this upload just cannot resume after a reload.
    }
  }

  function dropResume(file) {
    try {
      localStorage.removeItem(resumeKey(file));
    } catch (_) {
      // Nothing saved, then.
    }
  }

  // Drops saved uploads that storage has aborted by now, and any that cannot be read.
  function sweepResume() {
    try {
      const keys = [];
      for (let i = 0; i < localStorage.length; i += 1) {
        const k = localStorage.key(i);
        if (k && k.startsWith(RESUME_PREFIX)) keys.push(k);
      }
      for (const k of keys) {
        let saved = null;
        try {
          saved = JSON.parse(localStorage.getItem(k));
        } catch (_) {
          saved = null;
        }
        if (!saved || typeof saved !== "object" || resumeAge(saved) >= RESUME_MAX_AGE_MS) {
          localStorage.removeItem(k);
        }
      }
    } catch (_) {
      // localStorage disabled: nothing to sweep.
    }
  }

  // ---------- one file ----------

  // Whether to hash the whole file before asking: only when it is likely to go in one PUT.
  let multipartAbove = Infinity;
  function likelySinglePut(size) {
    const threshold = config.multipartThresholdBytes || DEFAULT_THRESHOLD;
    return size <= threshold && size < multipartAbove;
  }

  // The file's SHA-256 for its single PUT; null when this page has no way to compute it (no
  // WebCrypto and no sha256.js): the PUT then goes unchecked, as it did before checksums.
  async function hashFile(entry) {
    const file = entry.file;
    if (!subtle && !(await jsSha256().then(() => true, () => false))) return null;
    if (file.size > HASH_SLICE) entry.stats.hidden = false;
    entry.stats.textContent = file.size > HASH_SLICE ? "Computing the file's checksum…" : "";
    const sha = await sha256Blob(file, file.name, () => checkCancelled(entry));
    checkCancelled(entry);
    entry.stats.hidden = true;
    return sha;
  }

  // A file up to the presigner's threshold: one PUT, checked by storage against its SHA-256
  // and made only if no object has the key yet.
  async function putWhole(entry, plan) {
    const file = entry.file;
    const headers = plan.headers || {};
    const signedLength = headers["content-length"];
    if (signedLength !== undefined && String(signedLength) !== String(file.size)) {
      throw new Error("The upload URL was signed for a different file size; please try again.");
    }
    setState(entry, "uploading");
    startTracking(entry, 0);
    const res = await storageRequest(entry, {
      method: plan.method || "PUT",
      url: plan.url,
      headers,
      body: file,
      onProgress: (loaded) => trackLive(entry, "whole", loaded),
    });
    if (res.status < 200 || res.status >= 300) throw new Error(storageError(res.status, res.text));
    trackDone(entry, "whole", file.size);
  }

  // Starts an upload: asks the presigner, then sends the file in one PUT or in parts.
  async function uploadFresh(entry) {
    const file = entry.file;
    const hashedFirst = likelySinglePut(file.size);
    let plan = await requestUpload(entry, hashedFirst ? await hashFile(entry) : null);
    if (plan.method === "MULTIPART") {
      multipartAbove = Math.min(multipartAbove, file.size);
    } else if (!hashedFirst) {
      // Larger than the page guessed the presigner's threshold to be: hash it and ask again,
      // so that storage checks these bytes too. The first key is never used.
      const sha = await hashFile(entry);
      if (sha) plan = await requestUpload(entry, sha);
    }
    if (plan.method !== "MULTIPART") {
      await putWhole(entry, plan);
      return plan.key;
    }
    let uploadId = plan.uploadId;
    if (typeof uploadId !== "string") {
      const res = await storageRequest(entry, {
        method: plan.create.method || "POST",
        url: plan.create.url,
        headers: plan.create.headers,
      });
      const doc = res.status === 200 ? parseXml(res.text) : null;
      uploadId = doc && doc.documentElement.localName !== "Error" ? xmlText(doc, "UploadId") : "";
      if (!uploadId) {
        throw new Error(
          res.status === 200 && !s3Error(res.text)
            ? "Storage answered the start of the upload without an UploadId."
            : storageError(res.status, res.text),
        );
      }
    }
    const now = new Date().toISOString();
    const up = {
      key: plan.key,
      uploadId,
      partSize: plan.partSize,
      partCount: plan.partCount,
      contentType: fileType(file),
      parts: {},
      createdAt: now,
      savedAt: now,
    };
    saveResume(file, up);
    entry.upload = up;
    return uploadParts(entry, up);
  }

  function partRange(up, size, n) {
    const start = (n - 1) * up.partSize;
    return [start, Math.min(n * up.partSize, size)];
  }

  // Sends the parts `up` is missing, PARTS_IN_FLIGHT at a time, then completes the upload.
  async function uploadParts(entry, up) {
    const file = entry.file;
    entry.upload = up;
    const missing = [];
    let stored = 0;
    for (let n = 1; n <= up.partCount; n += 1) {
      if (up.parts[n]) {
        const [start, end] = partRange(up, file.size, n);
        stored += end - start;
      } else {
        missing.push(n);
      }
    }
    setState(entry, "uploading");
    startTracking(entry, stored);
    if (missing.length > 0) await sendParts(entry, up, missing);
    return completeParts(entry, up);
  }

  async function sendParts(entry, up, missing) {
    const file = entry.file;
    const todo = missing.slice();
    const shas = new Map(); // part number -> promise of its base64 SHA-256
    const shaKnown = new Map(); // part number -> its base64 SHA-256, once computed
    const links = new Map(); // part number -> { method, url, headers, freshUntil }
    const sending = new Set();
    const finished = new Set();
    let hashing = Promise.resolve();
    let asking = null; // the call for part URLs in flight
    let stop = null; // the error that ends this upload

    const halt = () => {
      if (entry.cancelled) throw cancelled();
      if (stop) throw failure("The upload was stopped.", { stopped: true });
    };

    // Parts are hashed one at a time, in order, a little ahead of the ones being sent.
    const shaOf = (n) => {
      if (!shas.has(n)) {
        const p = hashing.then(async () => {
          halt();
          const [start, end] = partRange(up, file.size, n);
          const sha = await sha256Blob(file.slice(start, end), file.name, halt);
          shaKnown.set(n, sha);
          return sha;
        });
        p.catch(() => {}); // awaited by the sender; not an unhandled rejection meanwhile
        hashing = p.catch(() => {});
        shas.set(n, p);
      }
      return shas.get(n);
    };
    const hashAhead = () => {
      for (const n of todo.slice(0, HASH_AHEAD)) shaOf(n);
    };

    const fresh = (link) => link && performance.now() < link.freshUntil;

    // One call for the URLs of part `n` and of the other parts still to send: the next few
    // (hashed first if need be, so that the first call serves every sender) and any others
    // whose hashes are ready.
    async function askLinks(n) {
      const others = missing.filter(
        (m) => m !== n && !finished.has(m) && !sending.has(m) && !fresh(links.get(m)),
      );
      await Promise.allSettled(others.slice(0, PARTS_IN_FLIGHT - 1).map(shaOf));
      halt();
      const wanted = [n, ...others.filter((m) => shaKnown.has(m))].slice(0, PARTS_PER_REQUEST);
      const answer = await askPresigner(
        "uploads/parts",
        {
          key: up.key,
          uploadId: up.uploadId,
          size: file.size,
          parts: wanted.map((m) => ({ partNumber: m, sha256: shaKnown.get(m) })),
        },
        entry.controller.signal,
      );
      const received = performance.now();
      if (!Array.isArray(answer.parts)) {
        throw new Error("The presigner answered with something that is not a list of part URLs.");
      }
      for (const p of answer.parts) {
        if (!p || !wanted.includes(p.partNumber) || typeof p.url !== "string") {
          throw new Error("The presigner answered with a part URL that was not asked for.");
        }
        const [start, end] = partRange(up, file.size, p.partNumber);
        const headers = p.headers || {};
        if (headers["content-length"] !== undefined && Number(headers["content-length"]) !== end - start) {
          // The presigner's part size changed since this upload began: its parts cannot be
          // completed together. Begin again.
          throw failure("The presigner now cuts files into parts of another size.", {
            restart: "the presigner's part size has changed since it began",
          });
        }
        // Used before it expires, with a margin (the link says how long it lasts).
        const seconds = Number(new URL(p.url).searchParams.get("X-Amz-Expires")) || 300;
        const margin = Math.min(60, seconds / 4) * 1000;
        links.set(p.partNumber, {
          method: p.method || "PUT",
          url: p.url,
          headers,
          freshUntil: received + seconds * 1000 - margin,
        });
      }
    }

    async function linkFor(n) {
      for (;;) {
        halt();
        const link = links.get(n);
        if (fresh(link)) {
          links.delete(n);
          return link;
        }
        if (asking) {
          await asking;
        } else {
          asking = askLinks(n);
          asking.catch(() => {});
          try {
            await asking;
          } finally {
            asking = null;
          }
        }
      }
    }

    // Sends part `n`, trying again after failures that may pass.
    async function sendPart(n) {
      const [start, end] = partRange(up, file.size, n);
      for (let attempt = 1; ; attempt += 1) {
        const sha = await shaOf(n);
        let link;
        try {
          link = await linkFor(n);
        } catch (e) {
          // The presigner out of reach, or unavailable for a moment: like a failed part.
          const passing = e.network || e.status === 429 || e.status >= 500;
          if (e.cancelled || e.stopped || e.restart || !passing || attempt >= PART_ATTEMPTS) throw e;
          await pause(entry, backoff(attempt));
          continue;
        }
        halt();
        let res;
        let error = null;
        sending.add(n);
        try {
          res = await storageRequest(entry, {
            method: link.method,
            url: link.url,
            headers: link.headers,
            body: file.slice(start, end),
            etag: true,
            onProgress: (loaded) => trackLive(entry, n, loaded),
          });
        } catch (e) {
          if (e.cancelled || e.stopped) throw e;
          error = e;
        } finally {
          sending.delete(n);
        }
        if (res && res.status >= 200 && res.status < 300) {
          if (!res.etag) {
            throw new Error(
              "Storage took part " + n + " but the page cannot read its ETag: the documents " +
                "bucket's CORS settings must expose the ETag header.",
            );
          }
          up.parts[n] = { etag: res.etag, sha256: sha };
          finished.add(n);
          saveResume(file, up);
          trackDone(entry, n, end - start);
          return;
        }
        trackDropped(entry, n);
        const status = res ? res.status : 0;
        const text = res ? res.text : "";
        const err = s3Error(text);
        if (status === 404 && (!err || err.code === "NoSuchUpload")) {
          throw failure("Storage no longer has this upload (404 NoSuchUpload).", {
            restart: "storage no longer had the parts sent earlier (404 NoSuchUpload)",
          });
        }
        if (attempt < PART_ATTEMPTS && retryable(status, text)) {
          await pause(entry, backoff(attempt));
          continue;
        }
        throw error || new Error("Part " + n + " of " + up.partCount + ": " + storageError(status, text));
      }
    }

    async function worker() {
      while (!stop && !entry.cancelled) {
        const n = todo.shift();
        if (n === undefined) return;
        hashAhead();
        try {
          await sendPart(n);
        } catch (e) {
          if (e.stopped) return;
          if (!stop) stop = e;
          // The others finish the parts they are sending (kept for a resume), unless the whole
          // upload is gone or cancelled.
          if (e.cancelled || e.restart) for (const x of entry.xhrs) x.abort();
          return;
        }
      }
    }

    hashAhead();
    const workers = [];
    for (let i = 0; i < Math.min(PARTS_IN_FLIGHT, todo.length); i += 1) workers.push(worker());
    await Promise.all(workers);
    if (entry.cancelled) throw cancelled();
    if (stop) throw stop;
  }

  // Completes the upload with the presigner's CompleteMultipartUpload request. S3 may answer
  // 200 with an <Error> body: that is a failure too.
  async function completeParts(entry, up) {
    const file = entry.file;
    const parts = [];
    for (let n = 1; n <= up.partCount; n += 1) {
      parts.push({ partNumber: n, etag: up.parts[n].etag, sha256: up.parts[n].sha256 });
    }
    checkCancelled(entry);
    const done = await askPresigner(
      "uploads/complete",
      { key: up.key, uploadId: up.uploadId, size: file.size, parts },
      entry.controller.signal,
    );
    // Past this point a cancel could race storage's completion: it is no longer offered.
    entry.finishing = true;
    setState(entry, entry.state);
    if (typeof done.url !== "string") {
      // The presigner completed it itself.
      dropResume(file);
      return up.key;
    }
    if (typeof done.body !== "string") {
      throw new Error("The presigner answered with something that is not a completion request.");
    }
    for (let attempt = 1; ; attempt += 1) {
      const res = await storageRequest(entry, {
        method: done.method || "POST",
        url: done.url,
        headers: done.headers,
        body: new Blob([done.body], { type: "application/xml" }),
      });
      const doc = parseXml(res.text);
      const root = doc ? doc.documentElement.localName : "";
      if (res.status === 200 && root === "CompleteMultipartUploadResult") {
        dropResume(file);
        return up.key;
      }
      const err = s3Error(res.text);
      if (res.status === 404 && (!err || err.code === "NoSuchUpload")) {
        throw failure("Storage no longer has this upload (404 NoSuchUpload).", {
          restart: "storage no longer had the parts sent earlier (404 NoSuchUpload)",
        });
      }
      const passing = err && ["InternalError", "SlowDown", "ServiceUnavailable"].includes(err.code);
      if (attempt < COMPLETE_ATTEMPTS && (res.status >= 500 || (res.status === 200 && passing))) {
        await pause(entry, backoff(attempt));
        continue;
      }
      if (res.status === 200 && !err) {
        throw new Error("Storage answered the completion of the upload with something unexpected.");
      }
      // The parts can never make this object (the key is taken, or storage refuses them):
      // discard them rather than resume.
      if (res.status === 412 || res.status === 400 || (res.status === 200 && err)) {
        dropResume(file);
        await abortUpload(up);
      }
      throw new Error(storageError(res.status, res.text));
    }
  }

  // Asks the presigner for an AbortMultipartUpload and sends it: storage deletes the parts.
  // True when storage no longer has the upload.
  async function abortUpload(up) {
    try {
      const answer = await askPresigner("uploads/abort", { key: up.key, uploadId: up.uploadId });
      if (typeof answer.url !== "string") return true;
      const res = await storageRequest({ xhrs: new Set(), cancelled: false }, {
        method: answer.method || "DELETE",
        url: answer.url,
        headers: answer.headers,
      });
      return (res.status >= 200 && res.status < 300) || res.status === 404;
    } catch (_) {
      return false;
    }
  }

  function cancelEntry(entry) {
    if (!IN_PROGRESS.has(entry.state) || entry.finishing) return;
    if (entry.state === "waiting") {
      entry.cancelled = true;
      setState(entry, "cancelled");
      entry.bar.hidden = true;
      entry.result.textContent = "Cancelled before it started.";
      return;
    }
    entry.cancelled = true;
    entry.cancel.disabled = true;
    entry.result.textContent = "Cancelling…";
    entry.controller.abort();
    for (const x of entry.xhrs) x.abort();
  }

  // Uploads one file; never throws: the outcome is in the entry's row.
  async function uploadOne(entry) {
    const file = entry.file;
    if (entry.cancelled) return;
    entry.xhrs = new Set();
    entry.controller = new AbortController();
    entry.upload = null;
    entry.finishing = false;
    let note = "";
    try {
      setState(entry, "asking");
      showProgress(entry, 0);
      let key;
      for (let round = 1; ; round += 1) {
        const saved = round === 1 ? loadResume(file) : null;
        try {
          if (saved) {
            entry.resumed = true;
            entry.result.textContent =
              "Resuming: " + Object.keys(saved.parts).length + " of " + saved.partCount +
              " parts were stored earlier.";
            key = await uploadParts(entry, saved);
          } else {
            entry.resumed = false;
            key = await uploadFresh(entry);
          }
          break;
        } catch (e) {
          if (!e.restart || round > 1 || entry.cancelled) throw e;
          // The upload in parts is gone, or cannot be finished: begin again, once, cleanly.
          const stale = entry.upload;
          dropResume(file);
          if (stale) abortUpload(stale);
          entry.upload = null;
          note = "It was sent again from the start: " + e.restart + ".";
          entry.result.textContent = "Starting over: " + e.restart + ".";
          setState(entry, "asking");
          showProgress(entry, 0);
        }
      }
      entry.finishing = true;
      finishTracking(entry);
      showProgress(entry, 100);
      setState(entry, "done");
      const code = el("code", "", key);
      code.dataset.testid = "file-key";
      entry.result.replaceChildren("Stored as ", code, note ? ". " + note : "");
      entry.key = key;
      remember({ key, name: file.name, size: file.size, at: new Date().toISOString() });
    } catch (e) {
      stopTracking(entry);
      entry.bar.hidden = true;
      entry.stats.hidden = true;
      if (entry.cancelled) {
        entry.result.textContent = "Cancelling…";
        let outcome = "Cancelled; nothing of it was stored.";
        if (entry.upload) {
          dropResume(file);
          outcome = (await abortUpload(entry.upload))
            ? "Cancelled; the parts already sent were discarded."
            : "Cancelled. Storage could not be told to discard the parts already sent; it " +
              "discards them by itself within a day.";
        }
        setState(entry, "cancelled");
        entry.result.textContent = outcome;
      } else {
        setState(entry, "failed");
        let message = e.message;
        const up = entry.upload;
        if (up && loadResume(file)) {
          const stored = Object.keys(up.parts).length;
          message +=
            " " + stored + " of " + up.partCount + " parts are stored: choose the file again " +
            "to resume.";
        }
        entry.result.textContent = message;
      }
    } finally {
      stopTracking(entry);
      entry.controller.abort();
    }
  }

  async function uploadAll() {
    const todo = queue.filter((e) => e.state === "ready");
    if (busy || todo.length === 0) return;
    setBusy(true);
    els.queue.dataset.state = "uploading";
    for (const entry of todo) {
      setState(entry, "waiting");
      showProgress(entry, 0);
      entry.percent.textContent = "";
    }
    setStatus(
      todo.length === 1
        ? "Uploading " + todo[0].file.name + "…"
        : "Uploading " + todo.length + " files, up to " + PARALLEL_UPLOADS + " at a time…",
      "info",
    );
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const entry = todo[next];
        next += 1;
        await uploadOne(entry);
      }
    };
    const workers = [];
    for (let i = 0; i < Math.min(PARALLEL_UPLOADS, todo.length); i += 1) workers.push(worker());
    await Promise.all(workers);
    els.file.value = "";
    setBusy(false);
    els.queue.dataset.state = "finished";
    summarize();
  }

  function summarize() {
    const done = queue.filter((e) => e.state === "done");
    const notDone = queue.filter((e) => ["failed", "refused", "cancelled"].includes(e.state));
    const onlyCancelled = notDone.length > 0 && notDone.every((e) => e.state === "cancelled");
    if (notDone.length === 0 && done.length === 1) {
      const f = done[0].file;
      setStatus("Uploaded " + f.name + " (" + formatBytes(f.size) + ").", "success");
    } else if (notDone.length === 0) {
      setStatus("Uploaded " + plural(done.length, "file", "files") + ".", "success");
    } else if (done.length === 0 && notDone.length === 1) {
      const e = notDone[0];
      if (e.state === "cancelled") setStatus("Cancelled the upload of " + e.file.name + ".", "partial");
      else setStatus(e.result.textContent, "error");
    } else if (done.length === 0) {
      setStatus(
        onlyCancelled
          ? "Cancelled the " + notDone.length + " uploads."
          : "None of the " + notDone.length + " files was uploaded: their rows say why.",
        onlyCancelled ? "partial" : "error",
      );
    } else {
      setStatus(
        "Uploaded " + done.length + " of " + queue.length + " files; " +
          (notDone.length === 1
            ? "1 was not uploaded: its row says why."
            : notDone.length + " were not uploaded: their rows say why."),
        "partial",
      );
    }
  }

  // ---------- this session's uploads ----------

  function loadUploads() {
    try {
      const list = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "[]");
      return Array.isArray(list) ? list.filter((u) => u && typeof u.key === "string") : [];
    } catch (_) {
      return [];
    }
  }

  function remember(entry) {
    const list = loadUploads();
    list.unshift(entry);
    try {
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify(list.slice(0, 50)));
    } catch (_) {
      // Storage full or disabled: the list just won't survive a reload.
    }
    renderUploads(list);
  }

  function renderUploads(list) {
    els.uploads.replaceChildren();
    els.uploadsEmpty.hidden = list.length > 0;
    for (const u of list) {
      const li = document.createElement("li");
      li.dataset.key = u.key;
      li.dataset.testid = "upload-item";

      const info = document.createElement("div");
      info.className = "upload-info";
      const name = document.createElement("span");
      name.className = "upload-name";
      name.textContent = u.name || u.key.split("/").pop();
      const meta = document.createElement("code");
      meta.textContent = u.key;
      info.append(name, meta);
      li.append(info);

      if (config && config.allowDownloads) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "secondary";
        button.textContent = "Download";
        button.dataset.testid = "download";
        button.addEventListener("click", () => download(u, button));
        li.append(button);
      }
      els.uploads.append(li);
    }
  }

  async function download(entry, button) {
    button.disabled = true;
    try {
      setStatus("Asking for a download link for " + (entry.name || entry.key) + "…", "info");
      let response;
      try {
        response = await fetch(presignerEndpoint("downloads?key=" + encodeURIComponent(entry.key)), {
          headers: await presignerHeaders({}, null),
        });
      } catch (_) {
        throw new Error("Could not reach the presigner (network error). Try again.");
      }
      const body = await readJson(response);
      if (!response.ok) {
        const reason = body && typeof body.error === "string" ? body.error : "no details given";
        throw new Error("The presigner refused the download (" + response.status + "): " + reason + ".");
      }
      if (!body || typeof body.url !== "string") {
        throw new Error("The presigner answered with something that is not a download URL.");
      }
      setStatus("Downloading " + (entry.name || entry.key) + ".", "success");
      // The URL asks S3 for Content-Disposition: attachment, so the page stays put.
      window.location.assign(body.url);
    } catch (e) {
      setStatus(e.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  // ---------- wiring ----------

  function wire() {
    els.file.addEventListener("change", () => choose(els.file.files));
    els.upload.addEventListener("click", uploadAll);

    // Dropping a file anywhere must not navigate away from the page.
    for (const type of ["dragover", "drop"]) {
      window.addEventListener(type, (e) => e.preventDefault());
    }
    els.drop.addEventListener("dragenter", (e) => {
      e.preventDefault();
      if (!busy && config) els.drop.dataset.state = "over";
    });
    els.drop.addEventListener("dragover", (e) => {
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = busy || !config ? "none" : "copy";
    });
    els.drop.addEventListener("dragleave", (e) => {
      if (!els.drop.contains(e.relatedTarget) && !busy) els.drop.dataset.state = "idle";
    });
    els.drop.addEventListener("drop", (e) => {
      e.preventDefault();
      if (busy || !config) return;
      els.drop.dataset.state = "idle";
      const files = e.dataTransfer ? e.dataTransfer.files : null;
      if (!files || files.length === 0) return;
      choose(files);
    });
  }

  async function start() {
    wire();
    try {
      config = await loadConfig();
    } catch (e) {
      els.limits.textContent = "Uploads are unavailable.";
      els.drop.dataset.state = "disabled";
      setStatus(e.message, "error");
      renderUploads(loadUploads());
      return;
    }
    const types = config.allowedContentTypes;
    if (!types.includes("*/*")) els.file.accept = types.join(",");
    els.limits.textContent =
      "Up to " + formatBytes(config.maxUploadBytes) + " · " + listPhrase(types.map(typeLabel));
    els.file.disabled = false;
    els.drop.dataset.state = "idle";
    els.downloadsNote.hidden = config.allowDownloads;
    renderUploads(loadUploads());
    sweepResume();
    setStatus("Choose files to upload.", "info");
    document.body.dataset.ready = "true";
  }

  start();
})();
