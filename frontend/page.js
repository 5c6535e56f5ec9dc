// The page's fixed elements (index.html), its status line, and making new ones.

const $ = (id) => document.getElementById(id);

export const els = {
  file: $("file"),
  drop: $("drop-zone"),
  limits: $("limits"),
  queue: $("queue"),
  upload: $("upload"),
  status: $("status"),
  uploads: $("uploads"),
  uploadsEmpty: $("uploads-empty"),
  downloadsNote: $("downloads-note"),
  account: $("account"),
  who: $("who"),
  signIn: $("sign-in"),
  signOut: $("sign-out"),
  myFiles: $("my-files"),
  usage: $("usage"),
  fileList: $("file-list"),
  filesEmpty: $("files-empty"),
  moreFiles: $("more-files"),
};

// The status line; `state` (info, success, partial, error) colours it.
export function setStatus(message, state) {
  els.status.textContent = message;
  els.status.dataset.state = state || "info";
}

export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}
