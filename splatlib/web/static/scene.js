import { api, megabytes, statusText, when } from "/static/common.js";

const sceneId = location.pathname.split("/").pop();
let viewerStarted = false;
let shown = null;  // showSplat's { scene, … } once the viewer runs
let boxHelper = null;

function row(dl, name, value) {
  if (value === null || value === undefined) return;
  const dt = document.createElement("dt"); dt.textContent = name;
  const dd = document.createElement("dd"); dd.textContent = value;
  dl.append(dt, dd);
}

async function startViewer(scene) {
  viewerStarted = true;
  const note = document.getElementById("view-note");
  const file = scene.files["scene.spz"] || scene.files["scene.splat"];
  try {
    const { showSplat } = await import("/static/viewer.js");
    const metrics = await fetch(`/api/scenes/${sceneId}/files/metrics.json`).then((r) => r.json()).catch(() => ({}));
    const view = metrics.view || {};
    shown = await showSplat(document.getElementById("view"), file.url, {
      eye: view.eye, target: view.target, up: view.up, fileType: file.url.endsWith(".spz") ? "spz" : "splat" });
    window.viewerReady = true;
    if (!document.getElementById("crop-box").hidden) drawBox();  // a box offered before the view was up
  } catch (err) {
    note.textContent = `The 3D viewer could not start (${err.message}). Downloads still work.`;
    window.viewerError = String(err);
  }
}

function render(scene) {
  document.title = `${scene.title} · Splat Library`;
  document.getElementById("title").textContent = scene.title;
  document.getElementById("crumb").textContent = scene.id;
  const status = document.getElementById("status");
  status.textContent = statusText(scene) + (scene.message && scene.status === "processing" ? ` · ${scene.message}` : "");
  status.className = `status ${scene.status}`;
  document.body.dataset.status = scene.status;
  const bar = document.getElementById("bar");
  bar.hidden = !(scene.status === "processing" || scene.status === "queued");
  bar.querySelector("span").style.width = `${Math.round(100 * (scene.progress || 0))}%`;
  const error = document.getElementById("error");
  error.hidden = !scene.error;
  error.textContent = scene.error || "";
  const m = scene.metrics || {};
  const dl = document.getElementById("metrics");
  dl.replaceChildren();
  row(dl, "created", when(scene.createdAt));
  row(dl, "frames", m.total_frames !== undefined ? `${m.registered_frames ?? "?"} placed of ${m.total_frames}` : null);
  row(dl, "Gaussians", m.num_gaussians ? m.num_gaussians.toLocaleString() : null);
  row(dl, "held-out PSNR", m.psnr ? `${m.psnr.toFixed(2)} dB` : null);
  row(dl, "SSIM", m.ssim ? m.ssim.toFixed(3) : null);
  if (m.seconds) row(dl, "time", Object.entries(m.seconds).map(([k, v]) => `${k} ${Math.round(v)} s`).join(", "));
  const downloads = document.getElementById("downloads");
  downloads.replaceChildren(...Object.entries(scene.files).map(([name, f]) => {
    const p = document.createElement("div");
    const a = document.createElement("a");
    a.href = f.url; a.textContent = name; a.download = `${scene.id}-${name}`;
    p.append(a, ` (${megabytes(f.bytes)})`);
    return p;
  }));
  document.getElementById("retry").hidden = !(scene.status === "failed" || scene.status === "stopped");
  document.getElementById("clean").hidden = scene.status !== "completed";
  document.getElementById("video").hidden = scene.status !== "completed";
  document.getElementById("share").hidden = scene.status !== "completed";
  document.getElementById("share-link").href = `/api/scenes/${sceneId}/share`;
  if (m.clean) showClean(m.clean);
  if (scene.status === "completed" && !viewerStarted) startViewer(scene);
}

async function refresh() {
  try {
    const scene = await api(`/api/scenes/${sceneId}`);
    render(scene);
    if (scene.status !== "completed" && scene.status !== "failed") setTimeout(refresh, 2000);
  } catch (err) {
    document.getElementById("title").textContent = err.message;
  }
}

function boxCorners() {
  return [...document.querySelectorAll("#crop-box input")].map((i) => Number(i.value));
}

// the crop box drawn in the 3D view (COLMAP's frame, as the viewer's); it follows the inputs
async function drawBox() {
  if (!shown) return;
  const THREE = await import("three");
  const c = boxCorners();
  const box = new THREE.Box3(new THREE.Vector3(c[0], c[1], c[2]), new THREE.Vector3(c[3], c[4], c[5]));
  if (boxHelper) shown.scene.remove(boxHelper);
  boxHelper = new THREE.Box3Helper(box, 0xffcc00);
  shown.scene.add(boxHelper);
  window.cropBoxDrawn = c;  // what the view shows, for the browser test
}

function showClean(c) {
  if (c.crop_box && document.getElementById("crop-box").hidden) {  // the box it used, to adjust
    document.querySelectorAll("#crop-box input").forEach((input, i) => { input.value = c.crop_box[i]; });
    document.getElementById("crop-box").hidden = false;
    document.getElementById("crop-box-choice").hidden = false;
    drawBox();
  }
  const removed = Object.entries(c.removed).map(([rule, n]) => `${n.toLocaleString()} ${rule}`).join(", ");
  document.getElementById("clean-result").textContent =
    `${c.gaussians.toLocaleString()} Gaussians kept (${removed}); held-out ${c.psnr_before.toFixed(2)} → ${c.psnr_after.toFixed(2)} dB`;
}

document.getElementById("clean-run").addEventListener("click", async () => {
  const button = document.getElementById("clean-run");
  button.disabled = true;
  document.getElementById("clean-result").textContent = "cleaning…";
  try {
    await api(`/api/scenes/${sceneId}/clean`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ crop: document.getElementById("crop").value === "box" ? boxCorners().join(",")
                               : document.getElementById("crop").value,
                             floaters: document.getElementById("floaters").checked }) });
    render(await api(`/api/scenes/${sceneId}`));
  } catch (err) {
    document.getElementById("clean-result").textContent = `Clean-up failed: ${err.message}`;
  } finally {
    button.disabled = false;
  }
});
async function followVideo() {
  const state = await api(`/api/scenes/${sceneId}/video`);
  const result = document.getElementById("video-result");
  if (state.state === "rendering") {
    result.textContent = `rendering ${state.size}… ${Math.round(100 * state.progress)}%`;
    setTimeout(followVideo, 1000);
  } else {
    document.getElementById("video-run").disabled = false;
    result.textContent = state.state === "failed" ? `The video failed: ${state.error}` : state.state === "done" ? "done" : "";
    if (state.state === "done") render(await api(`/api/scenes/${sceneId}`));
  }
}

document.getElementById("video-run").addEventListener("click", async () => {
  document.getElementById("video-run").disabled = true;
  try {
    await api(`/api/scenes/${sceneId}/video`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ path: document.getElementById("video-path").value,
                             seconds: Number(document.getElementById("video-seconds").value) }) });
    followVideo();
  } catch (err) {
    document.getElementById("video-run").disabled = false;
    document.getElementById("video-result").textContent = `The video failed: ${err.message}`;
  }
});
document.querySelectorAll("#crop-box input").forEach((input) => input.addEventListener("input", () => {
  document.getElementById("crop").value = "box";
  drawBox();
}));
document.getElementById("retry").addEventListener("click", async () => {
  await api(`/api/scenes/${sceneId}/retry`, { method: "POST" });
  refresh();
});
document.getElementById("delete").addEventListener("click", async () => {
  if (!confirm("Delete this scene and all its files?")) return;
  await api(`/api/scenes/${sceneId}`, { method: "DELETE" });
  location.href = "/";
});
refresh();
