// What this site accepts (config.json's size limit and media types), and why a chosen file is
// refused before the presigner is asked.
import { TYPE_LABELS, formatBytes, listPhrase, typeLabel } from "./format.js";

// The browser's idea of the type; an unknown type is sent as application/octet-stream.
export function fileType(file) {
  return (file.type || "application/octet-stream").toLowerCase();
}

function typeAllowed(config, t) {
  const [major] = t.split("/");
  return config.allowedContentTypes.some(
    (a) => a === "*/*" || a === t || (a.endsWith("/*") && a.slice(0, -2) === major),
  );
}

// The drop zone's hint: the size limit and the types, in words.
export function limitsHint(config) {
  return (
    "Up to " + formatBytes(config.maxUploadBytes) + " · " +
    listPhrase(config.allowedContentTypes.map(typeLabel))
  );
}

// Why `file` cannot be uploaded here, or null.
export function problemWith(config, file) {
  if (file.size === 0) {
    return file.name + " is empty; choose a file with something in it.";
  }
  if (file.size > config.maxUploadBytes) {
    return (
      file.name + " is " + formatBytes(file.size) + "; the limit is " +
      formatBytes(config.maxUploadBytes) + "."
    );
  }
  const t = fileType(file);
  if (!typeAllowed(config, t)) {
    const allowed = listPhrase(config.allowedContentTypes.map(typeLabel));
    let what;
    if (!file.type) what = "is of a type your browser does not recognise";
    else if (TYPE_LABELS[t]) what = "is a " + TYPE_LABELS[t] + " file (" + t + ")";
    else what = "has type " + t;
    return file.name + " " + what + "; this site accepts " + allowed + ".";
  }
  return null;
}
