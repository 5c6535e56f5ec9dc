// The page with `documents.malware_scan: guardduty` in a real browser against `presign-stack
// dev`, whose store stands in for GuardDuty (a second's scan; the EICAR test string is malware):
//
//   node tests/browser/scan.spec.mjs <page url> [screenshot.png]
//
// 1. A clean file and the EICAR test file are uploaded together.
// 2. Each shows "scanning…" with its Download button disabled as soon as it is stored.
// 3. The clean file goes to "ready", and its Download saves the same bytes.
// 4. The EICAR file goes to "blocked: malware found" and its Download stays disabled.
// Exit 0 when all of that holds; 1 with the reason otherwise; 3 when playwright-core is missing.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { launchBrowser, startScript, underCsp } from "./harness.mjs";

const { url, screenshot, chromium } = startScript("scan.spec.mjs", "scan.png");

setTimeout(() => {
  console.error("the browser test did not finish within 120 s");
  process.exit(1);
}, 120_000).unref();

const WAIT = { timeout: 30_000 };
let step = "starting";
function begin(name) {
  step = name;
  console.log(`- ${name}`);
}

const EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
const files = [
  { name: "clean.txt", mimeType: "text/plain", buffer: Buffer.from("nothing to see here\n") },
  { name: "eicar.txt", mimeType: "text/plain", buffer: Buffer.from(EICAR) },
];

const browser = await launchBrowser(chromium);
let failed = false;
try {
  const context = await browser.newContext({ acceptDownloads: true, colorScheme: "light" });
  await underCsp(context, url);
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  // Every state each file's scan label shows, in order, from the moment it is added.
  await page.addInitScript(() => {
    window.__scanStates = {};
    const note = (node) => {
      const li = node.closest && node.closest("li[data-key]");
      if (!li) return;
      const seen = (window.__scanStates[li.dataset.key] ||= []);
      const text = node.textContent;
      if (seen[seen.length - 1] !== text) seen.push(text);
    };
    new MutationObserver((records) => {
      for (const r of records) {
        const nodes = r.type === "childList" ? [...r.addedNodes] : [r.target];
        for (const n of nodes) {
          const el = n.nodeType === 1 ? n : n.parentElement;
          if (!el) continue;
          const labels = el.matches("[data-testid=scan-state]")
            ? [el]
            : [...el.querySelectorAll("[data-testid=scan-state]")];
          labels.forEach(note);
        }
      }
    }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  });

  begin("the page loads, and config.json says downloads wait for the scan");
  await page.goto(url);
  await page.waitForSelector("body[data-ready='true']", WAIT);
  const config = await page.evaluate(async () => (await fetch("config.json")).json());
  assert.equal(config.malwareScan, true, "config.json has malwareScan");

  begin("a clean file and the EICAR test file are uploaded");
  await page.setInputFiles("#file", files);
  await page.click("#upload");
  await page.waitForSelector("#queue[data-state='finished']", WAIT);
  const keys = {};
  for (const f of files) {
    const row = page.locator(`#queue [data-testid=file-row][data-name="${f.name}"]`);
    assert.equal(await row.getAttribute("data-state"), "done", await row.textContent());
    keys[f.name] = (await row.locator("[data-testid=file-key]").textContent()).trim();
  }
  const item = (name) => page.locator(`#uploads li[data-key="${keys[name]}"]`);

  begin("the clean file goes from scanning… to ready, and downloads");
  await item("clean.txt").locator("[data-testid=scan-state][data-state=ready]").waitFor(WAIT);
  const states = await page.evaluate(() => window.__scanStates);
  assert.deepEqual(
    states[keys["clean.txt"]],
    ["scanning…", "ready"],
    "the clean file's label was scanning…, then ready",
  );
  const button = item("clean.txt").locator("[data-testid=download]");
  assert.equal(await button.isEnabled(), true, "Download is enabled once ready");
  const [download] = await Promise.all([page.waitForEvent("download", WAIT), button.click()]);
  assert.equal(download.suggestedFilename(), "clean.txt");
  const saved = await readFile(await download.path());
  assert.ok(saved.equals(files[0].buffer), "the download is the file uploaded");

  begin("the EICAR file is blocked: malware found, and cannot be downloaded");
  const blocked = item("eicar.txt").locator("[data-testid=scan-state][data-state=blocked]");
  await blocked.waitFor(WAIT);
  assert.equal((await blocked.textContent()).trim(), "blocked: malware found");
  assert.equal(
    await item("eicar.txt").locator("[data-testid=download]").isEnabled(),
    false,
    "no Download for malware",
  );
  const eicarStates = (await page.evaluate(() => window.__scanStates))[keys["eicar.txt"]];
  assert.equal(eicarStates[0], "scanning…", `first shown: ${eicarStates}`);
  await page.screenshot({ path: screenshot, fullPage: true });
  assert.deepEqual(problems, [], "no errors on the page");
  console.log("ok: the page holds downloads back until the scan says clean");
} catch (e) {
  failed = true;
  console.error(`failed at "${step}": ${e.stack || e}`);
  const pages = browser.contexts().flatMap((c) => c.pages());
  for (const p of pages) {
    const seen = await p.evaluate(() => window.__scanStates).catch(() => null);
    console.error(`scan labels seen: ${JSON.stringify(seen)}`);
    console.error(`status: ${await p.textContent("#status").catch(() => "?")}`);
    console.error(`uploads: ${await p.innerHTML("#uploads").catch(() => "?")}`);
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
