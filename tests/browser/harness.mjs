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

// Headless Chromium. A page the script serves itself (underCsp) has no address, and Chromium's
// local network access checks would take it for a public page calling this machine's ports:
// they are off. Every other page and server here is on 127.0.0.1, where those checks never
// apply.
export function launchBrowser(chromium) {
  return chromium.launch({
    executablePath: process.env.PRESIGN_STACK_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-features=LocalNetworkAccessChecks",
    ],
  });
}

// The Content-Security-Policy that CloudFront's response headers policy gives the page
// (src/resources/distribution.rs), with connect-src opened to this machine's ports, where dev's
// presigner and documents store listen.
export const PAGE_CSP =
  "default-src 'self'; connect-src 'self' http://127.0.0.1:* http://localhost:*; " +
  "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; " +
  "frame-ancestors 'none'";

// Serves the page in `context` under PAGE_CSP, as CloudFront does: a script inline or from
// another origin is refused, and the refusal is logged as an error.
export async function underCsp(context, pageUrl) {
  const origin = new URL(pageUrl).origin;
  await context.route(
    (u) => u.origin === origin && (u.pathname === "/" || u.pathname.endsWith(".html")),
    async (route) => {
      const response = await route.fetch();
      await route.fulfill({
        response,
        headers: { ...response.headers(), "content-security-policy": PAGE_CSP },
      });
    },
  );
}
