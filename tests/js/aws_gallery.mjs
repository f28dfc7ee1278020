// node aws_gallery.mjs SITE_URL VIDEO EMAIL TEMPORARY_PASSWORD NEW_PASSWORD OUT.png : the gallery as the
// static site on AWS serves it: sign in (an invited user's first sign-in asks for a new password),
// set fast settings, upload a video straight to storage, wait for its card to say completed, open
// the scene page and screenshot the 3D view; prints what the pages said as JSON.
import { chromium } from "playwright-core";

const [site, video, email, temporary, fresh, out] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox", "--disable-gpu-sandbox",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const logs = [];
process.on("exit", () => console.error(logs.join("\n")));  // the pages' own messages, if the run fails
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  const seen = {};
  await page.goto(site);
  const dialog = page.locator("dialog#sign-in");
  await dialog.waitFor({ timeout: 30000 });
  await dialog.locator('input[name="email"]').fill(email);
  await dialog.locator('input[name="password"]').fill(temporary);
  await dialog.locator("button").click();
  await dialog.locator("#sign-in-error", { hasText: "new password" }).waitFor({ timeout: 30000 });
  await dialog.locator('input[name="fresh"]').fill(fresh);
  await dialog.locator("button").click();
  await dialog.waitFor({ state: "detached", timeout: 30000 });
  seen.folderHintHidden = await page.locator("#folder").evaluate((el) => el.closest("div").hidden);
  await page.locator("#options summary", { hasText: "More settings" }).click();
  for (const [name, value] of [["fps", "3"], ["iterations", "150"], ["image_size", "160"],
                               ["max_gaussians", "4000"], ["sfm_max_size", "480"], ["sh_degree", "1"]]) {
    await page.locator(`#options input[name="${name}"]`).fill(value);
  }
  await page.locator("#file").setInputFiles(video);
  await page.locator("#message", { hasText: /Uploaded|failed/ }).waitFor({ timeout: 60000 });
  seen.message = await page.locator("#message").innerText();
  const done = page.locator('.card[data-status="completed"], .card[data-status="failed"]').first();
  await done.waitFor({ timeout: 420000 });
  seen.card = { status: await done.getAttribute("data-status"), text: await done.innerText(),
                href: await done.getAttribute("href") };
  await done.click();
  await page.waitForFunction(() => window.viewerReady || window.viewerError, null, { timeout: 120000 });
  seen.viewerError = await page.evaluate(() => window.viewerError || null);
  seen.downloads = await page.locator("#downloads a").allInnerTexts();
  seen.localTools = await page.evaluate(() => ["clean", "video", "share"].filter((id) => !document.getElementById(id).hidden));
  await page.waitForTimeout(500);
  await page.locator("canvas").screenshot({ path: out });
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
