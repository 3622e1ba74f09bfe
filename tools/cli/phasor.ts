#!/usr/bin/env node
/**
 * The `phasor` command line (formats.md, "Commands"). Each command is one module under tools/cli/commands/, loaded
 * only when it runs. Exit status: 0 on success, 2 on bad arguments or bad input files (PhasorError codes
 * bad-args, bad-input, bad-model), 1 on a runtime failure or anything unexpected; the message goes to stderr
 * as `phasor <command>: <message>`, one line whatever the input held (control characters escaped).
 */
// the node entry: the engines read their wasm from build/ instead of fetching it
import "../../host/node.js";
import { PhasorError, escapeControls } from "../../host/errors.js";
import { commandHelp, parseFlags, type Command, type CommandIO } from "./command.js";
import { ioReason, removePartialFiles } from "../../host/files.js";
import { sayBeforeQuietStop } from "./io.js";

interface Entry {
  summary: string;
  load(): Promise<Command>;
}

const COMMANDS: Record<string, Entry> = {
  run: { summary: "run a model over events, NDJSON out", load: async () => (await import("./commands/run.js")).command },
  quantize: {
    summary: "float model to fixed-point model, calibrated on events",
    load: async () => (await import("./commands/quantize.js")).command,
  },
  start: { summary: "the main job: train, quantize, stream, report (npm start)", load: async () => (await import("./commands/start.js")).command },
  train: { summary: "train in wasm on a built-in task", load: async () => (await import("./commands/train.js")).command },
  eval: { summary: "accuracy or MSE of a model on labelled events", load: async () => (await import("./commands/eval.js")).command },
  gen: { summary: "a built-in task's labelled sequences as NDJSON events", load: async () => (await import("./commands/gen.js")).command },
  bench: { summary: "throughput of every engine", load: async () => (await import("./commands/bench.js")).command },
  demo: { summary: "the inference demo on a built-in example, without training", load: async () => (await import("./commands/demo.js")).command },
  "export-c": {
    summary: "the MCU build and a model as C source for flashing, with the memory they need",
    load: async () => (await import("./commands/export-c.js")).command,
  },
  gateway: { summary: "the MQTT sensor gateway: one stream per device, state kept across restarts", load: async () => (await import("./commands/gateway.js")).command },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, entry]) => `  ${name.padEnd(width)}  ${entry.summary}`);
  return `usage: phasor <command> [flags]\n\ncommands:\n${lines.join("\n")}\n\n'phasor <command> --help' shows a command's flags.\n`;
}

function exitStatus(err: unknown): number {
  if (err instanceof PhasorError) return err.code === "runtime" ? 1 : 2;
  return 1;
}

function message(err: unknown): string {
  if (err instanceof PhasorError) return escapeControls(err.message);
  // not raised on purpose: a bug, so the stack is worth having (its lines, each escaped)
  if (err instanceof Error) return `unexpected error: ${(err.stack ?? err.message).split("\n").map(escapeControls).join("\n")}`;
  return `unexpected error: ${escapeControls(String(err))}`;
}

/** the command running, for messages that arrive outside it */
let running = "";

async function main(args: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h") {
    (name === undefined ? io.stderr : io.stdout).write(usage());
    return name === undefined ? 2 : 0;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (entry === undefined) {
    io.stderr.write(`phasor: unknown command "${escapeControls(name)}" (commands: ${Object.keys(COMMANDS).join(", ")})\n`);
    return 2;
  }
  running = `phasor ${name}`;
  try {
    const command = await entry.load();
    const parsed = parseFlags(rest, command.flags);
    if (parsed.help) {
      io.stdout.write(commandHelp(name, command));
      return 0;
    }
    await command.run(parsed.flags, io);
    return 0;
  } catch (err) {
    io.stderr.write(`${running}: ${message(err)}\n`);
    return exitStatus(err);
  }
}

// A failed write to stdout arrives as an 'error' event after write() has returned, wherever the command is.
// `phasor run ... | head` closes stdout early: stop quietly, as command-line tools do. Any other failure (a full
// disk) is one line and exit status 1. Either way no half-written output file stays behind.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  removePartialFiles();
  if (err.code === "EPIPE") {
    sayBeforeQuietStop();
    process.exit(process.exitCode ?? 0);
  }
  process.stderr.write(`${running || "phasor"}: cannot write to stdout: ${ioReason(err)}\n`);
  process.exit(1);
});
// a message that cannot be written has nowhere else to go; the exit status still says what happened
process.stderr.on("error", () => undefined);
// Ctrl-C or a kill while a file is being written (a training checkpoint, each epoch) would leave its partial file
// beside it: remove it, then stop by the same signal, as if no handler were here. A command that stops on the
// signal itself (the gateway, gracefully) has a handler of its own then, and this one leaves the signal to it
// (registered before any command's, it runs first, while the command's is still counted).
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  const stop = () => {
    if (process.listenerCount(signal) > 1) return;
    removePartialFiles();
    process.off(signal, stop);
    process.kill(process.pid, signal);
  };
  process.on(signal, stop);
}

process.exitCode = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
