// With the malware scan (config.json's `malwareScan`): a fresh upload is "scanning…" until
// the presigner offers its download, then "ready", or "blocked: malware found". The presigner
// answers 409 with `scan` until GuardDuty's verdict is NO_THREATS_FOUND; a ScanWatch asks
// again with backoff (1 s, doubling to 8 s), stops after a bound, saying so, and asks about a
// file once however often its row is drawn again.

const FIRST_WAIT_MS = 1000;
const LONGEST_WAIT_MS = 8000;
// About two minutes of asking: GuardDuty scans most files within seconds.
const MOST_ASKS = 18;

// What the scan's status means for the person looking at the file.
export function scanState(scan) {
  if (scan === "NO_THREATS_FOUND") return { state: "ready", text: "ready" };
  if (scan === "pending" || !scan) return { state: "scanning", text: "scanning…" };
  if (scan === "THREATS_FOUND") return { state: "blocked", text: "blocked: malware found" };
  if (scan === "unknown") return { state: "unknown", text: "scan status unknown" };
  return { state: "blocked", text: "blocked: the scan could not clear it (" + scan + ")" };
}

// The scans of the files one list shows, asked of `presigner` (its `downloadUrl`).
export class ScanWatch {
  constructor(presigner, wait = sleep) {
    this.presigner = presigner;
    this.wait = wait;
    this.states = new Map(); // key -> the last state seen
    this.shows = new Map(); // key -> where to show it (the row drawn last)
    this.asking = new Set(); // keys being asked about
  }

  // Shows how `key`'s scan stands through `show` ({ state, text }), now and as it changes.
  // `fresh`, when given, is what a listing just said.
  follow(key, show, fresh) {
    this.shows.set(key, show);
    if (fresh && (fresh.state !== "scanning" || !this.states.has(key))) {
      this.states.set(key, fresh);
    }
    const now = this.states.get(key) || scanState("pending");
    show(now);
    if (now.state === "scanning" && !this.asking.has(key)) this.ask(key);
  }

  async ask(key) {
    this.asking.add(key);
    const tell = (state) => {
      this.states.set(key, state);
      const show = this.shows.get(key);
      if (show) show(state);
    };
    try {
      let delay = FIRST_WAIT_MS;
      for (let n = 0; n < MOST_ASKS; n += 1) {
        let state;
        try {
          await this.presigner.downloadUrl(key);
          state = scanState("NO_THREATS_FOUND");
        } catch (e) {
          state =
            e.status === 409 && typeof e.scan === "string"
              ? scanState(e.scan)
              : { state: "unknown", text: "scan status unknown: " + e.message };
        }
        tell(state);
        if (state.state !== "scanning") return;
        await this.wait(delay);
        delay = Math.min(delay * 2, LONGEST_WAIT_MS);
      }
      tell({ state: "late", text: "still scanning; try Download in a minute" });
    } finally {
      this.asking.delete(key);
    }
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
