// console.cjs BASE_URL SCREENSHOT: drives the API console (BASE_URL/docs) in
// headless Chromium (Debian's /usr/bin/chromium, or $CHROMIUM) through
// playwright-core: waits for MyService and its Echo operation, opens it,
// clicks "Try it out", types a body, clicks "Execute", reads the answer the
// page shows, and saves a screenshot.  Prints one JSON object with what it
// saw and exits 0; any step that fails prints {"error": ...} and exits 1.
"use strict";
const { chromium } = require("playwright-core");

const STEP_TIMEOUT = 60000; // ms for each element to appear (a bound, not a measure)

async function main() {
  const [base, screenshot, value] = process.argv.slice(2);
  const seen = {};
  const args = [];
  if (process.getuid && process.getuid() === 0)
    args.push("--no-sandbox"); // Chromium refuses to run as root with its sandbox
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.setDefaultTimeout(STEP_TIMEOUT);
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(base + "/docs");
    seen.title = await page.title();
    const tag = page.locator("#operations-tag-MyService");
    await tag.waitFor();
    seen.tag = (await tag.innerText()).split("\n")[0];
    const op = page.locator("#operations-MyService-MyService_Echo");
    await op.waitFor();
    seen.operation = (await op.locator(".opblock-summary").innerText()).replace(/\s+/g, " ");
    await op.locator(".opblock-summary").click();
    await op.locator("button.try-out__btn").click();
    const body = op.locator("textarea.body-param__text");
    await body.fill(JSON.stringify({ value }));
    await op.locator("button.execute").click();
    const status = op.locator(".live-responses-table .response .response-col_status").first();
    await status.waitFor();
    seen.status = (await status.innerText()).trim();
    const answer = op.locator(".live-responses-table .response-col_description .microlight").first();
    await answer.waitFor();
    seen.body = (await answer.innerText()).trim();
    await op.scrollIntoViewIfNeeded();
    await page.screenshot({ path: screenshot, fullPage: true });
    seen.screenshot = screenshot;
    seen.requests = requests.filter((u) => !u.startsWith(base)); // must stay empty
    seen.ok = true;
  } catch (err) {
    seen.error = String(err && err.message ? err.message : err);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(seen));
  process.exit(seen.ok ? 0 : 1);
}
main().catch((err) => {
  console.log(JSON.stringify({ error: String(err) }));
  process.exit(1);
});
