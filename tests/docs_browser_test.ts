/**
 * GET /docs in a real browser: Debian's chromium, headless, driven by playwright-core. The page
 * renders every operation of /openapi.json, loads nothing from any other host, and its "Try it
 * out" registers a user and logs in.
 *
 * Runs on the embedded database only (the page does not depend on the backend), and skips with
 * a printed reason when chromium is not installed (`.ci/run` installs it). Set
 * `DOCS_SCREENSHOTS=docs` to refresh the README's screenshots (`swagger-ui.png`, the page as it
 * opens, and `swagger-ui-login.png`, a login tried from it).
 */
import assert from "node:assert/strict";
import { chromium, type Page } from "playwright-core";
import { openTestApi } from "./api_helpers.ts";
import { TEST_DATABASE_URL } from "./db_helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
const skip = TEST_DATABASE_URL
  ? "runs on the embedded backend only"
  : hasChromium
  ? undefined
  : `${CHROMIUM} is not installed (apt-get install -y chromium)`;
if (skip) console.log(`docs_browser_test: skipped: ${skip}`);

const TIMEOUT = 60_000;

/** Opens an operation, fills its body, executes it, and returns the status the page shows. */
async function tryIt(page: Page, path: string, body: unknown): Promise<string> {
  const op = page.locator(`.opblock-post:has(.opblock-summary-path[data-path="${path}"])`);
  await op.locator(".opblock-summary").click();
  await op.locator(".try-out__btn").click();
  await op.locator("textarea.body-param__text").fill(JSON.stringify(body));
  await op.locator("button.execute").click();
  const status = op.locator(".live-responses-table .response .response-col_status").first();
  await status.waitFor({ timeout: TIMEOUT });
  return (await status.innerText()).trim();
}

Deno.test(
  { name: "docs: Swagger UI in chromium, offline, try it out", ignore: !!skip },
  async () => {
    await using api = await openTestApi();
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, api.app.fetch);
    const origin = `http://127.0.0.1:${server.addr.port}`;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.setDefaultTimeout(TIMEOUT);
      const requests: string[] = [];
      const problems: string[] = [];
      page.on("request", (r) => requests.push(r.url()));
      page.on("requestfailed", (r) => problems.push(`failed: ${r.url()}`));
      page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));

      await page.goto(`${origin}/docs`);
      const doc = await (await fetch(`${origin}/openapi.json`)).json();
      const operations: string[] = [];
      for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths)) {
        for (const method of Object.keys(item)) operations.push(`${method.toUpperCase()} ${path}`);
      }
      const blocks = page.locator(".opblock");
      await blocks.nth(operations.length - 1).waitFor();
      const shown = await blocks.evaluateAll((els) =>
        els.map((el) =>
          `${el.querySelector(".opblock-summary-method")?.textContent} ${
            el.querySelector(".opblock-summary-path")?.getAttribute("data-path")
          }`
        )
      );
      assert.deepEqual(shown.toSorted(), operations.toSorted());
      const screenshots = Deno.env.get("DOCS_SCREENSHOTS");
      if (screenshots) await page.screenshot({ path: `${screenshots}/swagger-ui.png` });

      const creds = {
        username: `ui_${crypto.randomUUID().slice(0, 8)}`,
        password: "securepassword",
      };
      assert.equal(await tryIt(page, "/register", creds), "201");
      assert.equal(await tryIt(page, "/login", creds), "200");
      const login = page.locator(`.opblock-post:has(.opblock-summary-path[data-path="/login"])`);
      assert.match(await login.locator(".live-responses-table").innerText(), /access_token/);

      if (screenshots) {
        await login.locator(".live-responses-table").scrollIntoViewIfNeeded();
        await page.screenshot({ path: `${screenshots}/swagger-ui-login.png` });
      }

      const foreign = requests.filter((url) =>
        !url.startsWith(`${origin}/`) && !url.startsWith("data:")
      );
      assert.deepEqual(foreign, [], "requests off this server");
      assert.deepEqual(problems, []);
      assert.ok(requests.some((url) => url === `${origin}/docs/swagger-ui-bundle.js`));
    } finally {
      await browser.close();
      await server.shutdown();
    }
  },
);
