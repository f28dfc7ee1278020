// node private_gallery.mjs BASE_URL TOKEN : open a private server's gallery, answer the token prompt,
// wait for the first card, then read the list with the session cookie alone (no Authorization header).
import { chromium } from "playwright-core";

const [base, token] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run"],
});
try {
  const page = await browser.newPage();
  const prompts = [];
  page.on("dialog", (dialog) => { prompts.push(dialog.message()); dialog.accept(token); });
  await page.goto(base);
  await page.locator(".card .title").first().waitFor({ timeout: 30000 });
  const title = await page.locator(".card .title").first().textContent();
  const cookieOnly = await page.evaluate(async () => (await fetch("/api/scenes")).status);
  console.log(JSON.stringify({ prompts, title, cookieOnly }));
} finally {
  await browser.close();
}
