/**
 * `phasor bench`: in-process throughput of every engine (formats.md, "Commands").
 * Not written yet: the flags are declared so that usage and argument checks already hold.
 */
import { PhasorError } from "../../host/errors.js";
import { defineCommand } from "../command.js";

export const command = defineCommand({
  usage: "[--json]",
  description: "Measures the throughput of every engine in one process and prints a table.",
  flags: {
    json: { kind: "boolean", help: "print one JSON array instead of a table" },
  },
  async run() {
    throw new PhasorError("runtime", "not implemented yet");
  },
});
