// The errors an upload fails with, each marked with what the upload does next: `cancelled` (the
// user asked), `restart` (the upload in parts is gone at storage: begin again, for the reason
// it holds), `stopped` (another part failed first), `network` (nothing was answered), `status`
// (the presigner's HTTP status), `discard` (the parts can never make the object).

export function failure(message, props) {
  return Object.assign(new Error(message), props || {});
}

export function cancelled() {
  return failure("The upload was cancelled.", { cancelled: true });
}

export function stopped() {
  return failure("The upload was stopped.", { stopped: true });
}

export function checkCancelled(signal) {
  if (signal.aborted) throw cancelled();
}

// What a request ended by `signal` fails with: a stop when the signal was aborted with one,
// otherwise a cancel.
export function abortReason(signal) {
  const reason = signal && signal.reason;
  return reason && reason.stopped ? reason : cancelled();
}
