// Drives one chat page in Debian's Chromium through playwright-core, as a user would: types
// each question, waits for the reply, and reports what the page showed, as JSON on stdout.
// With no questions it reports what the page shows once it has loaded (an opened thread).
//
//   node drive.mjs '{"url": "http://127.0.0.1:8123/langgraph.html?api=...", "questions": [...]}'
//
// "seen" holds every text the page body ever held: a MutationObserver takes the body's text
// (rendered and hidden) after each DOM change, before the browser can paint it, so even a
// draft shown for a moment and then replaced is recorded.
// CHROMIUM (default: `chromium` on PATH) names the browser.
import { execFileSync } from "node:child_process";
import { chromium } from "playwright-core";

const { url, questions, timeoutMs = 120000 } = JSON.parse(process.argv[2]);

function chromiumPath() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  try {
    return execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  } catch {
    console.error("drive.mjs: no `chromium` on PATH (apt-get install chromium, or set CHROMIUM)");
    process.exit(3);
  }
}

function recordEverySeenText() {
  window.__seen = new Set();
  // innerText is what is rendered; textContent also holds text in hidden elements.
  const take = () => {
    window.__seen.add(document.body?.innerText ?? "");
    window.__seen.add(document.body?.textContent ?? "");
  };
  new MutationObserver(take).observe(document, {
    subtree: true,
    childList: true,
    characterData: true,
    attributes: true,
  });
}

const browser = await chromium.launch({
  executablePath: chromiumPath(),
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});
const report = { turns: [], console: [], seen: [] };
try {
  const page = await browser.newPage();
  page.on("console", (m) => report.console.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => report.console.push(`pageerror: ${e.message}`));
  await page.addInitScript(recordEverySeenText);
  await page.goto(url);
  await page.getByTestId("question").waitFor();
  const snapshot = () =>
    page.evaluate(() => {
      const all = (selector) => [...document.querySelectorAll(selector)].map((e) => e.innerText);
      return {
        messages: [...document.querySelectorAll('[data-testid="message"]')].map((e) => ({
          role: e.dataset.role,
          text: e.querySelector('[data-testid="message-text"]')?.innerText ?? "",
        })),
        toolCalls: all('[data-testid="tool-call"]'),
        toolResults: all('[data-testid="tool-result"]'),
        sources: all('[data-testid="source"]'),
        error: document.querySelector('[data-testid="error"]')?.innerText ?? null,
        threadId: document.querySelector('[data-testid="chat"]')?.dataset.threadId ?? null,
      };
    });
  if (!questions.length) {
    // Nothing to ask: what an opened thread shows once it has loaded.
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid="error"]') ||
        (document.querySelector('[data-testid="message"]') &&
          document.querySelector('[data-testid="chat"]')?.dataset.busy === "false"),
      null,
      { timeout: timeoutMs },
    );
    report.turns.push(await snapshot());
  }
  for (const question of questions) {
    const before = await page.locator('[data-testid="message"][data-role="assistant"]').count();
    await page.getByTestId("question").fill(question);
    await page.getByRole("button", { name: "Send" }).click();
    // Done: an answer more than before and the page no longer busy, or an error shown.
    await page.waitForFunction(
      (n) =>
        document.querySelector('[data-testid="error"]') ||
        (document.querySelectorAll('[data-testid="message"][data-role="assistant"]').length > n &&
          document.querySelector('[data-testid="chat"]')?.dataset.busy === "false"),
      before,
      { timeout: timeoutMs },
    );
    report.turns.push(await snapshot());
    if (report.turns.at(-1).error) break;
  }
  report.seen = await page.evaluate(() => [...window.__seen]);
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
