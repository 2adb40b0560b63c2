// Signing in for the built-in pages. GET /ui/auth.json says whether the API needs tokens and which
// identity provider (issuer) and public OIDC client to use. When it does: the OpenID Connect
// authorization code flow with PKCE (S256), the provider's endpoints from its discovery document,
// the code exchanged at its token endpoint straight from the browser (a public client: no secret
// here), the tokens kept in sessionStorage (this tab only), `Authorization: Bearer` on every API
// call, refreshed before they expire, and a new sign-in when the API answers 401.
// The permissions are read from the access token only to decide what to show: the API checks
// every call itself.

import { h } from "./dom.js";

const CONFIG_URL = "/ui/auth.json";
const TOKENS = "ihub.auth.tokens"; // {issuer, clientId, accessToken, idToken, refreshToken, expiresAt, obtainedAt}
const PENDING = "ihub.auth.pending"; // the sign-in under way: {state, nonce, verifier, redirectUri, returnTo}
const SIGNED_OUT = "ihub.auth.signedOut"; // set by "Sign out": show a sign-in button, do not redirect at once
const DISCOVERY = "ihub.auth.discovery"; // the provider's discovery document, for this tab
const EARLY_REFRESH_S = 30; // refresh an access token this long before it expires
const FRESH_S = 20; // a token this young refused with 401: the API does not trust it; signing in again would loop

export const READ = "interaction:read";
export const ANALYTICS = "analytics:read";

let session = null; // the promise startAuth() made
let refreshing = null; // the refresh under way (the KPI page makes three calls at once)
let leaving = false; // a redirect to the provider is under way

const now = () => Date.now() / 1000;
const never = () => new Promise(() => {}); // the page is being left: nothing after this should run

// -- small helpers ----------------------------------------------------------------------------

function base64url(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(bytes) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The claims of a JWT, decoded but NOT verified: only to decide what the page shows. */
export function decodeJwt(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = part + "=".repeat((4 - (part.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? claims : {};
  } catch {
    return {};
  }
}

function readJson(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

class SignInError extends Error {}

// -- configuration and discovery --------------------------------------------------------------

async function loadConfig() {
  const response = await fetch(CONFIG_URL, { headers: { Accept: "application/json" }, cache: "no-store" });
  if (!response.ok) throw new SignInError(`could not read ${CONFIG_URL} (${response.status})`);
  return response.json();
}

async function discover(issuer) {
  const cached = readJson(DISCOVERY);
  if (cached && cached.issuer === issuer) return cached;
  let response;
  try {
    response = await fetch(`${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`, { headers: { Accept: "application/json" } });
  } catch {
    throw new SignInError(`the sign-in service at ${issuer} cannot be reached`);
  }
  if (!response.ok) throw new SignInError(`the sign-in service at ${issuer} answered ${response.status}`);
  const doc = await response.json();
  // OpenID Connect Discovery 4.3: the document must be the issuer's own
  if (doc.issuer !== issuer) throw new SignInError(`the sign-in service names itself ${doc.issuer}, not ${issuer}`);
  if (!doc.authorization_endpoint || !doc.token_endpoint) throw new SignInError("the sign-in service has no authorization or token endpoint");
  sessionStorage.setItem(DISCOVERY, JSON.stringify(doc));
  return doc;
}

// -- tokens -------------------------------------------------------------------------------------

function loadTokens(s) {
  const tokens = readJson(TOKENS);
  if (!tokens || tokens.issuer !== s.config.issuer || tokens.clientId !== s.config.clientId || !tokens.accessToken) return null;
  return tokens;
}

function saveTokens(s, answer, previous = null) {
  if (!answer || typeof answer.access_token !== "string" || String(answer.token_type).toLowerCase() !== "bearer") {
    throw new SignInError("the sign-in service did not return a bearer access token");
  }
  const claims = decodeJwt(answer.access_token);
  const tokens = {
    issuer: s.config.issuer,
    clientId: s.config.clientId,
    accessToken: answer.access_token,
    idToken: answer.id_token || (previous && previous.idToken) || null,
    refreshToken: answer.refresh_token || (previous && previous.refreshToken) || null,
    expiresAt: typeof claims.exp === "number" ? claims.exp : now() + Number(answer.expires_in || 60),
    obtainedAt: now(),
  };
  sessionStorage.setItem(TOKENS, JSON.stringify(tokens));
  return tokens;
}

async function tokenRequest(s, form) {
  let response;
  try {
    response = await fetch(s.provider.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({ ...form, client_id: s.config.clientId }),
    });
  } catch {
    // the browser hides why; almost always CORS: the client's web origins must allow this page's origin
    throw new SignInError(`the token endpoint of the sign-in service cannot be reached from ${location.origin} ` +
      `(is ${location.origin} among the web origins of the client ${s.config.clientId}?)`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const why = body && (body.error_description || body.error);
    throw new SignInError(`the sign-in service refused the ${form.grant_type} request${why ? `: ${why}` : ""}`);
  }
  return body;
}

/** A new access token from the refresh token; null when there is none or the provider refuses it. */
function refresh(s) {
  if (!refreshing) {
    refreshing = (async () => {
      const tokens = loadTokens(s);
      if (!tokens || !tokens.refreshToken) return null;
      try {
        return saveTokens(s, await tokenRequest(s, { grant_type: "refresh_token", refresh_token: tokens.refreshToken }), tokens);
      } catch {
        sessionStorage.removeItem(TOKENS);
        return null;
      }
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

/** Valid tokens: the stored ones, refreshed when about to expire, or a new sign-in (which leaves the page). */
async function validTokens(s) {
  const tokens = loadTokens(s);
  if (tokens && tokens.expiresAt - EARLY_REFRESH_S > now()) return tokens;
  return (await refresh(s)) || signIn(s);
}

// -- the authorization code flow with PKCE --------------------------------------------------------

async function signIn(s) {
  if (leaving) return never();
  if (!globalThis.crypto || !crypto.subtle) {
    throw new SignInError("signing in needs a secure page (HTTPS, or http://127.0.0.1 / http://localhost)");
  }
  leaving = true;
  const verifier = randomString(32); // RFC 7636: 43 characters of [A-Za-z0-9-_]
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const pending = {
    state: randomString(16),
    nonce: randomString(16),
    verifier,
    redirectUri: `${location.origin}${location.pathname}`,
    returnTo: `${location.pathname}${location.search}${location.hash}`, // back here, with the page's own parameters
    issuer: s.config.issuer,
    clientId: s.config.clientId,
  };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  sessionStorage.removeItem(SIGNED_OUT);
  const url = new URL(s.provider.authorization_endpoint);
  for (const [k, v] of Object.entries({
    response_type: "code",
    client_id: s.config.clientId,
    redirect_uri: pending.redirectUri,
    scope: "openid",
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: challenge,
    code_challenge_method: "S256",
  })) url.searchParams.set(k, v);
  location.assign(url.toString());
  return never();
}

/** Back from the provider with ?code&state (or ?error&state): check, exchange, store. */
async function finishSignIn(s, params) {
  const pending = readJson(PENDING);
  sessionStorage.removeItem(PENDING); // one use only
  // the address bar loses the code and state whatever happens next
  history.replaceState(null, "", pending && pending.returnTo && pending.returnTo.startsWith("/") && !pending.returnTo.startsWith("//")
    ? pending.returnTo : location.pathname);
  if (!pending || params.get("state") !== pending.state || pending.issuer !== s.config.issuer || pending.clientId !== s.config.clientId) {
    throw new SignInError("the answer of the sign-in service does not belong to a sign-in started here (state does not match)");
  }
  if (params.has("error")) {
    throw new SignInError(`the sign-in service answered ${params.get("error")}${params.get("error_description") ? `: ${params.get("error_description")}` : ""}`);
  }
  // RFC 9207: a provider that names itself in the answer must be ours
  if (params.has("iss") && params.get("iss") !== s.config.issuer) throw new SignInError("the answer comes from another sign-in service");
  const answer = await tokenRequest(s, {
    grant_type: "authorization_code",
    code: params.get("code"),
    redirect_uri: pending.redirectUri,
    code_verifier: pending.verifier,
  });
  // The ID token came straight from the token endpoint (OIDC Core 3.1.3.7: TLS stands in for its
  // signature); its nonce ties it to this sign-in, its iss and aud to this provider and client.
  const id = decodeJwt(answer.id_token || "");
  const audiences = Array.isArray(id.aud) ? id.aud : [id.aud];
  if (id.nonce !== pending.nonce) throw new SignInError("the ID token does not belong to this sign-in (nonce does not match)");
  if (id.iss !== s.config.issuer || !audiences.includes(s.config.clientId)) {
    throw new SignInError("the ID token was not issued for this page (iss or aud does not match)");
  }
  saveTokens(s, answer);
}

// -- what the page shows ------------------------------------------------------------------------

function permissionsOf(config, claims) {
  const granted = new Set();
  const scope = claims[config.scopeClaim || "scope"];
  if (typeof scope === "string") scope.split(/\s+/).filter(Boolean).forEach((p) => granted.add(p));
  else if (Array.isArray(scope)) scope.forEach((p) => typeof p === "string" && granted.add(p));
  for (const path of config.roleClaims || ["roles", "realm_access.roles"]) {
    let value = claims;
    for (const part of path.split(".")) value = value && typeof value === "object" ? value[part] : undefined;
    if (Array.isArray(value)) value.forEach((p) => typeof p === "string" && granted.add(p));
  }
  return granted;
}

function describeUser(s, tokens) {
  const id = decodeJwt(tokens.idToken || "");
  const access = decodeJwt(tokens.accessToken);
  s.user = id.name || access.name || id.preferred_username || access.preferred_username || access.sub || "signed in";
  s.username = id.preferred_username || access.preferred_username || "";
  s.permissions = permissionsOf(s.config, access);
  const party = access[s.config.partyClaim || "party_id"];
  s.partyId = typeof party === "string" ? party : null;
}

function userBox(s) {
  const bar = document.querySelector(".topbar");
  if (!bar || document.getElementById("auth-box")) return;
  const out = h("button", { type: "button", class: "btn small", id: "sign-out" }, "Sign out");
  out.addEventListener("click", () => signOut(s));
  bar.appendChild(h("div", { id: "auth-box", class: "auth-box" },
    h("span", { class: "auth-user", id: "auth-user", title: s.username }, s.user),
    s.partyId ? h("span", { class: "auth-party", title: "this sign-in acts for one customer only" }, `for ${s.partyId}`) : null,
    out));
  markLinks(s);
}

/** Links marked data-needs="<permission>" say "not permitted" when the user lacks it. */
function markLinks(s) {
  for (const link of document.querySelectorAll("[data-needs]")) {
    if (s.may(link.dataset.needs)) continue;
    link.classList.add("np-link");
    link.title = `not permitted: needs ${link.dataset.needs}`;
    link.append(" ", h("span", { class: "np-badge" }, "not permitted"));
  }
}

/** Replace the page's content by a message (and a sign-in button); the page's script stops here. */
function halt(message, { button = "Sign in", state = "signed-out" } = {}) {
  const main = document.querySelector("main");
  const b = button ? h("button", { type: "button", class: "btn primary", id: "sign-in" }, button) : null;
  const box = h("div", { id: "auth-status", class: "panel auth-status", role: "alert" }, h("p", {}, message), b);
  document.body.dataset.auth = state;
  document.body.dataset.state = state;
  if (main) main.prepend(box);
  if (b) {
    b.addEventListener("click", () => {
      sessionStorage.removeItem(SIGNED_OUT);
      sessionStorage.removeItem(TOKENS);
      location.reload();
    });
  }
  return never();
}

/** Sign in (when auth is on), then the session if it grants `permission`; else the page's content
 * gives way to a "not permitted" panel saying it cannot `what`, and the answer is null. */
export async function pageNeeding(permission, what) {
  const auth = await startAuth(); // when a sign-in is needed, the page goes to the provider and this never returns
  if (auth.may(permission)) return auth;
  // nothing here is for this user: say so instead of making calls the API would refuse
  for (const node of document.querySelectorAll("main > *")) node.classList.add("hidden");
  showNotPermitted(document.querySelector("main"), permission, what);
  document.body.dataset.state = "ready";
  return null;
}

/** Show, in `container`, that the signed-in user may not do `what` (it needs `permission`). */
function showNotPermitted(container, permission, what) {
  const s = currentSession();
  container.prepend(h("div", { class: "panel not-permitted", id: "not-permitted", role: "status" },
    h("b", {}, "Not permitted."), ` ${s && s.user ? s.user : "This account"} may not ${what}: that needs the `,
    h("code", {}, permission), " permission. Ask an administrator to grant it."));
}

function signOut(s) {
  const tokens = loadTokens(s);
  sessionStorage.removeItem(TOKENS);
  sessionStorage.removeItem(PENDING);
  sessionStorage.setItem(SIGNED_OUT, "1");
  const end = s.provider.end_session_endpoint;
  if (!end) {
    location.reload();
    return;
  }
  const url = new URL(end);
  url.searchParams.set("client_id", s.config.clientId);
  url.searchParams.set("post_logout_redirect_uri", `${location.origin}${location.pathname}`);
  if (tokens && tokens.idToken) url.searchParams.set("id_token_hint", tokens.idToken);
  leaving = true;
  location.assign(url.toString());
}

// -- the public part ----------------------------------------------------------------------------

let resolved = null;
function currentSession() {
  return resolved;
}

/**
 * The signed-in session: {enabled, user, permissions, partyId, may(permission)}. With auth off,
 * {enabled: false} and may() is always true. When a sign-in is needed this leaves the page for the
 * provider's login form and never resolves.
 */
export function startAuth() {
  if (!session) session = start().then((s) => (resolved = s));
  return session;
}

async function start() {
  let config;
  try {
    config = await loadConfig();
  } catch (err) {
    return halt(`Could not start: ${err.message}.`, { button: "Try again", state: "auth-error" });
  }
  if (!config.enabled) return { enabled: false, user: null, permissions: null, partyId: null, may: () => true };
  const s = { enabled: true, config, provider: null, user: null, username: "", permissions: new Set(), partyId: null };
  s.may = (permission) => s.permissions.has(permission);
  try {
    s.provider = await discover(config.issuer);
    const params = new URLSearchParams(location.search);
    if (params.has("state") && (params.has("code") || params.has("error"))) await finishSignIn(s, params);
    if (!loadTokens(s) && sessionStorage.getItem(SIGNED_OUT)) {
      return halt("You are signed out.", { state: "signed-out" });
    }
    describeUser(s, await validTokens(s));
  } catch (err) {
    if (!(err instanceof SignInError)) throw err;
    sessionStorage.removeItem(TOKENS);
    return halt(`Could not sign in: ${err.message}.`, { button: "Sign in again", state: "auth-error" });
  }
  userBox(s);
  return s;
}

/** fetch() for the API: the bearer token on, refreshed when needed; a 401 means signing in again. */
export async function apiFetch(url, init = {}) {
  const s = await startAuth();
  if (!s.enabled) return fetch(url, init);
  const send = (tokens) => {
    const headers = new Headers(init.headers || {});
    headers.set("Authorization", `Bearer ${tokens.accessToken}`);
    return fetch(url, { ...init, headers });
  };
  let tokens = await validTokens(s);
  let response = await send(tokens);
  if (response.status !== 401) return response;
  if (now() - tokens.obtainedAt < FRESH_S) {
    // a token just issued and refused: the API trusts another issuer or audience; another sign-in would loop
    throw new Error("the API does not accept this sign-in (401): check its IHUB_AUTH_ISSUER and IHUB_AUTH_AUDIENCE");
  }
  tokens = await refresh(s);
  if (tokens) {
    response = await send(tokens);
    if (response.status !== 401) return response;
  }
  sessionStorage.removeItem(TOKENS);
  return signIn(s);
}

/** A clear message for a 403 from the API. */
export function forbiddenMessage(response, body) {
  const challenge = response.headers.get("WWW-Authenticate") || "";
  const scope = /scope="([^"]+)"/.exec(challenge);
  if (scope) return `Not permitted: your account does not have the ${scope[1]} permission`;
  return `Not permitted: ${(body && body.message) || "the API refused this request (403)"}`;
}
