// node screenshot.mjs URL OUT.png : open URL in headless Chromium, wait for the viewer, save a screenshot.
import { chromium } from "playwright-core";

const [url, out] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox", "--disable-gpu-sandbox",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 320, height: 240 } });
  const logs = [];
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.viewerReady || window.viewerError, null, { timeout: 90000 });
  const error = await page.evaluate(() => window.viewerError);
  if (error) throw new Error(`viewer failed: ${error}\n${logs.join("\n")}`);
  await page.locator("canvas").screenshot({ path: out });
} finally {
  await browser.close();
}
