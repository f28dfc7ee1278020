// A 3DGS viewer: three.js + Spark. Used by the scene page and by the browser tests.
import * as THREE from "three";
import { SparkRenderer, SplatMesh } from "@sparkjsdev/spark";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";

/**
 * Show the splat file at `url` (or given as `fileBytes`, a Uint8Array) in `canvas`. The camera starts
 * at `eye` looking at `target` with `up` (world coordinates of the file; by default "down" is +y as
 * in COLMAP/INRIA files). Resolves once the splats are loaded and a frame has been drawn.
 */
export async function showSplat(canvas, url, { eye = [0, 0, -3], target = [0, 0, 0], up = [0, -1, 0], fileType,
                                               fileBytes } = {}) {
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: false, preserveDrawingBuffer: true });
  renderer.setPixelRatio(1);
  renderer.setSize(canvas.clientWidth, canvas.clientHeight, false);
  const scene = new THREE.Scene();
  scene.add(new SparkRenderer({ renderer }));
  const camera = new THREE.PerspectiveCamera(50, canvas.clientWidth / canvas.clientHeight, 0.01, 1000);
  camera.up.fromArray(up);
  camera.position.fromArray(eye);
  const controls = new OrbitControls(camera, canvas);
  controls.target.fromArray(target);
  controls.update();
  const splats = new SplatMesh(fileBytes ? { fileBytes, fileType } : { url, fileType });
  // .spz files are right-up-back (the format's convention); .ply and .splat are right-down-forward
  // like COLMAP. Turn .spz 180° about x so every format shares the COLMAP frame of our cameras.
  if ((fileType || url.split("?")[0]).toLowerCase().endsWith("spz")) splats.quaternion.set(1, 0, 0, 0);
  scene.add(splats);
  await splats.initialized;
  await new Promise((resolve) => {
    let frames = 0;
    renderer.setAnimationLoop(() => {
      controls.update();
      renderer.render(scene, camera);
      if (++frames === 30) resolve();
    });
  });
  return { renderer, scene, camera, splats };
}
