// node screenshot.mjs URL OUT.png [WIDTHxHEIGHT] [canvas|page]
// Open URL in headless Chromium; if the page has a 3D viewer, wait until it is ready (or failed);
// save a screenshot of the canvas (default) or of the whole page.
import { chromium } from "playwright-core";

const [url, out, size = "320x240", what = "canvas"] = process.argv.slice(2);
const [width, height] = size.split("x").map(Number);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox", "--disable-gpu-sandbox",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width, height } });
  const logs = [];
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(url);
  if (what === "canvas") {
    await page.waitForFunction(() => window.viewerReady || window.viewerError, null, { timeout: 120000 });
    const error = await page.evaluate(() => window.viewerError);
    if (error) throw new Error(`viewer failed: ${error}\n${logs.join("\n")}`);
    await page.locator("canvas").screenshot({ path: out });
  } else {
    await page.waitForTimeout(1500);
    await page.screenshot({ path: out, fullPage: true });
  }
} finally {
  await browser.close();
}
