// node folder_upload.mjs BASE_URL FOLDER : choose a project folder in the gallery's folder picker (a
// transforms.json capture or a COLMAP project), wait until its card says completed; prints the
// card's title and status as JSON.
import { chromium } from "playwright-core";

const [base, folder] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run"],
});
try {
  const page = await browser.newPage();
  await page.goto(base);
  await page.locator("#folder").setInputFiles(folder);  // what choosing a folder gives: each file with its path
  await page.locator("#message", { hasText: "Uploaded" }).waitFor({ timeout: 60000 });
  const done = page.locator('.card[data-status="completed"], .card[data-status="failed"]').first();
  await done.waitFor({ timeout: 300000 });
  console.log(JSON.stringify({ status: await done.getAttribute("data-status"), text: await done.innerText() }));
} finally {
  await browser.close();
}
