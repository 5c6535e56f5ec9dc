// The demo page with `auth` in a real browser against `presign-stack dev`, which signs users in
// with its own OpenID Connect issuer (Authorization Code with PKCE).
//
//   node tests/browser/auth.spec.mjs <page url> [screenshot.png]
//
// 1. Signed out, the page offers only Sign in; signing in as alice goes through the issuer's
//    page and comes back signed in ("Signed in as alice").
// 2. A small file and one in parts are uploaded; the presigner's first answer for the parts is
//    a 401 (the token "expired" mid-upload): the page renews it with the refresh token and the
//    upload finishes.
// 3. My files lists both with size and date, and the usage; one downloads byte for byte with
//    its own (file-named) Download button, one is deleted.
// 4. After Upload, focus is on the status line, not lost to the page.
// 5. axe-core (when installed in .tools/) finds no violation on the signed-in page.
// 6. Signing out, then in as bob: bob's My files is empty.
// Exit 0 when all of that holds; 1 with the reason otherwise; 3 when playwright-core is missing.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { launchBrowser, repo, startScript } from "./harness.mjs";

const { url, screenshot, chromium } = startScript("auth.spec.mjs", "auth.png");

setTimeout(() => {
  console.error("the browser test did not finish within 120 s");
  process.exit(1);
}, 120_000).unref();

const WAIT = { timeout: 20_000 };
let step = "starting";
function begin(name) {
  step = name;
  console.log(`- ${name}`);
}

async function signIn(page, user) {
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", WAIT);
  await page.locator("[data-testid=sign-in]").click();
  await page.waitForSelector("#user", WAIT);
  await page.fill("#user", user);
  await page.locator("button[type=submit]").click();
  await page.waitForSelector("body[data-ready=true]", WAIT);
  await page.waitForFunction(
    (u) => document.getElementById("who").textContent === "Signed in as " + u,
    user,
    WAIT,
  );
}

const browser = await launchBrowser(chromium);
try {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));

  begin("signed out, the page offers only Sign in");
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", WAIT);
  assert.equal(await page.locator("[data-testid=sign-in]").isVisible(), true);
  assert.equal(await page.locator("#file").isDisabled(), true);
  assert.match(await page.locator("#status").textContent(), /Sign in to upload/);

  begin("alice signs in through dev's issuer");
  await signIn(page, "alice");
  assert.equal(await page.locator("[data-testid=sign-out]").isVisible(), true);

  begin("a small file and one in parts; the parts' first answer is a 401, renewed");
  let refused = false;
  let renewals = 0;
  await page.route("**/uploads/parts", async (route) => {
    if (!refused) {
      refused = true;
      await route.fulfill({
        status: 401,
        headers: { "content-type": "application/json", "www-authenticate": "Bearer" },
        body: JSON.stringify({ error: "the token expired 1 s ago; sign in again" }),
      });
    } else {
      await route.continue();
    }
  });
  page.on("request", (r) => {
    if (r.url().endsWith("/token") && (r.postData() || "").includes("grant_type=refresh_token")) {
      renewals += 1;
    }
  });
  const small = { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello, alice\n") };
  const big = { name: "scan.bin", mimeType: "application/octet-stream", buffer: randomBytes(7 * 1024 * 1024) };
  await page.setInputFiles("#file", [small, big]);
  await page.locator("[data-testid=upload]").click();
  await page.waitForFunction(() => document.getElementById("status").dataset.state !== "info", null, {
    timeout: 60_000,
  });
  const status = await page.locator("#status").textContent();
  assert.equal(await page.locator("#status").getAttribute("data-state"), "success", status);
  assert.ok(refused, "the 401 was served");
  assert.ok(renewals >= 1, "the page renewed its token");
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  assert.equal(focused, "status", "after Upload, focus is on the status line");

  begin("My files lists both, with the usage");
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=my-file]").length === 2, null, WAIT);
  const names = await page.locator("[data-testid=my-file] .upload-name").allTextContents();
  assert.deepEqual(names.sort(), ["notes.txt", "scan.bin"]);
  assert.match(await page.locator("#usage").textContent(), /^2 files,/);
  const label = await page.locator("[data-testid=my-file-download]").first().getAttribute("aria-label");
  assert.match(label, /^Download (notes\.txt|scan\.bin)$/);

  begin("one downloads byte for byte, one is deleted");
  const bigRow = page.locator("[data-testid=my-file]", { hasText: "scan.bin" });
  const [download] = await Promise.all([
    page.waitForEvent("download", WAIT),
    bigRow.locator("[data-testid=my-file-download]").click(),
  ]);
  const saved = await readFile(await download.path());
  assert.ok(saved.equals(big.buffer), `downloaded ${saved.length} bytes that differ from the upload`);
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", WAIT);
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=my-file]").length === 2, null, WAIT);
  await page.locator("[data-testid=my-file]", { hasText: "notes.txt" }).locator("[data-testid=my-file-delete]").click();
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=my-file]").length === 1, null, WAIT);
  assert.match(await page.locator("#status").textContent(), /^Deleted notes\.txt\./);

  begin("axe-core on the signed-in page");
  const axePath = path.join(repo, ".tools/node_modules/axe-core/axe.min.js");
  if (existsSync(axePath)) {
    // The page's own CSP allows no injected script; the check runs through the debugger.
    await page.evaluate(await readFile(axePath, "utf8"));
    const result = await page.evaluate(() => window.axe.run(document));
    const found = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`);
    assert.deepEqual(found, [], "axe-core violations");
    console.log(`  axe-core ${result.testEngine.version}: 0 violations, ${result.passes.length} checks passed`);
  } else {
    console.log("  axe-core is not installed in .tools/ (scripts/bootstrap.sh --browser installs it)");
  }

  await mkdir(path.dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });

  begin("signing out, then in as bob: bob has no files");
  await page.locator("[data-testid=sign-out]").click();
  await page.waitForSelector("body[data-ready=true]", WAIT);
  await page.waitForFunction(() => !document.getElementById("sign-in").hidden, null, WAIT);
  await signIn(page, "bob");
  await page.waitForFunction(() => !document.getElementById("files-empty").hidden, null, WAIT);
  assert.equal(await page.locator("[data-testid=my-file]").count(), 0);
  assert.deepEqual(errors, [], "errors in the page");
  console.log("ok: signed-in users upload, list, download and delete their own files");
} catch (e) {
  console.error(`failed at: ${step}\n${e.stack || e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
