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
    const digest = await window.crypto.subtle.digest("SHA-256", bytes);
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // The headers for a call to the presigner carrying `body` (a Uint8Array, or null).
  async function presignerHeaders(headers, body) {
    if (!presignerIsSameOrigin()) return headers;
    if (!body || body.length === 0) return { ...headers, "x-amz-content-sha256": EMPTY_SHA256 };
    if (!window.crypto || !window.crypto.subtle) return headers;
    return { ...headers, "x-amz-content-sha256": await sha256Hex(body) };
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

  // One row per chosen file: its name, size and type, its own progress bar, and its result
  // (the key once stored, or why it was refused), announced on its own.
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
    bar.append(progress, percent);

    const result = el("p", "file-result");
    result.dataset.testid = "file-result";
    result.setAttribute("aria-live", "polite");
    result.id = id + "-result";
    row.setAttribute("aria-describedby", result.id);

    row.append(head, bar, result);
    const entry = { id, file, problem, state: "", row, bar, progress, percent, result };
    if (problem) {
      setState(entry, "refused");
      result.textContent = problem;
    } else {
      setState(entry, "ready");
    }
    return entry;
  }

  function setState(entry, state) {
    entry.state = state;
    entry.row.dataset.state = state;
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

  async function requestUploadUrl(file) {
    // The exact bytes sent, so that their hash is the one the header names.
    const payload = new TextEncoder().encode(
      JSON.stringify({ filename: file.name, contentType: fileType(file), size: file.size }),
    );
    const headers = await presignerHeaders({ "content-type": "application/json" }, payload);
    let response;
    try {
      response = await fetch(presignerEndpoint("uploads"), {
        method: "POST",
        headers,
        body: payload,
      });
    } catch (_) {
      throw new Error(
        "Could not reach the presigner (network error, or it does not allow this site's " +
          "origin). Check your connection and try again.",
      );
    }
    const body = await readJson(response);
    if (!response.ok) {
      const reason = body && typeof body.error === "string" ? body.error : "no details given";
      const words = PRESIGNER_STATUS[response.status];
      throw new Error(
        "The presigner refused it (" + response.status + (words ? " " + words : "") + "): " +
          sentence(reason),
      );
    }
    if (!body || typeof body.url !== "string" || typeof body.key !== "string") {
      throw new Error("The presigner answered with something that is not an upload URL.");
    }
    return body;
  }

  // S3 errors are XML: <Error><Code>…</Code><Message>…</Message></Error>.
  function storageError(xhr) {
    let code = "";
    let message = "";
    const xml = xhr.responseText || "";
    const c = /<Code>([^<]*)<\/Code>/.exec(xml);
    const m = /<Message>([^<]*)<\/Message>/.exec(xml);
    if (c) code = c[1];
    if (m) message = m[1];
    if (code === "AccessDenied" && /expired/i.test(message)) {
      return "The upload link expired before the upload started. Please try again.";
    }
    if (code === "SignatureDoesNotMatch") {
      return "Storage refused the upload: it does not match what was signed (" + xhr.status + " " + code + ").";
    }
    if (code === "EntityTooLarge") {
      return "Storage refused the upload: the file is too large (" + xhr.status + " " + code + ").";
    }
    const detail = [code, message].filter(Boolean).join(": ");
    return "Storage refused the upload (" + xhr.status + (detail ? " " + detail : "") + ").";
  }

  // Browsers refuse to let scripts set these; they send the right values themselves.
  const FORBIDDEN_HEADERS = new Set(["content-length", "host", "connection", "expect"]);

  // PUTs `file` as `plan` says; `onProgress(pct)` gets 0..99 while bytes are sent (the last
  // bytes leaving the browser is not the upload being done: storage has yet to accept them).
  function putFile(plan, file, onProgress) {
    return new Promise((resolve, reject) => {
      const headers = plan.headers || {};
      const signedLength = headers["content-length"];
      if (signedLength !== undefined && String(signedLength) !== String(file.size)) {
        reject(new Error("The upload URL was signed for a different file size; please try again."));
        return;
      }
      const xhr = new XMLHttpRequest();
      xhr.open(plan.method || "PUT", plan.url, true);
      for (const [name, value] of Object.entries(headers)) {
        if (!FORBIDDEN_HEADERS.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
      }
      xhr.upload.onprogress = (e) => {
        if (!e.lengthComputable || e.total <= 0) return;
        onProgress(Math.min(99, Math.floor((e.loaded / e.total) * 100)));
      };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) resolve();
        else reject(new Error(storageError(xhr)));
      };
      xhr.onerror = () =>
        reject(
          new Error(
            "The upload to storage failed: network error, or the documents bucket's CORS " +
              "settings do not allow this site.",
          ),
        );
      xhr.ontimeout = () => reject(new Error("The upload to storage timed out."));
      xhr.onabort = () => reject(new Error("The upload was cancelled."));
      xhr.send(file);
    });
  }

  // Uploads one file; never throws: the outcome is in the entry's row.
  async function uploadOne(entry) {
    const file = entry.file;
    try {
      setState(entry, "asking");
      showProgress(entry, 0);
      const plan = await requestUploadUrl(file);
      setState(entry, "uploading");
      showProgress(entry, 0);
      await putFile(plan, file, (pct) => showProgress(entry, pct));
      showProgress(entry, 100);
      setState(entry, "done");
      const key = el("code", "", plan.key);
      key.dataset.testid = "file-key";
      entry.result.replaceChildren("Stored as ", key);
      entry.key = plan.key;
      remember({ key: plan.key, name: file.name, size: file.size, at: new Date().toISOString() });
    } catch (e) {
      entry.bar.hidden = true;
      setState(entry, "failed");
      entry.result.textContent = e.message;
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
    const notDone = queue.filter((e) => e.state === "failed" || e.state === "refused");
    if (notDone.length === 0 && done.length === 1) {
      const f = done[0].file;
      setStatus("Uploaded " + f.name + " (" + formatBytes(f.size) + ").", "success");
    } else if (notDone.length === 0) {
      setStatus("Uploaded " + plural(done.length, "file", "files") + ".", "success");
    } else if (done.length === 0 && notDone.length === 1) {
      setStatus(notDone[0].result.textContent, "error");
    } else if (done.length === 0) {
      setStatus("None of the " + notDone.length + " files was uploaded: their rows say why.", "error");
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
    setStatus("Choose files to upload.", "info");
    document.body.dataset.ready = "true";
  }

  start();
})();
