import { api, errorMessage, megabytes, onAws, sceneHref, statusText, token, uploadOptions, when } from "/static/common.js";

const grid = document.getElementById("grid");
const message = document.getElementById("message");

function say(text, isError = false) { message.textContent = text; message.className = `message${isError ? " error" : ""}`; }

function card(scene) {
  const a = document.createElement("a");
  a.className = "card";
  a.href = sceneHref(scene.id);
  a.dataset.id = scene.id;
  a.dataset.status = scene.status;
  const thumb = scene.files["thumbnail.jpg"];
  const size = Object.values(scene.files).reduce((sum, f) => sum + f.bytes, 0) || scene.uploadBytes;
  const psnr = scene.metrics && scene.metrics.psnr ? ` · ${scene.metrics.psnr.toFixed(1)} dB` : "";
  a.innerHTML = `
    <div class="thumb"${thumb ? ` style="background-image:url('${thumb.url}')"` : ""}>${thumb ? "" : "no preview yet"}</div>
    <div class="body">
      <div class="title"></div>
      <div class="meta"><span class="status ${scene.status}">${statusText(scene)}</span> ${megabytes(size)}${psnr}</div>
      <div class="meta">${when(scene.createdAt)}</div>
      ${scene.status === "processing" || scene.status === "queued"
        ? `<div class="bar"><span style="width:${Math.round(100 * (scene.progress || 0))}%"></span></div>` : ""}
    </div>`;
  a.querySelector(".title").textContent = scene.title;  // user text: never as HTML
  const preview = scene.files["preview.mp4"];
  if (preview) {  // a few seconds along the capture's path, played while the pointer is on the card
    const video = Object.assign(document.createElement("video"),
      { src: preview.url, muted: true, loop: true, playsInline: true, preload: "none" });
    a.querySelector(".thumb").append(video);
    a.addEventListener("mouseenter", () => { video.play().catch(() => {}); });
    a.addEventListener("mouseleave", () => { video.pause(); video.currentTime = 0; });
  }
  return a;
}

const cards = new Map();  // scene id → { key: what the card shows, element }

async function refresh() {
  try {
    const { scenes } = await api("/api/scenes?limit=200");
    // keep the cards that did not change, so a preview playing under the pointer goes on playing
    const next = scenes.map((scene) => {
      const key = JSON.stringify([scene.status, scene.stage, scene.progress, scene.etaSeconds, scene.title,
        Object.keys(scene.files)]);
      const kept = cards.get(scene.id);
      if (kept && kept.key === key) return kept.element;
      const element = card(scene);
      cards.set(scene.id, { key, element });
      return element;
    });
    if (next.length !== grid.children.length || next.some((el, i) => grid.children[i] !== el)) {
      grid.replaceChildren(...next);
    }
    document.getElementById("empty").hidden = scenes.length > 0;
  } catch (err) {
    say(`Cannot reach the library: ${err.message}`, true);
  }
}

// `files`: File objects, or [File, path in the dropped folder] pairs (a project keeps its layout)
function upload(files) {
  if (!files.length) return;
  if (onAws) { uploadToS3(files).catch((err) => { document.getElementById("drop").classList.remove("busy"); say(`Upload failed: ${err.message}`, true); }); return; }
  const form = new FormData();
  for (const f of files) {
    if (Array.isArray(f)) form.append("file", f[0], f[1]);
    else form.append("file", f);
  }
  for (const input of document.querySelectorAll("[data-option]")) {
    if (input.value !== "" && input.value !== input.dataset.default) form.append(input.name, input.value);
  }
  const drop = document.getElementById("drop");
  const bar = document.getElementById("upload-progress");
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/scenes");
  xhr.setRequestHeader("X-Splatlib-Client", "1");
  if (token()) xhr.setRequestHeader("Authorization", `Bearer ${token()}`);
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; };
  xhr.onload = () => {
    drop.classList.remove("busy");
    if (xhr.status === 201) {
      say(`Uploaded ${files.length === 1 ? files[0].name : `${files.length} files`}; processing starts shortly.`);
      refresh();
    } else {
      const detail = errorMessage(xhr.responseText, xhr.statusText);
      if (xhr.status === 401) { const t = prompt("This server needs an API token:"); if (t) { localStorage.setItem("splatlibToken", t); upload(files); return; } }
      say(`Upload failed: ${detail}`, true);
    }
  };
  xhr.onerror = () => { drop.classList.remove("busy"); say("Upload failed: the server did not answer", true); };
  drop.classList.add("busy");
  bar.value = 0;
  say("Uploading…");
  xhr.send(form);
}

// On AWS: the API records the scene and answers a presigned POST; the video goes straight to S3
// (its arrival starts the pipeline)
async function uploadToS3(files) {
  const file = files.length === 1 && !Array.isArray(files[0]) ? files[0] : null;
  if (!file || !file.type.startsWith("video/")) {
    say("Here a scene starts from one video (photos and project folders need `splatlib serve` or the CLI).", true);
    return;
  }
  const options = {};
  for (const input of document.querySelectorAll("[data-option]")) {
    if (input.value === "" || input.value === input.dataset.default) continue;
    options[input.name] = input.tagName === "SELECT" ? input.value : Number(input.value);
  }
  const drop = document.getElementById("drop");
  const bar = document.getElementById("upload-progress");
  drop.classList.add("busy");
  bar.value = 0;
  say("Uploading…");
  const { scene, upload } = await api("/api/scenes", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ filename: file.name, options }) });
  if (file.size > upload.maxBytes) {
    await api(`/api/scenes/${scene.id}`, { method: "DELETE" });
    throw new Error(`the video is ${megabytes(file.size)}; the limit is ${megabytes(upload.maxBytes)}`);
  }
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
  form.append("file", file);  // last: S3 reads the fields before the file
  await new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", upload.url);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; };
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve()
      : reject(new Error(`storage answered ${xhr.status} ${(xhr.responseText.match(/<Message>(.*?)<\/Message>/) || [])[1] || ""}`)));
    xhr.onerror = () => reject(new Error("storage did not answer"));
    xhr.send(form);
  });
  drop.classList.remove("busy");
  say(`Uploaded ${file.name}; processing starts shortly.`);
  refresh();
}

function optionInput(o) {
  let input;
  if (o.choices) {
    input = document.createElement("select");
    for (const c of o.choices) input.append(new Option(c, c, false, c === o.default));
  } else {
    input = document.createElement("input");
    input.type = "number";
    input.min = o.minimum;
    input.max = o.maximum;
    input.step = o.type === "integer" ? "1" : "any";
    input.placeholder = o.default ?? "none";
  }
  input.name = o.name;
  input.dataset.option = "1";
  input.dataset.default = o.choices ? o.default : "";
  return input;
}

async function buildOptions() {
  // every setting the server accepts, from its one option table (GET /api/options)
  const { options } = await uploadOptions();
  const box = document.getElementById("options");
  const more = document.createElement("details");
  more.append(Object.assign(document.createElement("summary"), { textContent: "More settings" }));
  for (const o of options) {
    const label = document.createElement("label");
    label.title = o.help;
    label.append(o.name === "minutes" ? "Time budget (minutes) " : `${o.name.replaceAll("_", " ")} `, optionInput(o));
    if (o.name === "minutes") {
      box.append(label, Object.assign(document.createElement("span"),
        { className: "meta", textContent: ` ${o.help}` }));
    } else {
      more.append(label);
    }
  }
  box.append(more);
}

const drop = document.getElementById("drop");
document.getElementById("file").addEventListener("change", (e) => upload([...e.target.files]));
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", async (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const entries = [...e.dataTransfer.items].map((item) => item.webkitGetAsEntry && item.webkitGetAsEntry()).filter(Boolean);
  if (entries.some((entry) => entry.isDirectory)) upload(await filesIn(entries, ""));
  else upload([...e.dataTransfer.files]);
});
document.getElementById("folder").addEventListener("change", (e) =>
  upload([...e.target.files].map((f) => [f, f.webkitRelativePath || f.name])));

// every file under dropped folders, with its path ("capture/images/0001.jpg")
async function filesIn(entries, prefix) {
  const found = [];
  for (const entry of entries) {
    if (entry.isFile) {
      found.push([await new Promise((ok, fail) => entry.file(ok, fail)), prefix + entry.name]);
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      let batch, children = [];
      do {  // readEntries gives at most 100 at a time
        batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
        children = children.concat(batch);
      } while (batch.length);
      found.push(...await filesIn(children, `${prefix}${entry.name}/`));
    }
  }
  return found;
}

if (onAws) {  // one video per scene here
  document.getElementById("folder").closest("div").hidden = true;
  document.getElementById("drop-text").textContent = "Drop a video here, or click to choose";
}
buildOptions().catch((err) => say(`Cannot read the server's settings: ${err.message}`, true));
refresh();
setInterval(refresh, 2000);
