/**
 * The browser the Chromium suites drive: Debian's chromium, launched by playwright (which downloads no browser of
 * its own), with the flags that work on these machines (shared/notes/toolchain.md, "Browser").
 */
import { existsSync } from "node:fs";

export const CHROMIUM = "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** The failure the browser suites report on a machine without it: they never skip. */
export function chromiumMissing(): string {
  return `Chromium is not installed at ${CHROMIUM}; the browser tests need it: apt-get install -y chromium`;
}

export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) throw new Error(chromiumMissing());
}
