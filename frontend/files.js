// "My files" (SPEC.md section 6): the signed-in user's files as the presigner lists them, a
// page at a time, each with Download and Delete buttons named for its file, and their usage
// against the quota.
import { formatBytes, plural } from "./format.js";
import { el, els, setStatus } from "./page.js";
import { ScanWatch, scanState } from "./scan.js";

function usageText(me) {
  const u = me.usage || {};
  const q = me.quota;
  const files = plural(u.files || 0, "file", "files");
  if (!q) return files + ", " + formatBytes(u.bytes || 0) + ".";
  const bytes = q.bytes
    ? formatBytes(u.bytes || 0) + " of " + formatBytes(q.bytes)
    : formatBytes(u.bytes || 0);
  return files + " of " + q.files + ", " + bytes + ".";
}

// A button named for the file it acts on ("Delete report.pdf"), as a screen reader reads it.
function button(verb, name, testid, onClick) {
  const b = el("button", "secondary", verb);
  b.type = "button";
  b.dataset.testid = testid;
  b.setAttribute("aria-label", verb + " " + name);
  b.addEventListener("click", () => onClick(b));
  return b;
}

export class MyFiles {
  // `presigner`: the signed-in presigner client; `downloads`: whether the site offers them.
  constructor(presigner, downloads) {
    this.presigner = presigner;
    this.downloads = downloads;
    this.cursor = null;
    this.scans = new ScanWatch(presigner);
  }

  // The usage and the first page, again.
  async refresh() {
    els.myFiles.hidden = false;
    try {
      const me = await this.presigner.me();
      els.usage.textContent = usageText(me);
      const page = await this.presigner.files(null);
      els.fileList.replaceChildren(...page.files.map((f) => this.item(f)));
      this.more(page.cursor);
    } catch (e) {
      els.usage.textContent = e.message;
    }
    els.filesEmpty.hidden = els.fileList.children.length > 0;
  }

  more(cursor) {
    this.cursor = cursor;
    els.moreFiles.hidden = !cursor;
  }

  async next() {
    if (!this.cursor) return;
    els.moreFiles.disabled = true;
    try {
      const page = await this.presigner.files(this.cursor);
      els.fileList.append(...page.files.map((f) => this.item(f)));
      this.more(page.cursor);
    } catch (e) {
      setStatus(e.message, "error");
    } finally {
      els.moreFiles.disabled = false;
    }
  }

  item(f) {
    const li = el("li");
    li.dataset.key = f.key;
    li.dataset.testid = "my-file";
    const info = el("div", "upload-info");
    const when = f.lastModified ? new Date(f.lastModified).toLocaleString() : "";
    info.append(
      el("span", "upload-name", f.name),
      el("span", "muted", formatBytes(f.size) + (when ? " · " + when : "")),
    );
    li.append(info);
    const actions = el("div", "file-actions");
    let download = null;
    if (this.downloads) {
      download = button("Download", f.name, "my-file-download", (b) => this.download(f, b));
      actions.append(download);
    }
    // With the malware scan the listing says how each file's scan stands; with downloads on,
    // a file being scanned is asked about until it is done.
    if (typeof f.scan === "string") {
      const scan = el("span", "scan-state");
      scan.dataset.testid = "my-file-scan";
      info.append(scan);
      const show = ({ state, text }) => {
        scan.textContent = text;
        scan.dataset.state = state;
        if (download) download.disabled = state === "blocked" || state === "scanning";
      };
      const listed = scanState(f.scan);
      if (download) {
        this.scans.follow(f.key, show, listed);
      } else {
        show(listed.state === "scanning" ? { ...listed, text: "scanning… (reload to see the result)" } : listed);
      }
    }
    actions.append(button("Delete", f.name, "my-file-delete", () => this.remove(f, li)));
    li.append(actions);
    return li;
  }

  async download(f, button) {
    button.disabled = true;
    try {
      const url = await this.presigner.downloadUrl(f.key);
      setStatus("Downloading " + f.name + ".", "success");
      window.location.assign(url);
    } catch (e) {
      setStatus(e.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  async remove(f, li) {
    try {
      await this.presigner.deleteFile(f.key);
      li.remove();
      setStatus("Deleted " + f.name + ".", "success");
      els.status.focus();
      const me = await this.presigner.me();
      els.usage.textContent = usageText(me);
    } catch (e) {
      setStatus(e.message, "error");
    }
    els.filesEmpty.hidden = els.fileList.children.length > 0;
  }
}
