// The demo page in a real browser against `presign-stack dev`: headless Chromium (the system's,
// PRESIGN_STACK_CHROMIUM or /usr/bin/chromium) driven by playwright-core from .tools/.
//
//   node tests/browser/upload.spec.mjs <page url> [screenshot.png]
//
// PRESIGN_STACK_DEV_DATA, when set, is dev's data dir: each stored file is then also read from
// dev's documents store and compared byte for byte.
//
// 1. Three files chosen at once, one of a type the spec does not allow: that one is refused in
//    its own row before the presigner is asked, the two others are stored with their exact
//    bytes, each row shows its own key, and each successful row's bar is full (its value and
//    its pixels) with its label at 100%.
// 2. Each finished file downloads with the page's button, same bytes; the page's origin may
//    read an object (CORS GET, ETag exposed).
// 3. With the page's own checks widened (config.json rewritten on its way to the page), six
//    files at once: the presigner's refusals (415, 413) and storage's (a tampered signature,
//    403) each shown in plain words in their own row, the other three stored, never more than
//    three uploads in flight (the presigner's answers are held back to make that visible).
// 4. Several files dropped onto the drop zone upload as well.
// 5. A single file over the limit, and one of a type not allowed, are refused readably.
//
// Either layout: the presigner on its own origin (s3-website, the Function URL), or on the
// page's origin under api_path (cloudfront), where the page must send x-amz-content-sha256, the
// SHA-256 of each call's body, on every call, and is checked to have sent the right one. Both
// serve the page under the Content-Security-Policy CloudFront gives it (harness.mjs): its
// modules load from its own origin, and nothing inline runs.
// Exit 0 when all of that holds; 1 with the reason otherwise; 3 when playwright-core is missing.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { launchBrowser, PAGE_CSP, startScript, underCsp } from "./harness.mjs";

const { url, screenshot, devData, chromium } = startScript("upload.spec.mjs", "upload.png");

// A hung browser must fail the test, not stall the suite.
setTimeout(() => {
  console.error("the browser test did not finish within 120 s");
  process.exit(1);
}, 120_000).unref();

const WAIT = { timeout: 15_000 };
let step = "starting";
function begin(name) {
  step = name;
  console.log(`- ${name}`);
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const KEY = (name) =>
  new RegExp(`^uploads/\\d{4}/\\d{2}/\\d{2}/[0-9a-f-]{36}/${escapeRe(name)}$`);

// Some bytes that are not all alike, so a truncated or mixed-up object shows.
function content(label, size) {
  const head = Buffer.from(`${label} ${new Date().toISOString()}\n`);
  return Buffer.concat([head, randomBytes(Math.max(0, size - head.length))]);
}

// The page is settled once #status leaves "info" (success, partial or error).
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

// Chooses `files`, checks each gets a row in order, clicks Upload, waits until every row is
// finished, and at that very moment takes one screenshot of the page (so that a bar still
// catching up with its label is seen as it is). Returns the rows by name and the screenshot.
async function chooseAndUpload(page, files, expectReady) {
  await page.setInputFiles("#file", files);
  return uploadChosen(page, files, expectReady);
}

async function uploadChosen(page, files, expectReady) {
  const rows = page.locator("#queue [data-testid=file-row]");
  assert.deepEqual(
    await rows.evaluateAll((rs) => rs.map((r) => r.dataset.name)),
    files.map((f) => f.name),
    "one row per chosen file, in order",
  );
  assert.equal(await page.isEnabled("#upload"), true, "Upload is enabled");
  assert.equal(
    (await page.textContent("#upload")).trim(),
    expectReady > 1 ? `Upload ${expectReady} files` : "Upload",
  );
  await page.click("#upload");
  await page.waitForSelector("#queue[data-state='finished']", WAIT);
  const shot = await page.screenshot({ fullPage: true });
  const byName = new Map();
  for (const f of files) {
    byName.set(f.name, page.locator(`#queue [data-testid=file-row][data-name="${f.name}"]`));
  }
  return { byName, shot };
}

// How much of each progress bar's track is filled, as drawn: the bars' middle row of pixels
// in `shot`, each pixel counted as fill or track by whichever colour it is closer to.
async function drawnFill(page, decoder, shot, bars) {
  const boxes = [];
  for (const bar of bars) {
    boxes.push(
      await bar.evaluate((e) => {
        const r = e.getBoundingClientRect();
        return { x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height };
      }),
    );
  }
  const colors = await page.evaluate(() => {
    const s = getComputedStyle(document.documentElement);
    return { fill: s.getPropertyValue("--accent").trim(), track: s.getPropertyValue("--line").trim() };
  });
  return decoder.evaluate(
    async ({ b64, boxes, colors }) => {
      const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      const fill = rgb(colors.fill);
      const track = rgb(colors.track);
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = new OffscreenCanvas(img.width, img.height);
      const g = canvas.getContext("2d");
      g.drawImage(img, 0, 0);
      return boxes.map((b) => {
        const x0 = Math.round(b.x);
        const w = Math.round(b.w);
        const d = g.getImageData(x0, Math.floor(b.y + b.h / 2), w, 1).data;
        const far = (i, c) => Math.abs(d[i] - c[0]) + Math.abs(d[i + 1] - c[1]) + Math.abs(d[i + 2] - c[2]);
        let filled = 0;
        for (let x = 0; x < w; x += 1) if (far(x * 4, fill) < far(x * 4, track)) filled += 1;
        return w > 0 ? filled / w : 0;
      });
    },
    { b64: shot.toString("base64"), boxes, colors },
  );
}

// A row that stored its file: its key, a full bar (value, label and pixels), the exact bytes
// in dev's store. Returns the key.
async function checkStored(row, file, fill) {
  const name = file.name;
  assert.equal(await row.getAttribute("data-state"), "done", `${name}: ${await row.textContent()}`);
  const key = (await row.locator("[data-testid=file-key]").textContent()).trim();
  assert.match(key, KEY(name));
  assert.match((await row.locator("[data-testid=file-result]").textContent()).trim(), /^Stored as uploads\//);
  const bar = row.locator("[data-testid=file-progress]");
  assert.equal(await bar.isVisible(), true, `${name}: its progress bar is shown`);
  const [value, max] = await bar.evaluate((p) => [p.value, p.max]);
  assert.equal(value, max, `${name}: the bar's value is its max`);
  assert.equal((await row.locator("[data-testid=file-percent]").textContent()).trim(), "100%");
  assert.ok(
    fill >= 0.97,
    `${name}: the bar is drawn ${Math.round(fill * 100)}% full while its label says 100%`,
  );
  if (devData) {
    const buckets = await readdir(path.join(devData, "s3"));
    assert.equal(buckets.length, 1, `one bucket in dev's store: ${buckets}`);
    const object = path.join(devData, "s3", buckets[0], sha256(key));
    const stored = await readFile(object).catch(() => null);
    assert.ok(stored, `${name}: nothing in dev's store under ${key}`);
    assert.ok(
      stored.equals(file.buffer),
      `${name}: dev stored ${stored.length} bytes that differ from the ${file.buffer.length} chosen`,
    );
    const meta = JSON.parse(await readFile(`${object}.json`, "utf8"));
    assert.equal(meta.key, key);
    assert.equal(meta.content_type, file.mimeType);
  }
  return key;
}

// A row that did not store its file: no bar, and `reason` in its result.
async function checkNotStored(row, state, reason) {
  const name = await row.getAttribute("data-name");
  assert.equal(await row.getAttribute("data-state"), state, `${name}: ${await row.textContent()}`);
  assert.match((await row.locator("[data-testid=file-result]").textContent()).trim(), reason);
  assert.equal(await row.locator("[data-testid=file-progress]").isVisible(), false, `${name}: no bar`);
  assert.equal(await row.locator("[data-testid=file-key]").count(), 0, `${name}: no key`);
}

// Every call `page` makes to the presigner, with the headers it really sent (a promise).
function recordPresignerCalls(page, presignerUrl) {
  const calls = [];
  const base = new URL(presignerUrl, url).href;
  page.on("request", (request) => {
    const target = new URL(request.url());
    if (!target.href.startsWith(base) || request.method() === "OPTIONS") return;
    calls.push({
      method: request.method(),
      path: target.pathname,
      body: request.postDataBuffer() ?? Buffer.alloc(0),
      headers: request.allHeaders(),
    });
  });
  return calls;
}

// Behind CloudFront each call carries the SHA-256 of its exact body; across origins none does.
async function checkPayloadHashes(calls, sameOrigin) {
  for (const call of calls) {
    const sent = (await call.headers)["x-amz-content-sha256"];
    if (sameOrigin) assert.equal(sent, sha256(call.body), `${call.method} ${call.path}`);
    else assert.equal(sent, undefined, `no payload hash header on a cross-origin ${call.method}`);
  }
}

const uploadsAsked = (calls) =>
  calls
    .filter((c) => c.method === "POST" && c.path.endsWith("/uploads"))
    .map((c) => JSON.parse(c.body.toString("utf8")).filename)
    .sort();

const browser = await launchBrowser(chromium);
let failed = false;
try {
  const context = await browser.newContext({
    acceptDownloads: true,
    viewport: { width: 960, height: 900 },
    colorScheme: "light",
  });
  await underCsp(context, url);
  const decoder = await context.newPage();
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });

  begin("the page loads its config, under CloudFront's Content-Security-Policy");
  const served = await page.goto(url);
  assert.equal((await served.allHeaders())["content-security-policy"], PAGE_CSP);
  await page.waitForSelector("body[data-ready='true']", WAIT);
  const config = await page.evaluate(async () => (await fetch("config.json")).json());
  assert.ok(config.maxUploadBytes > 0, "config.json has maxUploadBytes");
  assert.ok(!config.allowedContentTypes.includes("image/gif"), "the spec does not allow GIF");
  assert.match(await page.textContent("#limits"), /^Up to /);
  assert.equal(await page.getAttribute("#file", "multiple"), "", "the input takes several files");
  const sameOrigin = new URL(config.presignerUrl, url).origin === new URL(url).origin;
  console.log(
    `  presigner: ${config.presignerUrl} (${sameOrigin ? "the page's origin, behind CloudFront" : "its own origin"})`,
  );
  console.log(`  dev's store: ${devData || "(not given: bytes checked by download only)"}`);
  const presignerCalls = recordPresignerCalls(page, config.presignerUrl);

  begin("three files chosen at once, one refused: two stored, each row its own result");
  const three = [
    { name: "notes.txt", mimeType: "text/plain", buffer: content("notes", 180_000) },
    { name: "clip.gif", mimeType: "image/gif", buffer: Buffer.from("GIF89a\x01\x00\x01\x00") },
    { name: "scan.png", mimeType: "image/png", buffer: content("scan", 320_000) },
  ];
  await page.setInputFiles("#file", three);
  const gifReason = /^clip\.gif is a GIF file \(image\/gif\); this site accepts .+\.$/;
  const chosen = page.locator("#queue [data-testid=file-row]");
  assert.equal(await chosen.nth(1).getAttribute("data-state"), "refused", "refused as soon as chosen");
  assert.match(await chosen.nth(1).locator("[data-testid=file-result]").textContent(), gifReason);
  assert.match(await page.textContent("#status"), /^Ready to upload 2 files\. 1 /);
  const first = await uploadChosen(page, three, 2);
  const status = await settledStatus(page);
  assert.equal(status.state, "partial", status.text);
  assert.match(status.text, /^Uploaded 2 of 3 files; 1 was not uploaded/);
  const okThree = [three[0], three[2]];
  const fills = await drawnFill(
    page,
    decoder,
    first.shot,
    okThree.map((f) => first.byName.get(f.name).locator("[data-testid=file-progress]")),
  );
  console.log(`  bars drawn full: ${fills.map((f) => `${Math.round(f * 100)}%`).join(", ")}`);
  const keys = new Map();
  for (const [i, f] of okThree.entries()) {
    keys.set(f.name, await checkStored(first.byName.get(f.name), f, fills[i]));
  }
  await checkNotStored(first.byName.get("clip.gif"), "refused", gifReason);
  assert.notEqual(keys.get("notes.txt"), keys.get("scan.png"));
  assert.deepEqual(
    uploadsAsked(presignerCalls),
    ["notes.txt", "scan.png"],
    "the presigner is asked for the allowed files only",
  );
  await checkPayloadHashes(presignerCalls, sameOrigin);
  for (const key of keys.values()) {
    assert.equal(await page.locator(`#uploads li[data-key="${key}"]`).count(), 1, `${key} is listed`);
  }
  await mkdir(path.dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`  screenshot: ${screenshot}`);

  begin("each finished file's download button saves the same bytes");
  assert.equal(config.allowDownloads, true, "the spec allows downloads");
  for (const f of okThree) {
    const key = keys.get(f.name);
    const [download] = await Promise.all([
      page.waitForEvent("download", WAIT),
      page.locator(`#uploads li[data-key="${key}"] [data-testid=download]`).click(),
    ]);
    assert.equal(download.suggestedFilename(), f.name);
    const saved = await readFile(await download.path());
    assert.ok(saved.equals(f.buffer), `${f.name}: downloaded ${saved.length} bytes that differ from the upload`);
    const afterDownload = await settledStatus(page);
    assert.equal(afterDownload.state, "success", afterDownload.text);
  }
  const downloadCalls = presignerCalls.filter((c) => c.path.endsWith("/downloads"));
  assert.equal(downloadCalls.length, 2, "one GET of the presigner's /downloads per file");
  await checkPayloadHashes(downloadCalls, sameOrigin);

  begin("the page's origin may read the object (CORS GET, ETag exposed)");
  const fetched = await page.evaluate(
    async ({ key, presignerUrl }) => {
      const r = await fetch(new URL(`downloads?key=${encodeURIComponent(key)}`, presignerUrl));
      const { url } = await r.json();
      const object = await fetch(url);
      return {
        status: object.status,
        etag: object.headers.get("etag"),
        bytes: Array.from(new Uint8Array(await object.arrayBuffer())),
      };
    },
    { key: keys.get("notes.txt"), presignerUrl: config.presignerUrl },
  );
  assert.equal(fetched.status, 200);
  assert.match(fetched.etag ?? "", /^"[0-9a-f]{32}"$/);
  assert.ok(Buffer.from(fetched.bytes).equals(three[0].buffer), "fetched bytes differ from the upload");

  begin("the presigner's and storage's refusals, each in its own row; three uploads at a time");
  {
    const wide = await context.newPage();
    const expected = /Failed to load resource: the server responded with a status of (403|413|415)/;
    wide.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    wide.on("console", (m) => {
      if (m.type() === "error" && !expected.test(m.text())) problems.push(`console error: ${m.text()}`);
    });
    // The page's own checks let everything through, so the presigner decides.
    await wide.route(
      (u) => u.pathname.endsWith("/config.json"),
      async (route) => {
        const response = await route.fetch();
        const json = await response.json();
        json.allowedContentTypes = [...json.allowedContentTypes, "image/gif"];
        json.maxUploadBytes = json.maxUploadBytes * 4;
        await route.fulfill({ response, json });
      },
    );
    // Each presigner answer is held back a while, so uploads overlap; the one for
    // tampered.txt comes with its URL's signature changed, which storage must refuse.
    const presignerBase = new URL(config.presignerUrl, url).href;
    await wide.route(
      (u) => u.href.startsWith(presignerBase) && u.pathname.endsWith("/uploads"),
      async (route) => {
        if (route.request().method() !== "POST") return route.continue();
        await new Promise((r) => setTimeout(r, 300));
        const asked = JSON.parse(route.request().postData() || "{}");
        if (asked.filename !== "tampered.txt") return route.continue();
        const response = await route.fetch();
        const json = await response.json();
        const signed = new URL(json.url);
        const signature = signed.searchParams.get("X-Amz-Signature");
        signed.searchParams.set("X-Amz-Signature", (signature[0] === "0" ? "1" : "0") + signature.slice(1));
        json.url = signed.href;
        return route.fulfill({ response, json });
      },
    );
    const calls = recordPresignerCalls(wide, config.presignerUrl);
    await wide.goto(url);
    await wide.waitForSelector("body[data-ready='true']", WAIT);
    // How many rows are asking the presigner or sending their bytes at once, at most.
    await wide.evaluate(() => {
      window.inFlightPeak = 0;
      const queue = document.querySelector("#queue");
      new MutationObserver(() => {
        const now = queue.querySelectorAll('[data-state="asking"], [data-state="uploading"]').length;
        window.inFlightPeak = Math.max(window.inFlightPeak, now);
      }).observe(queue, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
    });
    const six = [
      { name: "one.txt", mimeType: "text/plain", buffer: content("one", 90_000) },
      { name: "anim.gif", mimeType: "image/gif", buffer: Buffer.from("GIF89a\x01\x00\x01\x00") },
      { name: "two.pdf", mimeType: "application/pdf", buffer: content("%PDF-1.4 two", 150_000) },
      { name: "big.txt", mimeType: "text/plain", buffer: Buffer.alloc(config.maxUploadBytes + 1, "b") },
      { name: "tampered.txt", mimeType: "text/plain", buffer: content("tampered", 5_000) },
      { name: "three.png", mimeType: "image/png", buffer: content("three", 60_000) },
    ];
    const run = await chooseAndUpload(wide, six, 6);
    const wideStatus = await settledStatus(wide);
    assert.equal(wideStatus.state, "partial", wideStatus.text);
    assert.match(wideStatus.text, /^Uploaded 3 of 6 files; 3 were not uploaded/);
    const stored = six.filter((f) => !["anim.gif", "big.txt", "tampered.txt"].includes(f.name));
    const wideFills = await drawnFill(
      wide,
      decoder,
      run.shot,
      stored.map((f) => run.byName.get(f.name).locator("[data-testid=file-progress]")),
    );
    for (const [i, f] of stored.entries()) await checkStored(run.byName.get(f.name), f, wideFills[i]);
    await checkNotStored(
      run.byName.get("anim.gif"),
      "failed",
      /^The presigner refused it \(415 content type not allowed\): content type .*image\/gif.* is not allowed/,
    );
    await checkNotStored(
      run.byName.get("big.txt"),
      "failed",
      /^The presigner refused it \(413 too large\): file is too large: \d+ bytes, at most \d+ are allowed\.$/,
    );
    await checkNotStored(
      run.byName.get("tampered.txt"),
      "failed",
      /^Storage refused the upload: it does not match what was signed \(403 SignatureDoesNotMatch\)\.$/,
    );
    assert.deepEqual(uploadsAsked(calls), six.map((f) => f.name).sort(), "the presigner is asked once per file");
    await checkPayloadHashes(calls, sameOrigin);
    const peak = await wide.evaluate(() => window.inFlightPeak);
    assert.equal(peak, 3, `uploads in flight at most: ${peak}, expected 3 at a time`);
    await wide.screenshot({
      path: screenshot.replace(/(\.png)?$/, "-refusals.png"),
      fullPage: true,
    });
    await wide.close();
  }

  begin("several files dropped onto the drop zone upload too");
  const dropped = [
    { name: "dropped.txt", mimeType: "text/plain", buffer: content("dropped", 20_000) },
    { name: "dropped.pdf", mimeType: "application/pdf", buffer: content("%PDF-1.4 dropped", 30_000) },
  ];
  const transfer = await page.evaluateHandle((files) => {
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(new File([new Uint8Array(f.bytes)], f.name, { type: f.mimeType }));
    return dt;
  }, dropped.map((f) => ({ name: f.name, mimeType: f.mimeType, bytes: Array.from(f.buffer) })));
  await page.dispatchEvent("#drop-zone", "drop", { dataTransfer: transfer });
  const drop = await uploadChosen(page, dropped, 2);
  const dropStatus = await settledStatus(page);
  assert.equal(dropStatus.state, "success", dropStatus.text);
  assert.equal(dropStatus.text, "Uploaded 2 files.");
  const dropFills = await drawnFill(
    page,
    decoder,
    drop.shot,
    dropped.map((f) => drop.byName.get(f.name).locator("[data-testid=file-progress]")),
  );
  for (const [i, f] of dropped.entries()) await checkStored(drop.byName.get(f.name), f, dropFills[i]);
  // (The CORS GET above was the test's own call, without the header.)
  await checkPayloadHashes(presignerCalls.filter((c) => c.method === "POST"), sameOrigin);

  begin("a file over the limit is refused in the page");
  await page.setInputFiles("#file", {
    name: "too-big.txt",
    mimeType: "text/plain",
    buffer: Buffer.alloc(config.maxUploadBytes + 1, "a"),
  });
  const tooBig = await settledStatus(page);
  assert.equal(tooBig.state, "error");
  assert.match(tooBig.text, /^too-big\.txt is .+; the limit is .+\.$/);
  assert.equal(await page.isDisabled("#upload"), true, "Upload is disabled for a refused file");

  begin("a type the spec does not allow is refused in the page");
  await page.setInputFiles("#file", {
    name: "animation.gif",
    mimeType: "image/gif",
    buffer: Buffer.from("GIF89a\x01\x00\x01\x00"),
  });
  const wrongType = await settledStatus(page);
  assert.equal(wrongType.state, "error");
  assert.match(wrongType.text, /^animation\.gif is a GIF file \(image\/gif\); this site accepts .+\.$/);
  assert.equal(await page.isDisabled("#upload"), true);

  assert.deepEqual(problems, [], "the page logged no errors");
  console.log("ok: the page uploads several files at once, downloads and refuses as it should");
} catch (e) {
  failed = true;
  console.error(`FAILED at "${step}": ${e.stack || e}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
