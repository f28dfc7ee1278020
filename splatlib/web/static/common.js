// Shared helpers for the gallery and the scene page.
export function token() { return localStorage.getItem("splatlibToken"); }

// A private server (--private) also wants the token for reads: the session cookie it sets in
// exchange lets images and the viewer's files load, which cannot send an Authorization header.
async function signIn(entered) {
  localStorage.setItem("splatlibToken", entered);
  await fetch("/api/session", { method: "POST", body: JSON.stringify({ token: entered }),
    headers: { "X-Splatlib-Client": "1", "Content-Type": "application/json" } });
}
if (token()) signIn(token());

let asked = false;  // ask once per page, not at every refresh

export async function api(path, options = {}) {
  const headers = { "X-Splatlib-Client": "1", ...(options.headers || {}) };  // the server refuses changes without it
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401 && !asked) {
    asked = true;
    const entered = prompt("This server needs its API token:");
    if (entered) { await signIn(entered); asked = false; return api(path, options); }
  }
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
