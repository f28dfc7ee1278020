// node e2e_upload.mjs BASE_URL VIDEO OUT.png : as a person would: open the gallery, choose a setting
// under "More settings" (SH degree 1), upload a video, wait until its card says completed, see its
// preview video play under the pointer, open the scene page, screenshot the 3D view.
import { chromium } from "playwright-core";

const [base, video, out] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox", "--disable-gpu-sandbox",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  await page.goto(base);
  await page.locator("#options summary", { hasText: "More settings" }).click();
  await page.locator('#options input[name="sh_degree"]').fill("1");
  await page.locator("#file").setInputFiles(video);
  await page.locator("#message", { hasText: "Uploaded" }).waitFor({ timeout: 60000 });
  const card = page.locator(".card").first();
  await page.locator('.card[data-status="completed"]').first().waitFor({ timeout: 300000 });
  await page.screenshot({ path: out.replace(/\.png$/, "-gallery.png") });
  await card.hover();  // the convert stage's preview.mp4 plays under the pointer
  await page.waitForFunction(() => { const v = document.querySelector(".card video"); return v && v.currentTime > 0.3; },
    null, { timeout: 20000 });
  await card.click();
  await page.waitForFunction(() => window.viewerReady || window.viewerError, null, { timeout: 120000 });
  const error = await page.evaluate(() => window.viewerError);
  if (error) throw new Error(`viewer failed: ${error}`);
  await page.waitForTimeout(500);
  await page.locator("canvas").screenshot({ path: out });
  await page.screenshot({ path: out.replace(/\.png$/, "-page.png") });
} finally {
  await browser.close();
}
