import { api, megabytes, onAws, pageSceneId, statusText, when } from "/static/common.js";

const sceneId = pageSceneId();
let viewerStarted = false;
let shown = null;  // showSplat's { scene, … } once the viewer runs
let boxHelper = null;
let handles = [];  // the crop box's six face handles, once drawn

function row(dl, name, value) {
  if (value === null || value === undefined) return;
  const dt = document.createElement("dt"); dt.textContent = name;
  const dd = document.createElement("dd"); dd.textContent = value;
  dl.append(dt, dd);
}

async function startViewer(scene) {
  viewerStarted = true;
  const note = document.getElementById("view-note");
  const fileType = scene.files["scene.spz"] ? "spz" : "splat";
  const file = scene.files[`scene.${fileType}`];
  try {
    const { showSplat } = await import("/static/viewer.js");
    const metrics = scene.files["metrics.json"]
      ? await fetch(scene.files["metrics.json"].url).then((r) => r.json()).catch(() => ({})) : {};
    const view = metrics.view || {};
    shown = await showSplat(document.getElementById("view"), file.url, {
      eye: view.eye, target: view.target, up: view.up, fileType });
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
  const local = scene.status === "completed" && !onAws;  // the tools that run beside `splatlib serve`'s library
  document.getElementById("clean").hidden = !local;
  document.getElementById("video").hidden = !local;
  document.getElementById("share").hidden = !local;
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

// the crop box drawn in the 3D view (COLMAP's frame, as the viewer's); it follows the inputs, and a
// handle on each face drags that face along its axis (the inputs follow the handles)
async function drawBox() {
  if (!shown) return;
  const THREE = await import("three");
  const c = boxCorners();
  const box = new THREE.Box3(new THREE.Vector3(c[0], c[1], c[2]), new THREE.Vector3(c[3], c[4], c[5]));
  if (boxHelper) shown.scene.remove(boxHelper);
  boxHelper = new THREE.Box3Helper(box, 0xffcc00);
  shown.scene.add(boxHelper);
  placeHandles(THREE, box, c);
  window.cropBoxDrawn = c;  // what the view shows, for the browser test
}

function placeHandles(THREE, box, c) {
  if (!handles.length) {
    for (let corner = 0; corner < 6; corner++) {  // corner i moves coordinate i % 3 of the min (i < 3) or max side
      const handle = new THREE.Mesh(new THREE.SphereGeometry(1, 16, 12),
        new THREE.MeshBasicMaterial({ color: 0xffcc00, depthTest: false, transparent: true, opacity: 0.9 }));
      handle.renderOrder = 10;  // drawn over the splats, so a handle inside them can still be grabbed
      handle.userData.corner = corner;
      handles.push(handle);
    }
    dragHandles(THREE);
  }
  const centre = box.getCenter(new THREE.Vector3());
  const radius = Math.max(box.getSize(new THREE.Vector3()).length() * 0.02, 1e-3);
  for (const handle of handles) {
    const corner = handle.userData.corner;
    handle.position.copy(centre).setComponent(corner % 3, c[corner]);
    handle.scale.setScalar(radius);
    if (!handle.parent) shown.scene.add(handle);
  }
}

function dragHandles(THREE) {
  const canvas = shown.renderer.domElement;
  const ray = new THREE.Raycaster();
  let drag = null;
  const aim = (event) => {
    const r = canvas.getBoundingClientRect();
    ray.setFromCamera(new THREE.Vector2((event.clientX - r.left) / r.width * 2 - 1,
                                        1 - (event.clientY - r.top) / r.height * 2), shown.camera);
  };
  // capture on the parent: a press on a handle never reaches the orbit controls on the canvas
  canvas.parentElement.addEventListener("pointerdown", (event) => {
    if (event.target !== canvas) return;
    aim(event);
    const hit = ray.intersectObjects(handles, false)[0];
    if (!hit) return;
    event.stopPropagation();
    const corner = hit.object.userData.corner;
    const axis = new THREE.Vector3().setComponent(corner % 3, 1);
    // drag in the plane through the face's axis that faces the camera most
    const look = shown.camera.getWorldDirection(new THREE.Vector3());
    const normal = look.sub(axis.clone().multiplyScalar(look.dot(axis)));
    if (normal.lengthSq() < 1e-8) return;  // looking straight down the axis: no direction to drag along
    drag = { corner, plane: new THREE.Plane().setFromNormalAndCoplanarPoint(normal.normalize(), hit.object.position) };
    canvas.setPointerCapture(event.pointerId);
  }, { capture: true });
  canvas.addEventListener("pointermove", (event) => {
    if (!drag) return;
    aim(event);
    const at = ray.ray.intersectPlane(drag.plane, new THREE.Vector3());
    if (!at) return;
    const c = boxCorners();
    const axis = drag.corner % 3;
    const gap = 1e-3 * Math.max(Math.abs(c[axis + 3] - c[axis]), 1e-3);
    const value = drag.corner < 3 ? Math.min(at.getComponent(axis), c[axis + 3] - gap)
                                  : Math.max(at.getComponent(axis), c[axis] + gap);
    document.querySelector(`#crop-box input[data-corner="${drag.corner}"]`).value = value.toFixed(4);
    document.getElementById("crop").value = "box";
    drawBox();
  });
  const drop = () => { drag = null; };
  canvas.addEventListener("pointerup", drop);
  canvas.addEventListener("pointercancel", drop);
  // for the browser test: where a handle and the box's centre are on screen, and where the camera is
  window.cropHandleOnScreen = (corner) => {
    const r = canvas.getBoundingClientRect();
    const toScreen = (p) => { const q = p.clone().project(shown.camera);
      return { x: r.left + (q.x + 1) / 2 * r.width, y: r.top + (1 - q.y) / 2 * r.height,
               visible: Math.abs(q.x) < 0.9 && Math.abs(q.y) < 0.9 && Math.abs(q.z) < 1 }; };
    const box = new THREE.Box3().setFromArray(boxCorners());
    return { handle: toScreen(handles[corner].position), centre: toScreen(box.getCenter(new THREE.Vector3())),
             eye: shown.camera.position.toArray() };
  };
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
