// The demo page in a real browser against `presign-stack dev`: headless Chromium (the system's,
// PRESIGN_STACK_CHROMIUM or /usr/bin/chromium) driven by playwright-core from .tools/.
//
//   node tests/browser/upload.spec.mjs <page url> [screenshot.png]
//
// Uploads a file through the page, downloads it with the page's button and compares the bytes,
// fetches it once more from the page's origin (CORS GET), then checks that a file over the
// limit and a file of a type the spec does not allow are refused in the page, readably.
// Either layout: the presigner on its own origin (s3-website, the Function URL), or on the
// page's origin under api_path (cloudfront), where the page must send x-amz-content-sha256,
// the SHA-256 of each call's body, and is checked to have sent the right one.
// Exit 0 when all of that holds; 1 with the reason otherwise; 3 when playwright-core is missing.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const [url, screenshot = path.join(repo, "target/screenshots/upload.png")] =
  process.argv.slice(2);
if (!url) {
  console.error("usage: node tests/browser/upload.spec.mjs <page url> [screenshot.png]");
  process.exit(2);
}

let chromium;
try {
  ({ chromium } = createRequire(path.join(repo, ".tools", "package.json"))("playwright-core"));
} catch (e) {
  console.error(`playwright-core is not installed in .tools/: run scripts/bootstrap.sh --browser (${e.message})`);
  process.exit(3);
}

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

// The page is settled once #status leaves "info" (success or error).
async function settledStatus(page) {
  await page.waitForFunction(
    () => ["success", "error"].includes(document.querySelector("#status").dataset.state),
    null,
    WAIT,
  );
  return {
    state: await page.getAttribute("#status", "data-state"),
    text: (await page.textContent("#status")).trim(),
  };
}

const browser = await chromium.launch({
  executablePath: process.env.PRESIGN_STACK_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
  ],
});
let failed = false;
try {
  const context = await browser.newContext({
    acceptDownloads: true,
    viewport: { width: 960, height: 900 },
  });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });

  // Every call the page makes to the presigner, with the headers it really sent (a promise).
  let config = null;
  const presignerCalls = [];
  page.on("request", (request) => {
    if (!config) return;
    const target = new URL(request.url());
    if (!target.href.startsWith(new URL(config.presignerUrl, url).href)) return;
    presignerCalls.push({
      method: request.method(),
      path: target.pathname,
      body: request.postDataBuffer() ?? Buffer.alloc(0),
      headers: request.allHeaders(),
    });
  });

  begin("the page loads its config");
  await page.goto(url);
  await page.waitForSelector("body[data-ready='true']", WAIT);
  config = await page.evaluate(async () => (await fetch("config.json")).json());
  assert.ok(config.maxUploadBytes > 0, "config.json has maxUploadBytes");
  assert.match(await page.textContent("#limits"), /^Up to /);
  const sameOrigin = new URL(config.presignerUrl, url).origin === new URL(url).origin;
  console.log(
    `  presigner: ${config.presignerUrl} (${sameOrigin ? "the page's origin, behind CloudFront" : "its own origin"})`,
  );

  begin("a file uploads through the page");
  const content = Buffer.from(
    `presign-stack browser test ${new Date().toISOString()}\n${"0123456789abcdef".repeat(512)}`,
  );
  await page.setInputFiles("#file", { name: "report.txt", mimeType: "text/plain", buffer: content });
  assert.equal(await page.isEnabled("#upload"), true, "Upload is enabled for an allowed file");
  await page.click("#upload");
  const uploaded = await settledStatus(page);
  assert.equal(uploaded.state, "success", `upload failed in the page: ${uploaded.text}`);
  assert.match(uploaded.text, /^Uploaded report\.txt/);
  const key = (await page.textContent("#key")).trim();
  assert.match(key, /^uploads\/\d{4}\/\d{2}\/\d{2}\/[0-9a-f-]{36}\/report\.txt$/);
  assert.equal(await page.getAttribute("#progress", "value"), "100");
  const item = page.locator(`#uploads li[data-key="${key}"]`);
  assert.equal(await item.count(), 1, "the upload is listed");
  await mkdir(path.dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`  screenshot: ${screenshot}`);

  begin(
    sameOrigin
      ? "the page sent the SHA-256 of its request body (x-amz-content-sha256)"
      : "the page sent no x-amz-content-sha256 across origins",
  );
  const asked = presignerCalls.filter((c) => c.method === "POST" && c.path.endsWith("/uploads"));
  assert.equal(asked.length, 1, "one POST to the presigner's /uploads");
  const sent = (await asked[0].headers)["x-amz-content-sha256"];
  if (sameOrigin) {
    assert.equal(sent, createHash("sha256").update(asked[0].body).digest("hex"));
    assert.equal(JSON.parse(asked[0].body.toString("utf8")).filename, "report.txt");
  } else {
    assert.equal(sent, undefined, "no payload hash header on a cross-origin call");
  }

  begin("the download button saves the same bytes");
  const [download] = await Promise.all([
    page.waitForEvent("download", WAIT),
    item.locator("[data-testid=download]").click(),
  ]);
  assert.equal(download.suggestedFilename(), "report.txt");
  const saved = await readFile(await download.path());
  assert.ok(saved.equals(content), `downloaded ${saved.length} bytes that differ from the upload`);
  const afterDownload = await settledStatus(page);
  assert.equal(afterDownload.state, "success", afterDownload.text);
  const downloadCalls = presignerCalls.filter((c) => c.path.endsWith("/downloads"));
  assert.equal(downloadCalls.length, 1, "one GET of the presigner's /downloads");
  assert.equal(
    (await downloadCalls[0].headers)["x-amz-content-sha256"],
    sameOrigin ? createHash("sha256").update("").digest("hex") : undefined,
  );

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
    { key, presignerUrl: config.presignerUrl },
  );
  assert.equal(fetched.status, 200);
  assert.match(fetched.etag ?? "", /^"[0-9a-f]{32}"$/);
  assert.ok(Buffer.from(fetched.bytes).equals(content), "fetched bytes differ from the upload");

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
  console.log("ok: the page uploads, downloads and refuses as it should");
} catch (e) {
  failed = true;
  console.error(`FAILED at "${step}": ${e.stack || e}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
