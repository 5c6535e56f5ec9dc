// Sizes, speeds, media types and lists in the words the page shows.

// Names people know for the media types a spec usually allows.
export const TYPE_LABELS = {
  "image/png": "PNG",
  "image/jpeg": "JPEG",
  "image/gif": "GIF",
  "image/webp": "WebP",
  "image/svg+xml": "SVG",
  "image/heic": "HEIC",
  "application/pdf": "PDF",
  "text/plain": "plain text",
  "text/csv": "CSV",
  "application/zip": "ZIP",
  "application/json": "JSON",
  "application/msword": "Word",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word (.docx)",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel (.xlsx)",
};

export function formatBytes(n) {
  if (n < 1024) return n + " bytes";
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  const digits = v >= 100 || Number.isInteger(v) ? 0 : 1;
  return v.toFixed(digits) + " " + units[i];
}

export function megabytesPerSecond(bytesPerSecond) {
  return (bytesPerSecond / (1024 * 1024)).toFixed(1) + " MB/s";
}

export function typeLabel(t) {
  if (t === "*/*") return "any type";
  if (t.endsWith("/*")) return t.slice(0, -2) + " files";
  return TYPE_LABELS[t] || t;
}

export function listPhrase(items) {
  if (items.length <= 1) return items.join("");
  return items.slice(0, -1).join(", ") + " and " + items[items.length - 1];
}

export function plural(n, one, many) {
  return n + " " + (n === 1 ? one : many);
}

// `text` ending as a sentence does: the presigner's messages come with or without a full stop.
export function sentence(text) {
  const t = String(text).trim();
  return /[.!?]$/.test(t) ? t : t + ".";
}
