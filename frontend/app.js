// presign-stack demo page: ask the presigner for a signed URL, then upload straight to S3.
// ES modules with no dependencies and no build step; runtime settings come from config.json
// (SPEC.md section 4). This module chooses the files, uploads them a few at a time and sums up.
import { formatBytes, plural } from "./format.js";
import { History } from "./history.js";
import { limitsHint, problemWith } from "./limits.js";
import { Session } from "./auth.js";
import { MyFiles } from "./files.js";
import { els, setStatus } from "./page.js";
import { Presigner, loadConfig } from "./presigner.js";
import { ResumeStore, sweepResume } from "./resume.js";
import { makeEntry, reporter, setState, showOutcome, showProgress } from "./rows.js";
import { uploadFile } from "./upload.js";

// Files upload this many at a time; the rest wait their turn.
const PARALLEL_UPLOADS = 3;

// Set once config.json is loaded and usable.
let config = null;
let presigner = null;
let store = null;
let history = new History(null);
// With `auth`: the sign-in, and the signed-in user's files.
let session = null;
let myFiles = null;
// The rows of the files chosen last (rows.js).
let queue = [];
let busy = false;

function count(state) {
  return queue.filter((e) => e.state === state).length;
}

function refreshButton() {
  const ready = count("ready");
  els.upload.disabled = busy || ready === 0;
  els.upload.textContent = ready > 1 ? "Upload " + ready + " files" : "Upload";
}

function setBusy(on) {
  busy = on;
  els.file.disabled = on;
  els.drop.dataset.state = on ? "disabled" : "idle";
  refreshButton();
}

// The status line once files are chosen: how many are ready, resume, or cannot be uploaded.
function chosenStatus() {
  const ready = count("ready");
  const refused = count("refused");
  const resumable = queue.filter((e) => e.resume).length;
  if (ready === 0 && refused === 1) return queue[0].problem;
  if (ready === 0) {
    return "None of these " + refused + " files can be uploaded: their rows say why.";
  }
  let message =
    ready === 1 && refused === 0
      ? "Ready to upload " + queue[0].file.name + "."
      : "Ready to upload " + plural(ready, "file", "files") + ".";
  if (resumable === 1 && ready === 1) {
    message += " Part of it was sent earlier: the upload resumes from there.";
  } else if (resumable > 0) {
    message += " " + resumable + " resume where an earlier upload stopped.";
  }
  if (refused > 0) {
    message +=
      refused === 1
        ? " 1 cannot be uploaded: its row says why."
        : " " + refused + " cannot be uploaded: their rows say why.";
  }
  return message;
}

function choose(fileList) {
  if (busy || !config) return;
  const files = Array.from(fileList || []);
  queue = files.map((file) => {
    const problem = problemWith(config, file);
    return makeEntry(file, problem, problem ? null : store.load(file));
  });
  els.queue.replaceChildren(...queue.map((e) => e.row));
  els.queue.hidden = queue.length === 0;
  els.queue.dataset.state = queue.length === 0 ? "empty" : "chosen";
  refreshButton();
  if (queue.length === 0) setStatus("Choose files to upload.", "info");
  else setStatus(chosenStatus(), count("ready") === 0 ? "error" : "info");
}

// Uploads one file; the outcome is in its row.
async function uploadOne(entry) {
  if (entry.cancelled) return;
  const file = entry.file;
  entry.controller = new AbortController();
  entry.finishing = false;
  setState(entry, "asking");
  showProgress(entry, 0);
  const outcome = await uploadFile(file, {
    config,
    presigner,
    store,
    signal: entry.controller.signal,
    report: reporter(entry),
  });
  showOutcome(entry, outcome);
  if (outcome.state === "done") {
    const at = new Date().toISOString();
    history.remember({ key: outcome.key, name: file.name, size: file.size, at });
  }
  if (session && !session.user()) showAccount();
}

async function uploadAll() {
  const todo = queue.filter((e) => e.state === "ready");
  if (busy || todo.length === 0) return;
  setBusy(true);
  // The Upload button is disabled while files go: focus moves to the status line.
  els.status.focus();
  els.queue.dataset.state = "uploading";
  for (const entry of todo) {
    setState(entry, "waiting");
    showProgress(entry, 0);
    entry.percent.textContent = "";
  }
  setStatus(
    todo.length === 1
      ? "Uploading " + todo[0].file.name + "…"
      : "Uploading " + todo.length + " files, up to " + PARALLEL_UPLOADS + " at a time…",
    "info",
  );
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const entry = todo[next];
      next += 1;
      await uploadOne(entry);
    }
  };
  const workers = [];
  for (let i = 0; i < Math.min(PARALLEL_UPLOADS, todo.length); i += 1) workers.push(worker());
  await Promise.all(workers);
  els.file.value = "";
  setBusy(false);
  els.queue.dataset.state = "finished";
  summarize();
  els.status.focus();
  if (myFiles) myFiles.refresh();
}

// Who is signed in, and the button to sign in or out.
function showAccount() {
  const user = session.user();
  els.account.hidden = false;
  els.who.textContent = user ? "Signed in as " + user : "Not signed in";
  els.signIn.hidden = Boolean(user);
  els.signOut.hidden = !user;
}

// With `auth`: finishes a sign-in on the way back from the issuer, and says whether someone is
// signed in; if not, the page offers only the Sign in button.
async function startSession() {
  session = new Session(config.auth);
  els.signIn.addEventListener("click", () =>
    session.signIn().catch((e) => setStatus(e.message, "error")),
  );
  els.signOut.addEventListener("click", () => session.signOut());
  try {
    await session.finishSignIn();
  } catch (e) {
    setStatus(e.message, "error");
  }
  showAccount();
  if (!session.user()) {
    els.limits.textContent = limitsHint(config);
    els.drop.dataset.state = "disabled";
    if (els.status.dataset.state !== "error") setStatus("Sign in to upload files.", "info");
    history.render();
    document.body.dataset.ready = "true";
    return false;
  }
  return true;
}

// The status line once every chosen file is done, failed, refused or cancelled.
function summarize() {
  const done = queue.filter((e) => e.state === "done");
  const notDone = queue.filter((e) => ["failed", "refused", "cancelled"].includes(e.state));
  const onlyCancelled = notDone.length > 0 && notDone.every((e) => e.state === "cancelled");
  if (notDone.length === 0 && done.length === 1) {
    const f = done[0].file;
    setStatus("Uploaded " + f.name + " (" + formatBytes(f.size) + ").", "success");
  } else if (notDone.length === 0) {
    setStatus("Uploaded " + plural(done.length, "file", "files") + ".", "success");
  } else if (done.length === 0 && notDone.length === 1) {
    const e = notDone[0];
    if (e.state === "cancelled") {
      setStatus("Cancelled the upload of " + e.file.name + ".", "partial");
    } else {
      setStatus(e.result.textContent, "error");
    }
  } else if (done.length === 0) {
    setStatus(
      onlyCancelled
        ? "Cancelled the " + notDone.length + " uploads."
        : "None of the " + notDone.length + " files was uploaded: their rows say why.",
      onlyCancelled ? "partial" : "error",
    );
  } else {
    setStatus(
      "Uploaded " + done.length + " of " + queue.length + " files; " +
        (notDone.length === 1
          ? "1 was not uploaded: its row says why."
          : notDone.length + " were not uploaded: their rows say why."),
      "partial",
    );
  }
}

function wireDropZone() {
  // Dropping a file anywhere must not navigate away from the page.
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (e) => e.preventDefault());
  }
  els.drop.addEventListener("dragenter", (e) => {
    e.preventDefault();
    if (!busy && config) els.drop.dataset.state = "over";
  });
  els.drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = busy || !config ? "none" : "copy";
  });
  els.drop.addEventListener("dragleave", (e) => {
    if (!els.drop.contains(e.relatedTarget) && !busy) els.drop.dataset.state = "idle";
  });
  els.drop.addEventListener("drop", (e) => {
    e.preventDefault();
    if (busy || !config) return;
    els.drop.dataset.state = "idle";
    const files = e.dataTransfer ? e.dataTransfer.files : null;
    if (!files || files.length === 0) return;
    choose(files);
  });
}

async function start() {
  els.file.addEventListener("change", () => choose(els.file.files));
  els.upload.addEventListener("click", uploadAll);
  wireDropZone();
  try {
    config = await loadConfig();
  } catch (e) {
    els.limits.textContent = "Uploads are unavailable.";
    els.drop.dataset.state = "disabled";
    setStatus(e.message, "error");
    history.render();
    return;
  }
  if (config.auth && !(await startSession())) return;
  presigner = new Presigner(config.presignerUrl, session);
  store = new ResumeStore(presigner.id);
  if (session) {
    myFiles = new MyFiles(presigner, config.allowDownloads);
    els.moreFiles.addEventListener("click", () => myFiles.next());
    myFiles.refresh();
  }
  history = new History(config.allowDownloads ? presigner : null, config.malwareScan);
  const types = config.allowedContentTypes;
  if (!types.includes("*/*")) els.file.accept = types.join(",");
  els.limits.textContent = limitsHint(config);
  els.file.disabled = false;
  els.drop.dataset.state = "idle";
  els.downloadsNote.hidden = config.allowDownloads;
  history.render();
  sweepResume();
  setStatus("Choose files to upload.", "info");
  document.body.dataset.ready = "true";
}

start();
