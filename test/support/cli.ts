/** The `phasor` CLI run from its TypeScript source through tsx (what `npx tsx tools/phasor.ts` does, without npx). */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const TSX = join("node_modules", "tsx", "dist", "cli.mjs");

export interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function phasor(args: string[], stdin?: string): Result {
  // room for large outputs (spawnSync's default is 1 MiB)
  const run = spawnSync(process.execPath, [TSX, "tools/phasor.ts", ...args], { input: stdin, encoding: "utf8", maxBuffer: 1 << 28 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}
