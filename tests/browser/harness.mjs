// What every browser script starts with: its command line (the page's URL and where to save a
// screenshot), dev's data dir, and playwright-core from .tools/ (exit 3 when it is missing,
// exit 2 on a bad command line).
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

// `script` names the file in the usage line; `shot` is the default screenshot's file name.
export function startScript(script, shot) {
  const [url, screenshot = path.join(repo, "target/screenshots", shot)] = process.argv.slice(2);
  if (!url) {
    console.error(`usage: node tests/browser/${script} <page url> [screenshot.png]`);
    process.exit(2);
  }
  let chromium;
  try {
    ({ chromium } = createRequire(path.join(repo, ".tools", "package.json"))("playwright-core"));
  } catch (e) {
    console.error(`playwright-core is not installed in .tools/: run scripts/bootstrap.sh --browser (${e.message})`);
    process.exit(3);
  }
  return { url, screenshot, devData: process.env.PRESIGN_STACK_DEV_DATA || "", chromium };
}
