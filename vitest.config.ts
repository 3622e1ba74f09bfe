import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // the suites that run inside Chromium have their own config (vitest.browser.config.ts)
    exclude: ["test/browser/**"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // both cores: vitest's default on a 2-core machine is one worker, and the suites took 10.5 min so on the CI
    // machine of 2026-12-05 (AMD EPYC), 6.8 min with two; most of them wait on child processes anyway
    maxWorkers: 2,
  },
});
