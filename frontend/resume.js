// The resume store: each upload in parts is saved in localStorage, under the file (name, size,
// last change) and the presigner it was planned by, until it is stored, cancelled or given up:
// choosing the same file again, after a reload or a failure, sends only the parts still missing.

const RESUME_PREFIX = "presign-stack:resume:";
// The documents bucket's lifecycle aborts uploads a day after they began.
const RESUME_MAX_AGE_MS = 24 * 60 * 60 * 1000;

function resumeAge(saved) {
  const began = Date.parse(saved.createdAt || saved.savedAt);
  return Number.isFinite(began) ? Date.now() - began : Infinity;
}

// Whether `saved` is an upload in parts of a file of `size` that storage still has.
function resumeUsable(saved, size) {
  if (!saved || typeof saved !== "object") return false;
  if (typeof saved.key !== "string" || typeof saved.uploadId !== "string") return false;
  if (typeof saved.contentType !== "string") return false;
  if (!Number.isSafeInteger(saved.partSize) || saved.partSize <= 0) return false;
  if (saved.partCount !== Math.ceil(size / saved.partSize)) return false;
  if (!saved.parts || typeof saved.parts !== "object") return false;
  for (const [n, p] of Object.entries(saved.parts)) {
    const k = Number(n);
    if (!Number.isSafeInteger(k) || k < 1 || k > saved.partCount) return false;
    if (!p || typeof p.etag !== "string" || typeof p.sha256 !== "string") return false;
  }
  return resumeAge(saved) < RESUME_MAX_AGE_MS;
}

function readSaved(k) {
  try {
    return JSON.parse(localStorage.getItem(k) || "null");
  } catch (_) {
    return null;
  }
}

// The uploads in parts planned by the presigner `presignerId` (its absolute URL).
export class ResumeStore {
  constructor(presignerId) {
    this.presignerId = presignerId;
  }

  key(file) {
    const names = [this.presignerId, file.name, file.size, file.lastModified];
    return RESUME_PREFIX + JSON.stringify(names);
  }

  // The saved upload of `file` that can still be resumed, or null (an unusable one is dropped).
  load(file) {
    const saved = readSaved(this.key(file));
    if (saved === null) return null;
    if (!resumeUsable(saved, file.size)) {
      this.drop(file);
      return null;
    }
    return saved;
  }

  save(file, up) {
    up.savedAt = new Date().toISOString();
    try {
      localStorage.setItem(this.key(file), JSON.stringify(up));
    } catch (_) {
      // Storage full or disabled: this upload just cannot resume after a reload.
    }
  }

  drop(file) {
    try {
      localStorage.removeItem(this.key(file));
    } catch (_) {
      // Nothing saved, then.
    }
  }
}

// Drops saved uploads that storage has aborted by now, and any that cannot be read.
export function sweepResume() {
  try {
    const keys = [];
    for (let i = 0; i < localStorage.length; i += 1) {
      const k = localStorage.key(i);
      if (k && k.startsWith(RESUME_PREFIX)) keys.push(k);
    }
    for (const k of keys) {
      const saved = readSaved(k);
      if (!saved || typeof saved !== "object" || resumeAge(saved) >= RESUME_MAX_AGE_MS) {
        localStorage.removeItem(k);
      }
    }
  } catch (_) {
    // localStorage disabled: nothing to sweep.
  }
}
