// presign-stack demo page: ask the presigner for a signed URL, then upload straight to S3.
// No dependencies, no build step. Runtime settings come from config.json (SPEC.md section 4).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const els = {
    file: $("file"),
    drop: $("drop-zone"),
    limits: $("limits"),
    selection: $("selection"),
    selectionName: $("selection-name"),
    selectionMeta: $("selection-meta"),
    upload: $("upload"),
    progress: $("progress"),
    progressLabel: $("progress-label"),
    status: $("status"),
    result: $("result"),
    key: $("key"),
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

  let config = null;
  let selected = null;
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

  // ---------- choosing a file ----------

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

  function select(file) {
    if (busy) return;
    selected = null;
    els.result.hidden = true;
    resetProgress();
    if (!file) {
      els.selection.hidden = true;
      els.upload.disabled = true;
      return;
    }
    els.selection.hidden = false;
    els.selectionName.textContent = file.name;
    els.selectionMeta.textContent = formatBytes(file.size) + " · " + typeLabel(fileType(file));
    const problem = problemWith(file);
    if (problem) {
      els.upload.disabled = true;
      setStatus(problem, "error");
      return;
    }
    selected = file;
    els.upload.disabled = false;
    setStatus("Ready to upload " + file.name + ".", "info");
  }

  // ---------- uploading ----------

  function resetProgress() {
    els.progress.hidden = true;
    els.progress.value = 0;
    els.progressLabel.textContent = "";
  }

  // The bar and its label always show the same number.
  function showProgress(pct) {
    els.progress.hidden = false;
    els.progress.value = pct;
    els.progressLabel.textContent = pct + "%";
  }

  function setBusy(on) {
    busy = on;
    els.upload.disabled = on || !selected;
    els.file.disabled = on;
    els.drop.dataset.state = on ? "disabled" : "idle";
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
      throw new Error("The presigner refused the upload (" + response.status + "): " + reason + ".");
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
    const detail = [code, message].filter(Boolean).join(": ");
    return "Storage refused the upload (" + xhr.status + (detail ? " " + detail : "") + ").";
  }

  // Browsers refuse to let scripts set these; they send the right values themselves.
  const FORBIDDEN_HEADERS = new Set(["content-length", "host", "connection", "expect"]);

  function putFile(plan, file) {
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
      // 100 is kept for the moment storage has accepted the file: the last bytes leaving the
      // browser is not the upload being done, so until then the bar stops at 99.
      xhr.upload.onprogress = (e) => {
        if (!e.lengthComputable || e.total <= 0) return;
        showProgress(Math.min(99, Math.floor((e.loaded / e.total) * 100)));
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

  async function upload() {
    const file = selected;
    if (!file || busy) return;
    setBusy(true);
    els.result.hidden = true;
    resetProgress();
    try {
      setStatus("Asking for an upload link…", "info");
      const plan = await requestUploadUrl(file);
      showProgress(0);
      setStatus("Uploading " + file.name + "…", "info");
      await putFile(plan, file);
      showProgress(100);
      els.key.textContent = plan.key;
      els.result.hidden = false;
      setStatus("Uploaded " + file.name + " (" + formatBytes(file.size) + ").", "success");
      remember({ key: plan.key, name: file.name, size: file.size, at: new Date().toISOString() });
      selected = null;
      els.file.value = "";
      els.selection.hidden = true;
    } catch (e) {
      setStatus(e.message, "error");
      resetProgress();
    } finally {
      setBusy(false);
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
    els.file.addEventListener("change", () => select(els.file.files[0] || null));
    els.upload.addEventListener("click", upload);

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
      if (files.length > 1) {
        setStatus("Drop one file at a time.", "error");
        return;
      }
      select(files[0]);
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
    setStatus("Choose a file to upload.", "info");
    document.body.dataset.ready = "true";
  }

  start();
})();
