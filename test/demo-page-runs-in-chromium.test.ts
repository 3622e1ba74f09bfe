// Issue 5, item 4, end to end: `npm run demo:web`'s server (tools/build/serve-web.mjs) serves the page, headless
// Chromium (Debian's, driven by playwright) opens it, and the page must load the library as plain ESM, stream
// events through the fixed engine and keep updating: the event counter grows, the gate raster and the event strip
// change, sequences get verdicts. Its screenshot is kept in test-artifacts/demo.png.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { get } from "node:http";
import { chromium, type Browser, type Page } from "playwright";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CHROMIUM, CHROMIUM_ARGS, requireChromium } from "./support/chromium.js";

const SCREENSHOT = "test-artifacts/demo.png";
/** the one request allowed to fail: the page looks for a trained model beside it and falls back when there is none */
const OPTIONAL_MODEL = /\/web\/model\.json$/;

let server: ChildProcess | undefined;
let address = "";
let browser: Browser | undefined;

/** Starts the demo server on a free port; resolves with the address it prints. */
function startServer(): Promise<string> {
  const child = spawn(process.execPath, ["tools/build/serve-web.mjs", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  server = child;
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const url = /http:\/\/localhost:\d+\/web\//.exec(stdout)?.[0];
      if (url) resolve(url);
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("exit", (code) => reject(new Error(`the demo server exited (${code}) before printing its address: ${stderr || stdout}`)));
  });
}

beforeAll(async () => {
  address = await startServer();
  // without Chromium, every test that needs it fails on its own (open() says what to install); none is skipped
  if (existsSync(CHROMIUM)) browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  server?.kill();
});

/** Opens the page and collects what goes wrong in it: uncaught errors, console errors, failed requests. */
async function open(query: string): Promise<{ page: Page; problems: string[] }> {
  requireChromium();
  const page = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !OPTIONAL_MODEL.test(message.location().url)) problems.push(`console: ${message.text()}`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400 && !OPTIONAL_MODEL.test(response.url())) problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  await page.goto(address + query);
  await page.waitForFunction(() => document.body.dataset.state !== "loading", undefined, { timeout: 30_000 });
  const error = await page.locator("#error").textContent();
  expect(await page.evaluate(() => document.body.dataset.state), `the page failed: ${error}`).toBe("running");
  return { page, problems };
}

const eventCount = (page: Page) => page.evaluate(() => Number(document.getElementById("event-count")!.textContent!.replace(/,/g, "")));
const canvasPixels = (page: Page, id: string) => page.evaluate((id) => (document.getElementById(id) as HTMLCanvasElement).toDataURL(), id);

it("the demo page streams events through the SIMD build and keeps updating", async () => {
  const { page, problems } = await open("?speed=80");
  expect(await page.locator("#build").textContent()).toContain("SIMD build");
  expect(await page.locator("#model").textContent()).toContain("110 units");
  await page.waitForFunction(() => Number(document.getElementById("event-count")!.textContent!.replace(/,/g, "")) > 0, undefined, { timeout: 30_000 });
  const before = { events: await eventCount(page), gates: await canvasPixels(page, "gates"), strip: await canvasPixels(page, "events") };
  await page.waitForFunction((n) => Number(document.getElementById("event-count")!.textContent!.replace(/,/g, "")) > n + 50, before.events, { timeout: 30_000 });
  expect(await canvasPixels(page, "gates")).not.toBe(before.gates);
  expect(await canvasPixels(page, "events")).not.toBe(before.strip);
  expect(await page.locator("#last-updated").textContent()).toMatch(/^\d+ of 110 units updated \(the engine counted \d+\)$/);
  // two sequences judged: the verdicts and the accuracy show
  await page.waitForFunction(() => document.querySelectorAll("#history tr").length >= 2, undefined, { timeout: 30_000 });
  expect(await page.locator("#accuracy").textContent()).toMatch(/^\d+ of \d+ correct/);
  mkdirSync("test-artifacts", { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  expect(problems).toEqual([]);
  await page.close();
});

it("?simd=off runs the scalar build, and the build menu switches to SIMD while it runs", async () => {
  const { page, problems } = await open("?simd=off&speed=80");
  expect(await page.locator("#build").textContent()).toContain("scalar build");
  await page.waitForFunction(() => Number(document.getElementById("event-count")!.textContent!.replace(/,/g, "")) > 20, undefined, { timeout: 30_000 });
  await page.selectOption("#simd", "on");
  // a fresh stream on the new engine: the counter starts again, then climbs
  await page.waitForFunction(
    () => document.getElementById("build")!.textContent!.includes("SIMD build") && Number(document.getElementById("event-count")!.textContent!.replace(/,/g, "")) < 20,
    undefined,
    { timeout: 30_000 },
  );
  await page.waitForFunction(() => Number(document.getElementById("event-count")!.textContent!.replace(/,/g, "")) > 20, undefined, { timeout: 30_000 });
  expect(await page.evaluate(() => document.body.dataset.state)).toBe("running");
  expect(problems).toEqual([]);
  await page.close();
});

/** Opens the page with a query it must refuse: the page stops in its error state, and its error says `expected`. */
async function refused(query: string, expected: RegExp): Promise<void> {
  requireChromium();
  const page = await browser!.newPage();
  await page.goto(address + query);
  await page.waitForFunction(() => document.body.dataset.state !== "loading", undefined, { timeout: 30_000 });
  expect(await page.evaluate(() => document.body.dataset.state), `the page ran with ${query}`).toBe("error");
  expect(await page.locator("#error").textContent()).toMatch(expected);
  expect(await page.locator("#model").textContent()).toBe("the demo could not start:");
  await page.close();
}

it("a query parameter the demo does not know, or cannot take, stops the page with an error naming it", async () => {
  // each of these had run the defaults instead, silently: the auto build, 40 ms/s, seed 7, the model beside the page
  await refused("?simd=garbage", /^\?simd=garbage: expected auto, on or off$/);
  await refused("?simd=OFF", /^\?simd=OFF: expected auto, on or off$/);
  await refused("?speed=fast", /^\?speed=fast: expected a number of ms of events a second/);
  await refused("?speed=-5", /^\?speed=-5: expected/);
  await refused("?speed=", /^\?speed=: expected/);
  await refused("?seed=0.5", /^\?seed=0\.5: expected an integer from 0 to 4294967295$/);
  await refused("?modle=/web/model.json", /^\?modle=: the demo has no such parameter \(it takes model, simd, speed, seed\)$/);
  await refused("?simd=on&simd=off", /^\?simd= is given 2 times; give it once$/);
});

it("?seed=0 is a seed like any other, and ?speed= takes a speed the menu does not list", async () => {
  const { page, problems } = await open("?seed=0&speed=55");
  expect(await page.locator("#speed").inputValue()).toBe("55");
  expect(await page.locator("#source").textContent()).toBe("freq1-async, seed 0");
  expect(problems).toEqual([]);
  await page.close();
});

it("the server serves web/, dist/ and build/ only", async () => {
  const status = (path: string) =>
    new Promise<number>((resolve, reject) => {
      get(new URL(path, address).origin + path, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      }).on("error", reject);
    });
  expect(await status("/web/index.html")).toBe(200);
  expect(await status("/build/phasor-scalar.wasm")).toBe(200);
  expect(await status("/package.json")).toBe(404);
  expect(await status("/build/%2e%2e/package.json")).toBe(404);
  expect(await status("/host/index.ts")).toBe(404);
});
