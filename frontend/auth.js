// Signing in (SPEC.md section 6): Authorization Code with PKCE (S256) against the issuer named
// in config.json's `auth`, found through its discovery document. Tokens stay in this tab
// (sessionStorage); the ID token is what the presigner is sent, as its `aud` is this page's
// client id with any issuer. A token that has expired is renewed with the refresh token when
// there is one; otherwise the user signs in again, and an upload in parts resumes from the
// parts it had stored.
import { sha256Hex } from "./checksum.js";

const TOKENS = "presign-stack:tokens";
const PENDING = "presign-stack:sign-in";
// Renew this long before the token says it expires, for clocks that differ a little.
const EARLY_MS = 30 * 1000;

function base64Url(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 1) s += String.fromCharCode(bytes[i]);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(n) {
  const bytes = new Uint8Array(n);
  crypto.getRandomValues(bytes);
  return base64Url(bytes);
}

async function challengeOf(verifier) {
  const hex = await sha256Hex(new TextEncoder().encode(verifier));
  const bytes = new Uint8Array(hex.match(/../g).map((h) => parseInt(h, 16)));
  return base64Url(bytes);
}

// The claims of a JWT, unverified: only for showing who is signed in and when the token ends.
// The presigner is what verifies it.
function claims(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const text = atob(part + "===".slice((part.length + 3) % 4));
    const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (_) {
    return {};
  }
}

function read(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key) || "null");
  } catch (_) {
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(value));
  } catch (_) {
    // Storage disabled: the sign-in lasts as long as the page.
  }
}

// Where a sign-in returns to: this page, without its query.
function returnUrl() {
  const u = new URL(window.location.href);
  u.search = "";
  u.hash = "";
  return u.toString();
}

async function form(url, fields) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (!response.ok || !body || typeof body.id_token !== "string") {
    const why = body && body.error_description ? body.error_description : "HTTP " + response.status;
    throw new Error("The sign-in service refused the sign-in (" + why + ").");
  }
  return body;
}

// The sign-in of this page's user, with the issuer `auth` ({ issuer, clientId, scopes }).
export class Session {
  constructor(auth) {
    this.auth = auth;
    this.discovered = null;
    this.tokens = read(TOKENS);
    this.renewing = null;
  }

  async endpoints() {
    if (!this.discovered) {
      const url = this.auth.issuer.replace(/\/+$/, "") + "/.well-known/openid-configuration";
      let doc;
      try {
        doc = await (await fetch(url)).json();
      } catch (_) {
        throw new Error("Could not reach the sign-in service (" + this.auth.issuer + ").");
      }
      if (!doc || doc.issuer !== this.auth.issuer || typeof doc.authorization_endpoint !== "string") {
        throw new Error("The sign-in service's settings do not name this issuer.");
      }
      this.discovered = doc;
    }
    return this.discovered;
  }

  // Who is signed in: a name to show, or null.
  user() {
    if (!this.tokens) return null;
    const c = claims(this.tokens.id_token);
    return c.preferred_username || c.email || c.name || c.username || c.sub || null;
  }

  // Goes to the issuer's sign-in page; it comes back to this page with a code.
  async signIn() {
    const ep = await this.endpoints();
    const verifier = randomString(48);
    const state = randomString(16);
    write(PENDING, { verifier, state, redirect: returnUrl() });
    const params = new URLSearchParams({
      client_id: this.auth.clientId,
      redirect_uri: returnUrl(),
      response_type: "code",
      scope: this.auth.scopes.join(" "),
      state,
      code_challenge: await challengeOf(verifier),
      code_challenge_method: "S256",
    });
    window.location.assign(ep.authorization_endpoint + "?" + params.toString());
  }

  // On the way back from the issuer: the code exchanged for tokens. Returns whether this page
  // load was such a return.
  async finishSignIn() {
    const here = new URL(window.location.href);
    const code = here.searchParams.get("code");
    const state = here.searchParams.get("state");
    const error = here.searchParams.get("error");
    if (!code && !error) return false;
    const pending = read(PENDING);
    write(PENDING, null);
    window.history.replaceState(null, "", returnUrl());
    if (error) throw new Error("The sign-in did not finish (" + error + ").");
    if (!pending || pending.state !== state) {
      throw new Error("That sign-in was not started from this tab; sign in again.");
    }
    const ep = await this.endpoints();
    this.keep(
      await form(ep.token_endpoint, {
        grant_type: "authorization_code",
        code,
        redirect_uri: pending.redirect,
        client_id: this.auth.clientId,
        code_verifier: pending.verifier,
      }),
    );
    return true;
  }

  keep(answer) {
    const refresh = answer.refresh_token || (this.tokens && this.tokens.refresh_token) || null;
    this.tokens = { id_token: answer.id_token, refresh_token: refresh };
    write(TOKENS, this.tokens);
  }

  expired() {
    if (!this.tokens) return true;
    const exp = claims(this.tokens.id_token).exp;
    return typeof exp === "number" && exp * 1000 - EARLY_MS < Date.now();
  }

  // The token to send, renewed first when it has expired; null when the user must sign in.
  async token() {
    if (!this.tokens) return null;
    if (this.expired()) await this.renew();
    return this.tokens ? this.tokens.id_token : null;
  }

  // New tokens from the refresh token (one renewal at a time); false when there is none or
  // the issuer refuses it, and the user must sign in again.
  renew() {
    if (!this.renewing) {
      this.renewing = (async () => {
        const refresh = this.tokens && this.tokens.refresh_token;
        if (!refresh) return false;
        try {
          const ep = await this.endpoints();
          this.keep(
            await form(ep.token_endpoint, {
              grant_type: "refresh_token",
              refresh_token: refresh,
              client_id: this.auth.clientId,
            }),
          );
          return true;
        } catch (_) {
          this.forget();
          return false;
        }
      })().finally(() => {
        this.renewing = null;
      });
    }
    return this.renewing;
  }

  forget() {
    this.tokens = null;
    write(TOKENS, null);
  }

  // Signs out here, then at the issuer when it offers that.
  async signOut() {
    this.forget();
    let ep = null;
    try {
      ep = await this.endpoints();
    } catch (_) {
      ep = null;
    }
    if (ep && typeof ep.end_session_endpoint === "string") {
      const params = new URLSearchParams({
        client_id: this.auth.clientId,
        post_logout_redirect_uri: returnUrl(),
      });
      window.location.assign(ep.end_session_endpoint + "?" + params.toString());
    } else {
      window.location.assign(returnUrl());
    }
  }
}
