// How much of one file storage holds or is receiving, and how fast this page is sending it
// (smoothed). `done`: bytes of finished parts (including those stored before a reload);
// `live`: bytes of each request in flight; `sent`: bytes sent by this page, retries included.
export class Progress {
  constructor(total, done) {
    this.total = total;
    this.done = done;
    this.live = new Map();
    this.sent = 0;
    this.started = performance.now();
    this.lastAt = this.started;
    this.lastSent = 0;
    this.speed = 0;
  }

  // Request `id` has sent `loaded` bytes so far.
  sending(id, loaded) {
    const before = this.live.get(id) || 0;
    if (loaded > before) this.sent += loaded - before;
    this.live.set(id, loaded);
  }

  // Request `id` stored its `bytes`.
  stored(id, bytes) {
    this.live.delete(id);
    this.done += bytes;
  }

  // Request `id` failed: its bytes are no longer on their way.
  dropped(id) {
    this.live.delete(id);
  }

  // Updates the speed with what was sent since the last tick.
  tick() {
    const now = performance.now();
    const rate = ((this.sent - this.lastSent) * 1000) / Math.max(1, now - this.lastAt);
    this.speed = this.speed === 0 ? rate : this.speed * 0.7 + rate * 0.3;
    this.lastAt = now;
    this.lastSent = this.sent;
  }

  // Bytes stored or on their way, at most the file's size.
  bytes() {
    let bytes = this.done;
    for (const n of this.live.values()) bytes += n;
    return Math.min(bytes, this.total);
  }

  // The percent shown while sending. 100 is kept for the moment storage has accepted the
  // file: until then an upload whose bytes have all been sent shows 99.
  percent() {
    return Math.min(99, Math.floor((this.bytes() / Math.max(1, this.total)) * 100));
  }

  seconds() {
    return Math.max(0.001, (performance.now() - this.started) / 1000);
  }
}
