// node share_open.mjs FILE.html OUT.png : open a share file from disk in headless Chromium with every
// network request refused; wait for its viewer; screenshot it; print what it tried to fetch as JSON.
import { chromium } from "playwright-core";

const [file, out] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox", "--disable-gpu-sandbox",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const context = await browser.newContext({ viewport: { width: 480, height: 360 }, offline: true });
  const page = await context.newPage();
  const fetched = [];
  page.on("request", (r) => { if (!/^(data|blob|file):/.test(r.url())) fetched.push(r.url()); });
  await page.route(/^https?:/, (route) => route.abort());
  await page.goto(`file://${file}`);
  await page.waitForFunction(() => window.viewerReady || window.viewerError, null, { timeout: 120000 });
  const error = await page.evaluate(() => window.viewerError || null);
  await page.waitForTimeout(300);
  await page.screenshot({ path: out });
  console.log(JSON.stringify({ error, fetched, title: await page.title() }));
} finally {
  await browser.close();
}
