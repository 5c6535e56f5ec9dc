// Big files in parts, in a real browser against `presign-stack dev`: headless Chromium driven
// by playwright-core, in either layout (the presigner on its own origin, or on the page's
// origin under api_path, where every call to it must carry x-amz-content-sha256, checked).
//
//   node tests/browser/multipart.spec.mjs <page url> [screenshot.png]
//
// The spec must have presigner.multipart_threshold_bytes 6291456 and part_size_bytes 5242880,
// and allow application/octet-stream and text/plain. PRESIGN_STACK_DEV_DATA, when set, is dev's
// data dir: stored files are then also read from dev's documents store, byte for byte.
//
// 1. sha256.js, the page's SHA-256 where WebCrypto is missing, gives WebCrypto's digests (the
//    empty input, "abc", 1 MiB of random bytes, the lengths around a block's padding, and the
//    same inputs fed in uneven pieces).
// 2. A small file goes in one PUT that carries if-none-match: * and its x-amz-checksum-sha256.
// 3. A file of ten parts is stored exactly, in parts of 5 MiB, at most six PUTs in flight; its
//    timings are printed ("timing: ..."): they go into reports, nothing is asserted on them.
// 4. Reloaded mid-way (part PUTs held after three have been stored), then the same file
//    chosen again: the page offers to resume, sends only the seven parts missing (counted
//    request by request), under the same key and upload, and stores the exact bytes; the
//    download button gives them back; the saved state is gone.
// 5. Cancelled mid-way: in-flight PUTs stop, the upload is aborted (the presigner's DELETE,
//    answered 204), the saved state is gone, and a part sent afterwards to that upload is
//    refused with 404 NoSuchUpload.
// 6. An upload that storage no longer has (aborted behind the page's back after a reload):
//    the page starts over cleanly under a new key, says so, and stores the exact bytes. A
//    saved upload older than the bucket's abort-after-a-day rule is dropped when the page loads.
// 7. A part whose connection drops is sent again; a part storage keeps refusing (500) is tried
//    four times, then the file fails saying how many parts are stored, and choosing it again
//    sends only that part.
// 8. Without WebCrypto (as over plain http), a small file and a file in parts still upload,
//    hashed by sha256.js (imported by the page then) and checked by storage.
// The page is served under the Content-Security-Policy CloudFront gives it (harness.mjs).
// Exit 0 when all of that holds; 1 with the reason otherwise; 3 when playwright-core is missing.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { launchBrowser, startScript, underCsp } from "./harness.mjs";

const { url, screenshot, devData, chromium } = startScript("multipart.spec.mjs", "multipart.png");

// A hung browser must fail the test, not stall the suite.
setTimeout(() => {
  console.error(`the browser test did not finish within 240 s (at "${step}")`);
  process.exit(1);
}, 240_000).unref();

const WAIT = { timeout: 60_000 };
const PART = 5 * 1024 * 1024;
let step = "starting";
function begin(name) {
  step = name;
  console.log(`- ${name}`);
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
const sha256b64 = (bytes) => createHash("sha256").update(bytes).digest("base64");
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const KEY = (name) =>
  new RegExp(`^uploads/\\d{4}/\\d{2}/\\d{2}/[0-9a-f-]{36}/${escapeRe(name)}$`);
const RESUME_PREFIX = "presign-stack:resume:";

// A file on disk (so that its name, size and last change stay the same when chosen again):
// a readable first line, then random bytes, so that a misplaced part shows.
async function bigFile(dir, name, size) {
  const head = Buffer.from(`${name} ${new Date().toISOString()}\n`);
  const buffer = Buffer.concat([head, randomBytes(size - head.length)]);
  const file = path.join(dir, name);
  await writeFile(file, buffer);
  return { name, path: file, buffer, mimeType: "application/octet-stream" };
}

async function settledStatus(page) {
  await page.waitForFunction(
    () => document.querySelector("#status").dataset.state !== "info",
    null,
    WAIT,
  );
  return {
    state: await page.getAttribute("#status", "data-state"),
    text: (await page.textContent("#status")).trim(),
  };
}

const row = (page, name) => page.locator(`#queue [data-testid=file-row][data-name="${name}"]`);

// What the page keeps for resuming uploads in parts: one entry per file.
async function savedUploads(page) {
  return page.evaluate((prefix) => {
    const out = [];
    for (const k of Object.keys(localStorage)) {
      if (k.startsWith(prefix)) out.push(JSON.parse(localStorage.getItem(k)));
    }
    return out;
  }, RESUME_PREFIX);
}

// Waits until the page has saved at least `n` stored parts of its one upload in parts.
async function waitForSavedParts(page, n) {
  await page.waitForFunction(
    ({ prefix, n }) =>
      Object.keys(localStorage).some(
        (k) => k.startsWith(prefix) && Object.keys(JSON.parse(localStorage.getItem(k)).parts).length >= n,
      ),
    { prefix: RESUME_PREFIX, n },
    WAIT,
  );
  const saved = await savedUploads(page);
  assert.equal(saved.length, 1, "one upload in parts is saved");
  return saved[0];
}

// Lets the first `n` part PUTs through and holds every later one (never answered), so that
// an upload stops mid-way with exactly `n` parts stored. Unrouting would let the held ones
// go: reload or cancel first. Returns the held routes.
async function holdPartsAfter(page, n) {
  let passed = 0;
  const held = [];
  await page.route(
    (u) => u.searchParams.has("partNumber"),
    (route) => {
      if (route.request().method() !== "PUT" || passed < n) {
        if (route.request().method() === "PUT") passed += 1;
        return route.continue();
      }
      held.push(route);
      return undefined;
    },
  );
  return held;
}

// The requests the page sends to the presigner and to storage, as they leave the browser.
function recordRequests(page, presignerBase) {
  const seen = [];
  const pageOrigin = new URL(url).origin;
  page.on("request", (request) => {
    const u = new URL(request.url());
    const method = request.method();
    if (u.href.startsWith(presignerBase)) {
      if (method === "POST") {
        seen.push({
          kind: "presigner",
          route: u.pathname.slice(new URL(presignerBase).pathname.length).replace(/\/$/, ""),
          body: request.postDataBuffer() ?? Buffer.alloc(0),
          headers: request.allHeaders(),
        });
      }
      return;
    }
    if (u.origin === pageOrigin || method === "OPTIONS" || method === "GET") return;
    let kind = "put";
    if (u.searchParams.has("partNumber")) kind = "part";
    else if (method === "POST" && u.searchParams.has("uploads")) kind = "create";
    else if (method === "POST") kind = "complete";
    else if (method === "DELETE") kind = "abort";
    seen.push({
      kind,
      method,
      part: Number(u.searchParams.get("partNumber")) || 0,
      uploadId: u.searchParams.get("uploadId"),
      headers: request.headers(),
    });
  });
  return seen;
}

// Behind CloudFront each call to the presigner carries the SHA-256 of its exact body; across
// origins none does.
async function checkPayloadHashes(calls, sameOrigin) {
  for (const call of calls.filter((c) => c.kind === "presigner")) {
    const sent = (await call.headers)["x-amz-content-sha256"];
    if (sameOrigin) assert.equal(sent, sha256(call.body), `POST ${call.route}`);
    else assert.equal(sent, undefined, `no payload hash header on a cross-origin POST ${call.route}`);
  }
}

// The test's own calls to the presigner (as a page would make them: with the payload hash
// behind CloudFront), from inside the page.
async function definePresignerCall(page, presignerBase, sameOrigin) {
  await page.evaluate(
    ({ base, sameOrigin }) => {
      window.testPresigner = async (route, fields) => {
        const body = new TextEncoder().encode(JSON.stringify(fields));
        const headers = { "content-type": "application/json" };
        if (sameOrigin) {
          const d = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
          headers["x-amz-content-sha256"] = Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
        }
        const r = await fetch(new URL(route, base), { method: "POST", headers, body });
        return r.json();
      };
    },
    { base: presignerBase, sameOrigin },
  );
}

// Dev's copy of the object under `key`, when dev's data dir is known.
async function checkInStore(key, file) {
  if (!devData) return;
  const buckets = await readdir(path.join(devData, "s3"));
  const bucket = buckets.find((b) => !b.startsWith("."));
  const object = path.join(devData, "s3", bucket, sha256(key));
  const stored = await readFile(object).catch(() => null);
  assert.ok(stored, `${file.name}: nothing in dev's store under ${key}`);
  assert.ok(
    stored.equals(file.buffer),
    `${file.name}: dev stored ${stored.length} bytes that differ from the ${file.buffer.length} chosen`,
  );
  const meta = JSON.parse(await readFile(`${object}.json`, "utf8"));
  assert.equal(meta.key, key);
  assert.equal(meta.content_type, file.mimeType);
}

// Dev's folder for the upload in parts `uploadId`, and the names in it (null when absent);
// undefined when dev's data dir is not known.
async function uploadInStore(uploadId) {
  if (!devData) return undefined;
  const root = path.join(devData, "s3-uploads");
  const buckets = await readdir(root).catch(() => []);
  for (const b of buckets) {
    const names = await readdir(path.join(root, b, sha256(uploadId))).catch(() => null);
    if (names) return names;
  }
  return null;
}

// Uploads in parts dev still holds (neither completed nor aborted).
async function uploadsInStore() {
  if (!devData) return [];
  const root = path.join(devData, "s3-uploads");
  const out = [];
  for (const b of await readdir(root).catch(() => [])) {
    for (const u of await readdir(path.join(root, b)).catch(() => [])) out.push(`${b}/${u}`);
  }
  return out;
}

// A row that stored its file; returns its key.
async function checkStored(page, file, resultRe = /^Stored as uploads\//) {
  const r = row(page, file.name);
  assert.equal(await r.getAttribute("data-state"), "done", `${file.name}: ${await r.textContent()}`);
  const key = (await r.locator("[data-testid=file-key]").textContent()).trim();
  assert.match(key, KEY(file.name));
  assert.match((await r.locator("[data-testid=file-result]").textContent()).trim(), resultRe);
  assert.equal((await r.locator("[data-testid=file-percent]").textContent()).trim(), "100%");
  await checkInStore(key, file);
  return key;
}

async function checkDownload(page, key, file) {
  const [download] = await Promise.all([
    page.waitForEvent("download", WAIT),
    page.locator(`#uploads li[data-key="${key}"] [data-testid=download]`).click(),
  ]);
  assert.equal(download.suggestedFilename(), file.name);
  const saved = await readFile(await download.path());
  assert.ok(saved.equals(file.buffer), `${file.name}: downloaded ${saved.length} bytes that differ from the upload`);
}

async function uploadAndSettle(page) {
  await page.click("#upload");
  await page.waitForSelector("#queue[data-state='finished']", WAIT);
  return settledStatus(page);
}

const browser = await launchBrowser(chromium);
const tmp = await mkdtemp(path.join(os.tmpdir(), "presign-stack-multipart-"));
let failed = false;
try {
  const context = await browser.newContext({
    acceptDownloads: true,
    viewport: { width: 960, height: 900 },
    colorScheme: "light",
  });
  await underCsp(context, url);
  const page = await context.newPage();
  const problems = [];
  // Storage's 404 for a part of an aborted upload is expected where the test provokes it.
  let expectedErrors = null;
  const watch = (p) => {
    p.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    p.on("console", (m) => {
      if (m.type() !== "error") return;
      if (expectedErrors && expectedErrors.test(m.text())) return;
      problems.push(`console error: ${m.text()}`);
    });
  };
  watch(page);

  begin("the page loads its config");
  await page.goto(url);
  await page.waitForSelector("body[data-ready='true']", WAIT);
  const config = await page.evaluate(async () => (await fetch("config.json")).json());
  const presignerBase = new URL(config.presignerUrl, url).href;
  const sameOrigin = new URL(presignerBase).origin === new URL(url).origin;
  console.log(
    `  presigner: ${config.presignerUrl} (${sameOrigin ? "the page's origin, behind CloudFront" : "its own origin"})`,
  );
  const seen = recordRequests(page, presignerBase);

  begin("sha256.js gives WebCrypto's digests");
  {
    const results = await page.evaluate(async () => {
      const sha256js = await import(new URL("sha256.js", location.href).href);
      const random = (n) => {
        const b = new Uint8Array(n);
        for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
        return b;
      };
      const inputs = [
        ["empty", new Uint8Array(0)],
        ["abc", new TextEncoder().encode("abc")],
        ["1 MiB random", random(1024 * 1024)],
        ...[1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000].map((n) => [`${n} bytes`, random(n)]),
      ];
      const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
      const out = [];
      for (const [name, bytes] of inputs) {
        const js = hex(sha256js.digest(bytes));
        const h = sha256js.create();
        for (let at = 0, step = 1; at < bytes.length; at += step, step = (step * 7 + 3) % 200 + 1) {
          h.update(bytes.subarray(at, at + step));
        }
        out.push({ name, js, pieces: hex(h.digest()), subtle: hex(await crypto.subtle.digest("SHA-256", bytes)) });
      }
      return out;
    });
    for (const r of results) {
      assert.equal(r.js, r.subtle, `sha256.js on ${r.name}`);
      assert.equal(r.pieces, r.subtle, `sha256.js on ${r.name} fed in pieces`);
    }
    assert.equal(results[0].js, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert.equal(results[1].js, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    console.log(`  ${results.length} inputs agree`);
  }

  begin("a small file: one PUT with if-none-match: * and its x-amz-checksum-sha256");
  {
    const small = { name: "small.txt", mimeType: "text/plain", buffer: Buffer.from(`small ${randomBytes(30_000).toString("hex")}`) };
    const from = seen.length;
    await page.setInputFiles("#file", small);
    const status = await uploadAndSettle(page);
    assert.equal(status.state, "success", status.text);
    const key = await checkStored(page, small);
    const puts = seen.slice(from).filter((s) => s.kind === "put");
    assert.equal(puts.length, 1, "one PUT");
    assert.equal(puts[0].headers["if-none-match"], "*");
    assert.equal(puts[0].headers["x-amz-checksum-sha256"], sha256b64(small.buffer));
    assert.equal(seen.slice(from).filter((s) => s.kind !== "put" && s.kind !== "presigner").length, 0);
    await checkDownload(page, key, small);
  }

  begin("a file of ten parts: stored exactly, at most six parts in flight (timed)");
  const tenParts = 9 * PART + 1_234_567;
  {
    const big = await bigFile(tmp, "big.bin", tenParts);
    const from = seen.length;
    await page.setInputFiles("#file", big.path);
    const started = Date.now();
    await page.click("#upload");
    // Parts in flight at once, as the page's requests show them.
    let inFlight = 0;
    let peak = 0;
    const onRequest = (r) => {
      if (new URL(r.url()).searchParams.has("partNumber") && r.method() === "PUT") peak = Math.max(peak, ++inFlight);
    };
    const onDone = (r) => {
      if (new URL(r.url()).searchParams.has("partNumber") && r.method() === "PUT") inFlight -= 1;
    };
    page.on("request", onRequest);
    page.on("requestfinished", onDone);
    page.on("requestfailed", onDone);
    await page.waitForSelector("#queue[data-state='finished']", WAIT);
    const seconds = (Date.now() - started) / 1000;
    page.off("request", onRequest);
    page.off("requestfinished", onDone);
    page.off("requestfailed", onDone);
    const status = await settledStatus(page);
    assert.equal(status.state, "success", status.text);
    const key = await checkStored(page, big);
    const mine = seen.slice(from);
    const parts = mine.filter((s) => s.kind === "part");
    assert.deepEqual(parts.map((p) => p.part).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(mine.filter((s) => s.kind === "create").length, 1, "one create");
    assert.equal(mine.filter((s) => s.kind === "complete").length, 1, "one complete");
    for (const p of parts) {
      const start = (p.part - 1) * PART;
      const bytes = big.buffer.subarray(start, Math.min(start + PART, big.buffer.length));
      assert.equal(p.headers["x-amz-checksum-sha256"], sha256b64(bytes), `part ${p.part}'s checksum`);
    }
    const complete = mine.find((s) => s.kind === "complete");
    assert.equal(complete.headers["if-none-match"], "*", "completing never replaces an object");
    assert.ok(peak >= 2 && peak <= 6, `part PUTs in flight at most: ${peak}`);
    const presignerCalls = mine.filter((s) => s.kind === "presigner").map((s) => s.route);
    const partCalls = presignerCalls.filter((r) => r === "uploads/parts").length;
    assert.ok(partCalls >= 1 && partCalls <= 5, `part URLs asked in ${partCalls} calls`);
    assert.deepEqual(await savedUploads(page), [], "nothing left saved once stored");
    const r = row(page, big.name);
    const pageSeconds = Number(await r.getAttribute("data-seconds"));
    const stats = (await r.locator("[data-testid=file-stats]").textContent()).trim();
    assert.match(stats, /^\d+(\.\d)? MB sent in \d+\.\d s · \d+\.\d MB\/s$/);
    const mib = big.buffer.length / (1024 * 1024);
    console.log(
      `  timing: ${mib.toFixed(1)} MiB in 10 parts of 5 MiB: ${seconds.toFixed(2)} s from Upload to ` +
        `stored (${(mib / seconds).toFixed(1)} MiB/s), of which sending the parts and completing ` +
        `${pageSeconds.toFixed(2)} s (${(mib / pageSeconds).toFixed(1)} MiB/s); peak ${peak} part ` +
        `PUTs in flight; part URLs in ${partCalls} presigner calls; the row says "${stats}"`,
    );
    await checkDownload(page, key, big);
  }

  begin("reloaded mid-way, the same file chosen again: only the missing parts are sent");
  {
    const big = await bigFile(tmp, "resumed.bin", tenParts);
    await page.setInputFiles("#file", big.path);
    await holdPartsAfter(page, 3);
    await page.click("#upload");
    const before = await waitForSavedParts(page, 3);
    assert.deepEqual(Object.keys(before.parts).length, 3, "three parts stored before the reload");
    assert.equal(before.partCount, 10);
    assert.equal(before.partSize, PART);
    assert.match(before.key, KEY(big.name));
    const storedBefore = Object.keys(before.parts).map(Number).sort((a, b) => a - b);
    // A saved upload older than the bucket's abort-after-a-day rule: dropped at load.
    await page.evaluate((prefix) => {
      const dayAndAHalfAgo = new Date(Date.now() - 36 * 3600 * 1000).toISOString();
      localStorage.setItem(
        `${prefix}["stale"]`,
        JSON.stringify({ key: "uploads/x", uploadId: "x", partSize: 5242880, partCount: 2,
          contentType: "text/plain", parts: {}, createdAt: dayAndAHalfAgo, savedAt: dayAndAHalfAgo }),
      );
    }, RESUME_PREFIX);
    // Reloaded while the held PUTs are still pending: the reload drops them.
    await page.reload();
    await page.unrouteAll({ behavior: "ignoreErrors" });
    await page.waitForSelector("body[data-ready='true']", WAIT);
    const from = seen.length;
    const kept = await savedUploads(page);
    assert.deepEqual(kept.map((k) => k.uploadId), [before.uploadId], "the stale entry is dropped, this one kept");

    await page.setInputFiles("#file", big.path);
    assert.match(
      (await row(page, big.name).locator("[data-testid=file-result]").textContent()).trim(),
      /^Part of this file was sent earlier \(3 of 10 parts are stored\): Upload resumes from there\.$/,
    );
    assert.match(await page.textContent("#status"), /Part of it was sent earlier: the upload resumes from there\./);
    const status = await uploadAndSettle(page);
    assert.equal(status.state, "success", status.text);
    const key = await checkStored(page, big);
    assert.equal(key, before.key, "the same key as before the reload");
    const mine = seen.slice(from);
    const sent = mine.filter((s) => s.kind === "part").map((s) => s.part).sort((a, b) => a - b);
    const missing = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].filter((n) => !storedBefore.includes(n));
    assert.deepEqual(sent, missing, `after the reload only the missing parts are sent (stored before: ${storedBefore})`);
    assert.ok(mine.filter((s) => s.kind === "part").every((s) => s.uploadId === before.uploadId), "to the same upload");
    assert.equal(mine.filter((s) => s.kind === "create").length, 0, "no new upload is created");
    assert.equal(mine.filter((s) => s.kind === "presigner" && s.route === "uploads").length, 0);
    assert.equal(mine.filter((s) => s.kind === "complete").length, 1);
    assert.match(
      (await row(page, big.name).locator("[data-testid=file-stats]").textContent()).trim(),
      /^\d+(\.\d)? MB sent in .+ \(15(\.0)? MB was stored earlier\)$/,
    );
    assert.deepEqual(await savedUploads(page), [], "the saved state is cleared once stored");
    console.log(`  parts stored before the reload: ${storedBefore.join(", ")}; sent after it: ${sent.join(", ")}`);
    await checkDownload(page, key, big);
    await mkdir(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
  }

  begin("cancelled mid-way: the upload is aborted and forgotten");
  {
    const big = await bigFile(tmp, "cancelled.bin", tenParts);
    await page.setInputFiles("#file", big.path);
    await holdPartsAfter(page, 2);
    const from = seen.length;
    await page.click("#upload");
    const saved = await waitForSavedParts(page, 2);
    const r = row(page, big.name);
    const cancel = r.locator("[data-testid=file-cancel]");
    assert.equal(await cancel.isVisible(), true, "a row in progress can be cancelled");
    assert.equal(await cancel.getAttribute("aria-label"), `Cancel the upload of ${big.name}`);
    const inStore = await uploadInStore(saved.uploadId);
    if (inStore !== undefined) {
      assert.ok(inStore, "dev's store holds the upload while it is under way");
      assert.ok(inStore.filter((n) => /^part-\d+$/.test(n)).length >= 2, `its parts: ${inStore}`);
    }
    const aborted = page.waitForResponse((res) => res.request().method() === "DELETE", WAIT);
    await cancel.click();
    const status = await settledStatus(page);
    assert.equal(status.state, "partial", status.text);
    assert.equal(status.text, `Cancelled the upload of ${big.name}.`);
    assert.equal(await r.getAttribute("data-state"), "cancelled");
    assert.equal(
      (await r.locator("[data-testid=file-result]").textContent()).trim(),
      "Cancelled; the parts already sent were discarded.",
    );
    assert.equal(await cancel.isVisible(), false, "no Cancel once cancelled");
    const deleted = await aborted;
    assert.equal(deleted.status(), 204, "storage aborted the upload");
    assert.equal(new URL(deleted.url()).searchParams.get("uploadId"), saved.uploadId);
    const mine = seen.slice(from);
    assert.equal(mine.filter((s) => s.kind === "presigner" && s.route === "uploads/abort").length, 1);
    assert.equal(mine.filter((s) => s.kind === "complete").length, 0, "never completed");
    assert.deepEqual(await savedUploads(page), [], "the saved state is gone");
    assert.ok(!(await uploadInStore(saved.uploadId)), "dev's store no longer has the upload");
    await page.unrouteAll({ behavior: "ignoreErrors" });
    // A part sent to that upload now is refused: storage no longer has it.
    expectedErrors = /status of 404/;
    await definePresignerCall(page, presignerBase, sameOrigin);
    const late = await page.evaluate(
      async ({ key, uploadId, size, part }) => {
        const bytes = new Uint8Array(part);
        const sha = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))));
        const { parts } = await window.testPresigner("uploads/parts", {
          key,
          uploadId,
          size,
          parts: [{ partNumber: 1, sha256: sha }],
        });
        const { "content-length": _, ...headers } = parts[0].headers;
        const put = await fetch(parts[0].url, { method: "PUT", headers, body: bytes });
        return { status: put.status, body: await put.text() };
      },
      { key: saved.key, uploadId: saved.uploadId, size: big.buffer.length, part: PART },
    );
    expectedErrors = null;
    assert.equal(late.status, 404, late.body);
    assert.match(late.body, /<Code>NoSuchUpload<\/Code>/);
  }

  begin("an upload storage no longer has: the page starts over, says so, and stores it");
  {
    const big = await bigFile(tmp, "expired.bin", 3 * PART + 1000);
    await page.setInputFiles("#file", big.path);
    await holdPartsAfter(page, 2);
    await page.click("#upload");
    const saved = await waitForSavedParts(page, 2);
    // Reloaded while the held PUTs are still pending: the reload drops them.
    await page.reload();
    await page.unrouteAll({ behavior: "ignoreErrors" });
    await page.waitForSelector("body[data-ready='true']", WAIT);
    // Storage forgets the upload (as its lifecycle rule does after a day).
    await definePresignerCall(page, presignerBase, sameOrigin);
    const gone = await page.evaluate(
      async ({ key, uploadId }) => {
        const a = await window.testPresigner("uploads/abort", { key, uploadId });
        return (await fetch(a.url, { method: a.method, headers: a.headers })).status;
      },
      { key: saved.key, uploadId: saved.uploadId },
    );
    assert.equal(gone, 204);
    expectedErrors = /status of 404/;
    await page.setInputFiles("#file", big.path);
    assert.match(
      (await row(page, big.name).locator("[data-testid=file-result]").textContent()).trim(),
      /^Part of this file was sent earlier \(2 of 4 parts are stored\)/,
    );
    const status = await uploadAndSettle(page);
    expectedErrors = null;
    assert.equal(status.state, "success", status.text);
    const key = await checkStored(
      page,
      big,
      /^Stored as uploads\/.+\. It was sent again from the start: storage no longer had the parts sent earlier \(404 NoSuchUpload\)\.$/,
    );
    assert.notEqual(key, saved.key, "a new key");
    assert.deepEqual(await savedUploads(page), []);
  }

  begin("a failed part is tried again; one that keeps failing fails the file, which then resumes");
  {
    const big = await bigFile(tmp, "flaky.bin", 3 * PART + 4321);
    const tries = new Map();
    let part3Fails = true;
    await page.route(
      (u) => u.searchParams.has("partNumber"),
      (route) => {
        if (route.request().method() !== "PUT") return route.continue();
        const n = Number(new URL(route.request().url()).searchParams.get("partNumber"));
        tries.set(n, (tries.get(n) || 0) + 1);
        // Part 2: the connection drops once. Part 3: storage fails every time.
        if (n === 2 && tries.get(n) === 1) return route.abort("connectionreset");
        if (n === 3 && part3Fails) {
          return route.fulfill({
            status: 500,
            headers: { "access-control-allow-origin": "*", "content-type": "application/xml" },
            body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>" +
              "<Message>We encountered an internal error. Please try again.</Message></Error>",
          });
        }
        return route.continue();
      },
    );
    expectedErrors = /status of 500|ERR_CONNECTION_RESET/;
    await page.setInputFiles("#file", big.path);
    const failedRun = await uploadAndSettle(page);
    assert.equal(failedRun.state, "error", failedRun.text);
    const r = row(page, big.name);
    assert.equal(await r.getAttribute("data-state"), "failed");
    assert.equal(
      (await r.locator("[data-testid=file-result]").textContent()).trim(),
      "Part 3 of 4: Storage refused the upload (500 InternalError: We encountered an internal " +
        "error. Please try again.). 3 of 4 parts are stored: choose the file again to resume.",
    );
    assert.equal(tries.get(2), 2, "part 2 is sent again after the connection dropped");
    assert.equal(tries.get(3), 4, "part 3 is tried four times");
    part3Fails = false;
    await page.unrouteAll({ behavior: "ignoreErrors" });
    expectedErrors = null;
    const from = seen.length;
    await page.setInputFiles("#file", big.path);
    assert.match(
      (await r.locator("[data-testid=file-result]").textContent()).trim(),
      /^Part of this file was sent earlier \(3 of 4 parts are stored\)/,
    );
    const status = await uploadAndSettle(page);
    assert.equal(status.state, "success", status.text);
    await checkStored(page, big);
    assert.deepEqual(seen.slice(from).filter((s) => s.kind === "part").map((s) => s.part), [3]);
  }

  begin("without WebCrypto (as over plain http), sha256.js hashes and storage checks");
  {
    const plain = await context.newPage();
    watch(plain);
    await plain.addInitScript(() => {
      Object.defineProperty(Crypto.prototype, "subtle", { get: () => undefined });
    });
    await plain.goto(url);
    await plain.waitForSelector("body[data-ready='true']", WAIT);
    assert.equal(await plain.evaluate(() => window.crypto.subtle), undefined);
    const plainSeen = recordRequests(plain, presignerBase);
    const small = { name: "plain.txt", mimeType: "text/plain", buffer: Buffer.from(`plain ${randomBytes(5000).toString("hex")}`) };
    const parted = await bigFile(tmp, "plain.bin", 2 * PART + 77_777);
    await plain.setInputFiles("#file", [small, { name: parted.name, mimeType: parted.mimeType, buffer: parted.buffer }]);
    const status = await uploadAndSettle(plain);
    assert.equal(status.state, "success", status.text);
    await checkStored(plain, small);
    await checkStored(plain, parted);
    const put = plainSeen.find((s) => s.kind === "put");
    assert.equal(put.headers["x-amz-checksum-sha256"], sha256b64(small.buffer));
    assert.equal(plainSeen.filter((s) => s.kind === "part").length, 3);
    await checkPayloadHashes(plainSeen, sameOrigin);
    await plain.close();
  }

  await checkPayloadHashes(seen, sameOrigin);
  assert.deepEqual(await uploadsInStore(), [], "no upload in parts left in dev's store");
  assert.deepEqual(problems, [], "the page logged no errors");
  console.log("ok: big files go in parts, resume after a reload, cancel, and start over when storage forgot them");
} catch (e) {
  failed = true;
  console.error(`FAILED at "${step}": ${e.stack || e}`);
} finally {
  await browser.close();
  await rm(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
