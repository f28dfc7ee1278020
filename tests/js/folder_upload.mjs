// node folder_upload.mjs BASE_URL FOLDER : choose a project folder in the gallery's folder picker (a
// transforms.json capture or a COLMAP project), wait until its card says completed, then on the
// scene page clean it up, adjust the crop box by its inputs and by dragging a handle in the view, and
// make a 1-second video; prints what the page said as JSON.
import { chromium } from "playwright-core";

const [base, folder] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox", "--disable-gpu-sandbox",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  const logs = [];
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  process.on("exit", () => console.error(logs.join("\n")));  // the page's own messages, if the run fails
  await page.goto(base);
  await page.locator("#folder").setInputFiles(folder);  // what choosing a folder gives: each file with its path
  await page.locator("#message", { hasText: "Uploaded" }).waitFor({ timeout: 60000 });
  const done = page.locator('.card[data-status="completed"], .card[data-status="failed"]').first();
  await done.waitFor({ timeout: 300000 });
  const seen = { status: await done.getAttribute("data-status"), text: await done.innerText() };
  if (seen.status === "completed") {
    await done.click();
    await page.waitForFunction(() => window.viewerReady || window.viewerError, null, { timeout: 120000 });
    await page.locator("#clean summary").click();
    await page.locator("#clean-run").click();
    await page.locator("#clean-result", { hasText: "Gaussians kept" }).waitFor({ timeout: 120000 });
    seen.clean = await page.locator("#clean-result").innerText();
    // the box it used is offered to adjust: widen it, and clean again to that box
    await page.locator("#crop-box").waitFor({ state: "visible", timeout: 10000 });
    const xMin = page.locator('#crop-box input[data-corner="0"]');
    await xMin.fill(String(Number(await xMin.inputValue()) - 1));
    seen.cropChoice = await page.locator("#crop").inputValue();
    await page.waitForFunction((x) => window.cropBoxDrawn && window.cropBoxDrawn[0] === x,
      Number(await xMin.inputValue()), { timeout: 10000 });  // the view redrew the box at the new corner
    // drag a face's handle (one in view) outwards, away from the box's centre on screen
    const spots = await page.evaluate(() => [0, 1, 2, 3, 4, 5].map((i) => window.cropHandleOnScreen(i)));
    const corner = spots.findIndex((s) => s.handle.visible);
    seen.dragged = { corner, spots };
    if (corner >= 0) {
      const spot = spots[corner];
      const input = page.locator(`#crop-box input[data-corner="${corner}"]`);
      const before = Number(await input.inputValue());
      const away = { x: spot.handle.x - spot.centre.x, y: spot.handle.y - spot.centre.y };
      const step = 40 / Math.max(Math.hypot(away.x, away.y), 1e-6);
      await page.mouse.move(spot.handle.x, spot.handle.y);
      await page.mouse.down();
      await page.mouse.move(spot.handle.x + away.x * step / 2, spot.handle.y + away.y * step / 2, { steps: 4 });
      await page.mouse.move(spot.handle.x + away.x * step, spot.handle.y + away.y * step, { steps: 4 });
      await page.mouse.up();
      const after = Number(await input.inputValue());
      seen.dragged.outwards = corner < 3 ? after < before : after > before;
      seen.dragged.drawn = (await page.evaluate(() => window.cropBoxDrawn))[corner] === after;
      seen.dragged.eyeMoved = JSON.stringify(spot.eye)
        !== JSON.stringify((await page.evaluate(() => window.cropHandleOnScreen(0))).eye);
    }
    await page.locator("#clean-result").evaluate((el) => { el.textContent = ""; });
    await page.locator("#clean-run").click();
    await page.locator("#clean-result", { hasText: "Gaussians kept" }).waitFor({ timeout: 120000 });
    await page.locator("#video summary").click();
    await page.locator("#video-seconds").fill("1");
    await page.locator("#video-run").click();
    await page.locator("#video-result", { hasText: /^(done|The video failed)/ }).waitFor({ timeout: 180000 });
    seen.video = await page.locator("#video-result").innerText();
    seen.downloads = await page.locator("#downloads a").allInnerTexts();
  }
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
