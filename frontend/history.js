// The list of uploads under the form: the files stored from this tab (kept in
// sessionStorage), each with a Download button when the site allows downloads, and with the
// malware scan, how the scan of a file stands.
import { el, els, setStatus } from "./page.js";
import { ScanWatch } from "./scan.js";

const STORAGE_KEY = "presign-stack:uploads";

function loadUploads() {
  try {
    const list = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "[]");
    return Array.isArray(list) ? list.filter((u) => u && typeof u.key === "string") : [];
  } catch (_) {
    return [];
  }
}

// `downloads`: the presigner to ask for download links, or null when there are none;
// `malwareScan`: whether downloads wait for the scan.
export class History {
  constructor(downloads, malwareScan) {
    this.downloads = downloads;
    this.scans = malwareScan && downloads ? new ScanWatch(downloads) : null;
  }

  render(list = loadUploads()) {
    els.uploads.replaceChildren();
    els.uploadsEmpty.hidden = list.length > 0;
    for (const u of list) els.uploads.append(this.item(u));
  }

  // Adds `upload` ({ key, name, size, at }) at the top.
  remember(upload) {
    const list = loadUploads();
    list.unshift(upload);
    try {
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify(list.slice(0, 50)));
    } catch (_) {
      // Storage full or disabled: the list just won't survive a reload.
    }
    this.render(list);
  }

  item(u) {
    const li = document.createElement("li");
    li.dataset.key = u.key;
    li.dataset.testid = "upload-item";
    const info = el("div", "upload-info");
    info.append(el("span", "upload-name", u.name || u.key.split("/").pop()), el("code", "", u.key));
    li.append(info);
    if (this.downloads) {
      const button = el("button", "secondary", "Download");
      button.type = "button";
      button.dataset.testid = "download";
      button.setAttribute("aria-label", "Download " + (u.name || u.key.split("/").pop()));
      button.addEventListener("click", () => this.download(u, button));
      if (this.scans) {
        const scan = el("span", "scan-state", "scanning…");
        scan.dataset.testid = "scan-state";
        scan.setAttribute("role", "status");
        li.append(scan);
        this.scans.follow(u.key, ({ state, text }) => {
          scan.textContent = text;
          scan.dataset.state = state;
          button.disabled = state === "blocked" || state === "scanning";
        });
      }
      li.append(button);
    }
    return li;
  }

  async download(u, button) {
    button.disabled = true;
    try {
      setStatus("Asking for a download link for " + (u.name || u.key) + "…", "info");
      const url = await this.downloads.downloadUrl(u.key);
      setStatus("Downloading " + (u.name || u.key) + ".", "success");
      // The URL asks S3 for Content-Disposition: attachment, so the page stays put.
      window.location.assign(url);
    } catch (e) {
      setStatus(e.message, "error");
    } finally {
      button.disabled = false;
    }
  }
}
