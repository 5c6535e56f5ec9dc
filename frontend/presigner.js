// The presigner client: where the presigner is (config.json, SPEC.md section 4) and its calls
// (SPEC.md section 3): POST uploads, uploads/parts, uploads/complete and uploads/abort, and
// GET downloads.
import { sha256Hex } from "./checksum.js";
import { cancelled, failure } from "./failures.js";
import { sentence } from "./format.js";

// Plain words for the presigner's refusals (SPEC.md section 3).
const PRESIGNER_STATUS = {
  400: "not a valid request",
  403: "not allowed",
  404: "not offered",
  413: "too large",
  415: "content type not allowed",
  503: "unavailable for now",
};

// Behind CloudFront (the presigner at <api_path>/ of the page's own origin), the
// distribution signs each call to the Lambda with Origin Access Control, and Lambda takes
// only a signed payload: the viewer sends x-amz-content-sha256, the hex SHA-256 of the
// exact body bytes. Cross-origin (the presigner's own Function URL) it is not sent, since
// the URL's CORS rules do not allow that header.
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

async function readJson(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch (_) {
    return null;
  }
}

async function fetchConfig() {
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
  return c;
}

// What is wrong with config.json's fields, one phrase each.
function configProblems(c) {
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
  if (c.malwareScan !== undefined && typeof c.malwareScan !== "boolean") {
    problems.push("malwareScan must be true or false");
  }
  return problems;
}

// config.json's `auth` ({ issuer, clientId, scopes }), or null for an open presigner.
function authSettings(a) {
  if (!a || typeof a !== "object") return null;
  if (typeof a.issuer !== "string" || typeof a.clientId !== "string") return null;
  const scopes = Array.isArray(a.scopes) ? a.scopes.filter((s) => typeof s === "string") : [];
  return { issuer: a.issuer, clientId: a.clientId, scopes: scopes.length ? scopes : ["openid"] };
}

// A download URL the page will follow: https, or plain http to this machine (dev).
export function safeDownloadUrl(url) {
  let u;
  try {
    u = new URL(url);
  } catch (_) {
    return false;
  }
  if (u.protocol === "https:") return true;
  return u.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
}

// This site's settings, checked; an Error saying what is wrong otherwise.
export async function loadConfig() {
  const c = await fetchConfig();
  const problems = configProblems(c);
  if (problems.length) {
    throw new Error("config.json is not usable: " + problems.join("; ") + ".");
  }
  return {
    auth: authSettings(c.auth),
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
    // Downloads wait for GuardDuty's verdict (SPEC section 9).
    malwareScan: c.malwareScan === true,
  };
}

function presignerRefusal(response, body) {
  const reason = body && typeof body.error === "string" ? body.error : "no details given";
  const words = PRESIGNER_STATUS[response.status];
  return failure(
    "The presigner refused it (" + response.status + (words ? " " + words : "") + "): " +
      sentence(reason),
    // A download held back by the malware scan says how the scan stands.
    { status: response.status, scan: body && typeof body.scan === "string" ? body.scan : undefined },
  );
}

// The presigner at `presignerUrl` (relative to the page, or absolute). With `session` (auth.js)
// every call carries the signed-in user's token, renewed once when the presigner answers 401.
export class Presigner {
  constructor(presignerUrl, session) {
    // Names the presigner in saved uploads, which only it can finish.
    this.id = new URL(presignerUrl, window.location.href).href;
    this.base = new URL(presignerUrl, window.location.href);
    if (!this.base.pathname.endsWith("/")) this.base.pathname += "/";
    this.sameOrigin = this.base.origin === window.location.origin;
    this.session = session || null;
  }

  // `${presignerUrl}<path>`, whether or not presignerUrl ends with "/".
  endpoint(path) {
    return new URL(path, this.base).toString();
  }

  // The headers for a call carrying `body` (a Uint8Array, or null): the payload hash behind
  // CloudFront, and the token when signed in. Behind CloudFront the distribution's own
  // signature takes `authorization`, so the token goes in `x-presign-authorization`.
  async headers(headers, body) {
    const out = { ...headers };
    if (this.sameOrigin) {
      out["x-amz-content-sha256"] =
        !body || body.length === 0 ? EMPTY_SHA256 : await sha256Hex(body);
    }
    if (this.session) {
      const token = await this.session.token();
      if (!token) throw signInFirst();
      out[this.sameOrigin ? "x-presign-authorization" : "authorization"] = "Bearer " + token;
    }
    return out;
  }

  // Sends `method` to `path` with `fields` as JSON (or no body), and returns the answer's JSON
  // (null for 204). A 401 renews the sign-in once and tries again.
  async call(method, path, fields, signal) {
    const payload = fields ? new TextEncoder().encode(JSON.stringify(fields)) : null;
    for (let attempt = 0; ; attempt += 1) {
      const base = payload ? { "content-type": "application/json" } : {};
      const headers = await this.headers(base, payload);
      let response;
      let body;
      try {
        const init = { method, headers, signal };
        if (payload) init.body = payload;
        response = await fetch(this.endpoint(path), init);
        body = response.status === 204 ? null : await readJson(response);
      } catch (_) {
        if (signal && signal.aborted) throw cancelled();
        throw failure(
          "Could not reach the presigner (network error, or it does not allow this site's " +
            "origin). Check your connection and try again.",
          { network: true },
        );
      }
      if (response.status === 401 && this.session) {
        if (attempt === 0 && (await this.session.renew())) continue;
        this.session.forget();
        throw signInFirst();
      }
      if (!response.ok) throw presignerRefusal(response, body);
      if (response.status === 204) return null;
      if (!body || typeof body !== "object") {
        throw new Error("The presigner answered with something that is not JSON.");
      }
      return body;
    }
  }

  // POSTs `fields` as JSON to `path` and returns the answer.
  post(path, fields, signal) {
    return this.call("POST", path, fields, signal);
  }

  // POST uploads: a single PUT, or the plan of an upload in parts.
  async requestUpload(file, contentType, sha256, signal) {
    const fields = { filename: file.name, contentType, size: file.size };
    if (sha256) fields.sha256 = sha256;
    const plan = await this.post("uploads", fields, signal);
    const planned =
      plan.method === "MULTIPART" ? partsPlanned(plan, file.size) : typeof plan.url === "string";
    if (typeof plan.key !== "string" || !planned) {
      throw new Error("The presigner answered with something that is not an upload URL.");
    }
    return plan;
  }

  // POST uploads/parts: the URLs of `parts` ({ partNumber, sha256 }) of the upload `up`.
  async partUrls(up, size, parts, signal) {
    const answer = await this.post(
      "uploads/parts",
      { key: up.key, uploadId: up.uploadId, size, parts },
      signal,
    );
    if (!Array.isArray(answer.parts)) {
      throw new Error("The presigner answered with something that is not a list of part URLs.");
    }
    return answer.parts;
  }

  // POST uploads/complete: done by the presigner ({ key }), or the request to send storage.
  complete(up, size, parts, signal) {
    const fields = { key: up.key, uploadId: up.uploadId, size, parts };
    return this.post("uploads/complete", fields, signal);
  }

  // POST uploads/abort: done by the presigner, or the request to send storage.
  abort(up) {
    return this.post("uploads/abort", { key: up.key, uploadId: up.uploadId });
  }

  // GET downloads: a URL that downloads the object under `key`; only https (or dev's own
  // machine) is followed.
  async downloadUrl(key) {
    const body = await this.call("GET", "downloads?key=" + encodeURIComponent(key));
    if (!body || typeof body.url !== "string") {
      throw new Error("The presigner answered with something that is not a download URL.");
    }
    if (!safeDownloadUrl(body.url)) {
      throw new Error("The presigner answered with a download link that is not https; not following it.");
    }
    return body.url;
  }

  // GET me: who is signed in, their usage and quota.
  me() {
    return this.call("GET", "me");
  }

  // GET files: a page of the signed-in user's files ({ files, cursor }).
  files(cursor) {
    return this.call("GET", "files" + (cursor ? "?cursor=" + encodeURIComponent(cursor) : ""));
  }

  // DELETE files: one of the signed-in user's files.
  deleteFile(key) {
    return this.call("DELETE", "files?key=" + encodeURIComponent(key));
  }
}

function signInFirst() {
  return failure("Sign in to go on: your sign-in has ended. An upload in parts resumes where it stopped.", {
    status: 401,
    signIn: true,
  });
}

// Whether a MULTIPART plan fits a file of `size` and says how the upload is created.
function partsPlanned(plan, size) {
  const c = plan.create;
  return (
    Number.isSafeInteger(plan.partSize) && plan.partSize > 0 &&
    plan.partCount === Math.ceil(size / plan.partSize) &&
    (typeof plan.uploadId === "string" || (c && typeof c === "object" && typeof c.url === "string"))
  );
}
