// The rows of the chosen files: one per file with its name, size and type, its own progress bar
// with the bytes sent and the speed, a Cancel button while it is under way, and its result (the
// key once stored, or why it was refused), announced on its own.
import { formatBytes, megabytesPerSecond, typeLabel } from "./format.js";
import { fileType } from "./limits.js";
import { el, els } from "./page.js";
import { Progress } from "./progress.js";

// state: ready | refused (by the page's own checks) | waiting | asking | uploading | done |
// failed (refused by the presigner or storage, or a network error) | cancelled.
const IN_PROGRESS = new Set(["waiting", "asking", "uploading"]);

let nextId = 1;

export function setState(entry, state) {
  entry.state = state;
  entry.row.dataset.state = state;
  entry.cancel.hidden = !IN_PROGRESS.has(state) || entry.finishing === true;
}

// The bar and its label always show the same number.
export function showProgress(entry, pct) {
  entry.bar.hidden = false;
  entry.progress.value = pct;
  entry.percent.textContent = pct + "%";
}

function resumeOffer(saved) {
  const stored = Object.keys(saved.parts).length;
  return (
    "Part of this file was sent earlier (" + stored + " of " + saved.partCount +
    " parts are stored): Upload resumes from there."
  );
}

function progressBar(file) {
  const bar = el("div", "file-progress");
  bar.hidden = true;
  const progress = document.createElement("progress");
  progress.max = 100;
  progress.value = 0;
  progress.dataset.testid = "file-progress";
  progress.setAttribute("aria-label", "Upload of " + file.name);
  const percent = el("span", "progress-label", "");
  percent.dataset.testid = "file-percent";
  percent.setAttribute("aria-hidden", "true");
  const cancel = el("button", "secondary file-cancel", "Cancel");
  cancel.type = "button";
  cancel.hidden = true;
  cancel.dataset.testid = "file-cancel";
  cancel.setAttribute("aria-label", "Cancel the upload of " + file.name);
  bar.append(progress, percent, cancel);
  return { bar, progress, percent, cancel };
}

// The row of `file`: refused for `problem` (from the page's own checks), or ready, offering to
// resume the upload in parts `saved` (or null).
export function makeEntry(file, problem, saved) {
  const id = "file-" + nextId++;
  const row = el("li", "file");
  row.dataset.testid = "file-row";
  row.dataset.name = file.name;

  const head = el("div", "file-head");
  const name = el("span", "file-name", file.name);
  const meta = el("span", "file-meta", formatBytes(file.size) + " · " + typeLabel(fileType(file)));
  head.append(name, meta);

  const { bar, progress, percent, cancel } = progressBar(file);

  // Bytes sent of the total and the speed: read on demand, not announced at every change.
  const stats = el("p", "file-stats", "");
  stats.dataset.testid = "file-stats";
  stats.hidden = true;

  const result = el("p", "file-result");
  result.dataset.testid = "file-result";
  result.id = id + "-result";
  row.setAttribute("aria-describedby", result.id);
  // What is announced: the outcome in words, never the storage key the result shows.
  const announce = el("p", "visually-hidden");
  announce.setAttribute("aria-live", "polite");
  announce.dataset.testid = "file-announce";

  row.append(head, bar, stats, result, announce);
  const entry = {
    file, problem, state: "", row, bar, progress, percent, cancel, stats, result, announce,
    resume: null,
  };
  cancel.addEventListener("click", () => cancelEntry(entry));
  if (problem) {
    setState(entry, "refused");
    result.textContent = problem;
  } else {
    setState(entry, "ready");
    entry.resume = saved;
    if (saved) result.textContent = resumeOffer(saved);
  }
  return entry;
}

function cancelEntry(entry) {
  if (!IN_PROGRESS.has(entry.state) || entry.finishing) return;
  entry.cancelled = true;
  if (entry.state === "waiting") {
    setState(entry, "cancelled");
    entry.bar.hidden = true;
    entry.result.textContent = "Cancelled before it started.";
    return;
  }
  entry.cancel.disabled = true;
  entry.result.textContent = "Cancelling…";
  entry.announce.textContent = "Cancelling the upload of " + entry.file.name + ".";
  // The Cancel button hides: focus goes to the status line rather than to the page.
  els.status.focus();
  entry.controller.abort();
}

// ---------- progress and speed ----------

function renderTracking(entry) {
  const t = entry.track;
  if (!t || entry.state !== "uploading") return;
  const bytes = t.bytes();
  showProgress(entry, t.percent());
  entry.stats.hidden = false;
  entry.stats.textContent =
    formatBytes(bytes) + " of " + formatBytes(t.total) +
    (t.speed > 0 ? " · " + megabytesPerSecond(t.speed) : "");
}

function stopTracking(entry) {
  if (entry.track) clearInterval(entry.timer);
}

function startTracking(entry, done) {
  stopTracking(entry);
  const t = new Progress(entry.file.size, done);
  entry.track = t;
  entry.timer = setInterval(() => {
    t.tick();
    renderTracking(entry);
  }, 500);
  renderTracking(entry);
}

// Once stored: what this page sent, in how long, how fast on average.
function finishTracking(entry, resumed) {
  const t = entry.track;
  if (!t) return;
  stopTracking(entry);
  const seconds = t.seconds();
  const earlier = t.total - t.sent;
  entry.stats.hidden = false;
  entry.stats.textContent =
    formatBytes(t.sent) + " sent in " + seconds.toFixed(1) + " s · " +
    megabytesPerSecond(t.sent / seconds) +
    (earlier > 0 && resumed ? " (" + formatBytes(earlier) + " was stored earlier)" : "");
  entry.row.dataset.seconds = seconds.toFixed(3);
  entry.row.dataset.sentBytes = String(t.sent);
}

// What the upload of `entry`'s file reports, shown in its row.
export function reporter(entry) {
  const track = (f) => (...args) => {
    f(entry.track, ...args);
    renderTracking(entry);
  };
  return {
    hashing(on) {
      entry.stats.hidden = !on;
      entry.stats.textContent = on ? "Computing the file's checksum…" : "";
    },
    sending(done) {
      setState(entry, "uploading");
      startTracking(entry, done);
    },
    progress: track((t, id, loaded) => t.sending(id, loaded)),
    stored: track((t, id, bytes) => t.stored(id, bytes)),
    dropped: track((t, id) => t.dropped(id)),
    finishing() {
      entry.finishing = true;
      setState(entry, entry.state);
    },
    resuming(saved) {
      entry.result.textContent =
        "Resuming: " + Object.keys(saved.parts).length + " of " + saved.partCount +
        " parts were stored earlier.";
    },
    restarting(reason) {
      entry.result.textContent = "Starting over: " + reason + ".";
      setState(entry, "asking");
      showProgress(entry, 0);
    },
    cancelling() {
      hideProgress(entry);
      entry.result.textContent = "Cancelling…";
    },
  };
}

function hideProgress(entry) {
  stopTracking(entry);
  entry.bar.hidden = true;
  entry.stats.hidden = true;
}

function showStored(entry, { key, resumed, restarted }) {
  entry.finishing = true;
  finishTracking(entry, resumed);
  showProgress(entry, 100);
  setState(entry, "done");
  const code = el("code", "", key);
  code.dataset.testid = "file-key";
  const note = restarted ? "It was sent again from the start: " + restarted + "." : "";
  entry.result.replaceChildren("Stored as ", code, note ? ". " + note : "");
}

function cancelledText(discarded) {
  if (discarded === null) return "Cancelled; nothing of it was stored.";
  if (discarded) return "Cancelled; the parts already sent were discarded.";
  return (
    "Cancelled. Storage could not be told to discard the parts already sent; it " +
    "discards them by itself within a day."
  );
}

function failedText({ message, parts }) {
  if (!parts) return message;
  return (
    message + " " + parts.stored + " of " + parts.count + " parts are stored: choose the file " +
    "again to resume."
  );
}

// The outcome of an upload (upload.js's uploadFile) in `entry`'s row, announced in words.
export function showOutcome(entry, outcome) {
  if (outcome.state === "done") {
    showStored(entry, outcome);
    entry.announce.textContent = "Uploaded " + entry.file.name + ".";
    return;
  }
  hideProgress(entry);
  setState(entry, outcome.state);
  entry.result.textContent =
    outcome.state === "cancelled" ? cancelledText(outcome.discarded) : failedText(outcome);
  entry.announce.textContent = entry.file.name + ": " + entry.result.textContent;
}
