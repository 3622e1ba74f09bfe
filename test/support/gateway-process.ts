/**
 * `phasor gateway` as a child process for the suites that run it against a real broker: its NDJSON log gathered
 * as records, bounded waits for a record or a condition, a graceful stop that checks exit status 0, and SIGKILL.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { expect } from "vitest";

export class GatewayProcess {
  readonly records: Record<string, unknown>[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stderr = "";

  /** `phasor gateway args`, or another gateway script (`script`, its arguments, its environment) */
  constructor(args: string[], script: { path: string; env?: Record<string, string> } = { path: "tools/cli/phasor.ts" }) {
    // tsx as a loader in this very process (its CLI would run the gateway in a child that SIGKILL would miss)
    const command = script.path === "tools/cli/phasor.ts" ? [script.path, "gateway", ...args] : [script.path, ...args];
    this.child = spawn(process.execPath, ["--import", "tsx", ...command], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...script.env } });
    let partial = "";
    this.child.stdout?.on("data", (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop() as string;
      for (const line of lines) if (line.trim() !== "") this.records.push(JSON.parse(line));
    });
    this.child.stderr?.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  async waitFor(event: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = this.records.find((r) => r.event === event);
      if (found) return found;
      if (this.child.exitCode !== null) break;
      await sleep(25);
    }
    throw new Error(`gateway: no "${event}" within ${timeoutMs} ms (exit ${this.child.exitCode}); stderr: ${this.stderr}; log: ${JSON.stringify(this.records.slice(-3))}`);
  }

  /** SIGTERM and the final "stopped" record */
  async stop(): Promise<Record<string, unknown>> {
    this.child.kill("SIGTERM");
    const code = await withTimeout(this.exited, 20_000, "gateway did not stop after SIGTERM");
    expect(code, this.stderr).toBe(0);
    return this.waitFor("stopped", 1000);
  }

  kill(): Promise<number | null> {
    this.child.kill("SIGKILL");
    return this.exited;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitUntil(condition: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    await sleep(20);
  }
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
