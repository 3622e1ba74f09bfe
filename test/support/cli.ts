/** The `phasor` CLI run from its TypeScript source through tsx (`npx tsx tools/cli/phasor.ts`, without npx). */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const TSX = join("node_modules", "tsx", "dist", "cli.mjs");

export interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function phasor(args: string[], stdin?: string): Result {
  // room for large outputs (spawnSync's default is 1 MiB)
  const run = spawnSync(process.execPath, [TSX, "tools/cli/phasor.ts", ...args], { input: stdin, encoding: "utf8", maxBuffer: 1 << 28 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

export interface SpawnedPhasor {
  child: ChildProcess;
  /** resolves when the process has exited, with what it wrote and, when measured, its peak resident memory */
  done: Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: Buffer; peakRssKb?: number }>;
}

/**
 * The CLI from source in one node process (tsx as an import, so no second process runs it), for tests that feed
 * stdin as a stream, give it a file descriptor as stdout, measure its peak resident memory (`peakRss`: read
 * back from the preload test/support/peak-memory.mjs, which writes it on exit), or preload a module of their own.
 */
export function spawnPhasor(args: string[], options: { stdout?: number; peakRss?: boolean; preload?: string } = {}): SpawnedPhasor {
  const peakFile = options.peakRss ? join(mkdtempSync(join(tmpdir(), "phasor-peak-")), "kb") : undefined;
  const preload = [...(peakFile ? ["--import", "./test/support/peak-memory.mjs"] : []), ...(options.preload ? ["--import", options.preload] : [])];
  const child = spawn(process.execPath, [...preload, "--import", "tsx", "tools/cli/phasor.ts", ...args], {
    stdio: ["pipe", options.stdout ?? "pipe", "pipe"],
    env: peakFile ? { ...process.env, PHASOR_PEAK_RSS_FILE: peakFile } : process.env,
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));
  // a child that stops reading early (a refused line) closes its stdin: that is not the test's failure
  child.stdin?.on("error", () => undefined);
  const done = new Promise<Awaited<SpawnedPhasor["done"]>>((resolve) => {
    child.on("close", (status, signal) => {
      let peakRssKb: number | undefined;
      if (peakFile) {
        peakRssKb = existsSync(peakFile) ? Number(readFileSync(peakFile, "utf8")) : undefined;
        rmSync(dirname(peakFile), { recursive: true, force: true });
      }
      resolve({ status, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), peakRssKb });
    });
  });
  return { child, done };
}
