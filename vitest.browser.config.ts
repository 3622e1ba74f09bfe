// The suites that run inside Chromium (test/browser/): vitest browser mode, driven by playwright on Debian's
// chromium (shared/notes/toolchain.md, "Browser"). `npm test` runs them after the node suites (vitest.config.ts).
// The global setup runs the same cases in node first and fails, naming the apt package, when Chromium is missing.
import { playwright } from "@vitest/browser-playwright";
import { defineConfig } from "vitest/config";
import { CHROMIUM, CHROMIUM_ARGS } from "./test/support/chromium.js";

export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    globalSetup: ["test/browser/node-runs.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    browser: {
      enabled: true,
      headless: true,
      screenshotFailures: false,
      provider: playwright({ launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS } }),
      instances: [{ browser: "chromium" }],
    },
  },
});
