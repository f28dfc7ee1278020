// Shared helpers for the gallery and the scene page.
export function token() { return localStorage.getItem("splatlibToken"); }

// Served as static files on AWS (`splatlib site`): the API is another origin, named in /config.json
// with the Cognito pool whose ID token it wants as the bearer.
export const onAws = document.documentElement.dataset.backend === "aws";
const config = onAws ? await fetch("/config.json", { cache: "no-cache" }).then((r) => r.json()) : null;
const apiBase = config ? config.api.replace(/\/$/, "") : "";

/** The scene page's address: /scenes/ID on `splatlib serve`, /scene.html?id=ID as static files. */
export function sceneHref(id) { return onAws ? `/scene.html?id=${encodeURIComponent(id)}` : `/scenes/${id}`; }
export function pageSceneId() {
  return onAws ? new URLSearchParams(location.search).get("id") : location.pathname.split("/").pop();
}

const SESSION = "splatlibCognito";
let pending = null;  // one sign-in at a time, however many requests wait for it

async function cognito(action, body) {
  const response = await fetch(config.authEndpoint || `https://cognito-idp.${config.region}.amazonaws.com/`, {
    method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}` } });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.message || data.__type || response.statusText);
  return data;
}

function keep(result, refreshToken) {
  localStorage.setItem(SESSION, JSON.stringify({ idToken: result.IdToken, refreshToken: result.RefreshToken || refreshToken,
                                                  expiresAt: Date.now() + (result.ExpiresIn - 60) * 1000 }));
  return result.IdToken;
}

async function idToken() {
  const session = JSON.parse(localStorage.getItem(SESSION) || "null");
  if (session && session.expiresAt > Date.now()) return session.idToken;
  if (session && session.refreshToken) {
    try {
      const { AuthenticationResult } = await cognito("InitiateAuth", { AuthFlow: "REFRESH_TOKEN_AUTH", ClientId: config.clientId,
                                                                        AuthParameters: { REFRESH_TOKEN: session.refreshToken } });
      return keep(AuthenticationResult, session.refreshToken);
    } catch (err) { /* signed out or revoked: sign in again */ }
  }
  pending = pending || signIn().finally(() => { pending = null; });
  return pending;
}

// email and password, and a new password at the first sign-in (an invited user's is temporary)
function signIn() {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.id = "sign-in";
    dialog.innerHTML = `<form><h2>Sign in to Splat Library</h2>
      <p><label>email <input name="email" type="email" autocomplete="username" required></label></p>
      <p><label>password <input name="password" type="password" autocomplete="current-password" required></label></p>
      <p hidden><label>new password <input name="fresh" type="password" autocomplete="new-password"></label></p>
      <p class="error" id="sign-in-error"></p><button>Sign in</button></form>`;
    document.body.append(dialog);
    dialog.showModal();
    let challenge = null;
    dialog.querySelector("form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = event.target.elements;
      try {
        const answer = challenge
          ? await cognito("RespondToAuthChallenge", { ChallengeName: "NEW_PASSWORD_REQUIRED", ClientId: config.clientId, Session: challenge,
                                                       ChallengeResponses: { USERNAME: f.email.value, NEW_PASSWORD: f.fresh.value } })
          : await cognito("InitiateAuth", { AuthFlow: "USER_PASSWORD_AUTH", ClientId: config.clientId,
                                             AuthParameters: { USERNAME: f.email.value, PASSWORD: f.password.value } });
        if (answer.ChallengeName === "NEW_PASSWORD_REQUIRED") {
          challenge = answer.Session;
          f.fresh.closest("p").hidden = false;
          f.fresh.required = true;
          dialog.querySelector("#sign-in-error").textContent = "Choose a new password (the one you were sent is temporary).";
          return;
        }
        if (!answer.AuthenticationResult) throw new Error(`sign-in asks for ${answer.ChallengeName}, which this page cannot answer`);
        dialog.close();
        dialog.remove();
        resolve(keep(answer.AuthenticationResult));
      } catch (err) {
        dialog.querySelector("#sign-in-error").textContent = `Sign-in failed: ${err.message}`;
      }
    });
  });
}

/** Authorization for the API on AWS (the browser's Cognito ID token), signing in first if needed. */
export async function authorization() { return `Bearer ${await idToken()}`; }

// A private server (--private) also wants the token for reads: the session cookie it sets in
// exchange lets images and the viewer's files load, which cannot send an Authorization header.
async function signInWithToken(entered) {
  localStorage.setItem("splatlibToken", entered);
  await fetch("/api/session", { method: "POST", body: JSON.stringify({ token: entered }),
    headers: { "X-Splatlib-Client": "1", "Content-Type": "application/json" } });
}
if (!onAws && token()) signInWithToken(token());

let asked = false;  // ask once per page, not at every refresh

export async function api(path, options = {}) {
  if (onAws) return awsApi(path, options);
  const headers = { "X-Splatlib-Client": "1", ...(options.headers || {}) };  // the server refuses changes without it
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401 && !asked) {
    asked = true;
    const entered = prompt("This server needs its API token:");
    if (entered) { await signInWithToken(entered); asked = false; return api(path, options); }
  }
  return answer(response);
}

async function awsApi(path, options, again = true) {
  const headers = { ...(options.headers || {}), Authorization: await authorization() };
  const response = await fetch(apiBase + path, { ...options, headers });
  if (response.status === 401 && again) {  // the token was refused (revoked, or the pool changed)
    localStorage.removeItem(SESSION);
    return awsApi(path, options, false);
  }
  return answer(response);
}

/** The upload settings: the server's GET /api/options, or the static site's options.json. */
export async function uploadOptions() {
  return onAws ? fetch("/options.json").then((r) => r.json()) : api("/api/options");
}

/** An API response's JSON (null for 204), or an Error with the message of its error body. */
async function answer(response) {
  if (!response.ok) throw new Error(errorMessage(await response.text(), response.statusText));
  return response.status === 204 ? null : response.json();
}

/** The message of an API error body ({"error": {"code", "message"}}), else `fallback`. */
export function errorMessage(body, fallback) {
  try { return JSON.parse(body).error.message || fallback; } catch (e) { return fallback; }
}

export function megabytes(bytes) {
  if (bytes < 1e6) return `${Math.max(1, Math.round(bytes / 1e3))} KB`;
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
}

export function when(seconds) { return new Date(seconds * 1000).toLocaleString(); }

export function timeLeft(seconds) {
  if (seconds === null || seconds === undefined) return "";
  return seconds < 90 ? ` · ${Math.max(1, Math.round(seconds))} s left` : ` · about ${Math.round(seconds / 60)} min left`;
}

export function statusText(scene) {
  if (scene.status === "processing") {
    return `${scene.stage || "starting"} ${Math.round(100 * scene.progress)}%${timeLeft(scene.etaSeconds)}`;
  }
  return scene.status;
}
