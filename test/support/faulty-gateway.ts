/**
 * A gateway process like `phasor gateway`, on the demo sensors, whose engine traps (after running the event) on
 * every event whose first input is PHASOR_TEST_TRAP, when that is set: for the fault test of a message the engine
 * failed on, live, and a restart where the same engine would take it.
 *
 *   node --import tsx test/support/faulty-gateway.ts --model M.plsm --state DIR --broker URL --prefix P --shards N
 */
import "../../host/node.js";
import { readFileSync } from "node:fs";
import { createEngine, loadModelBytes } from "../../host/engine/create.js";
import { parseFlags } from "../../tools/cli/command.js";
import { Gateway } from "../../host/gateway/gateway.js";
import { demoLayout } from "./simulated-devices.js";
import { faultyEngine } from "./gateway.js";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "../../host/gateway/payload.js";

const { flags } = parseFlags(process.argv.slice(2), {
  model: { kind: "string", required: true, help: "" },
  state: { kind: "string", required: true, help: "" },
  broker: { kind: "string", required: true, help: "" },
  prefix: { kind: "string", required: true, help: "" },
  shards: { kind: "number", integer: true, default: 2, help: "" },
} as const);

const trap = process.env.PHASOR_TEST_TRAP === undefined ? undefined : Number(process.env.PHASOR_TEST_TRAP);
const engine = faultyEngine(await createEngine(loadModelBytes(readFileSync(flags.model), flags.model), { engine: "fixed" }), { push: (_t, x) => x[0] === trap });
const log = (record: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(record)}\n`);
const gateway = await Gateway.open({
  engine,
  layout: demoLayout(),
  fingerprint: { model: "faulty-gateway", engine: engine.kind, sensors: "demo" },
  broker: flags.broker,
  prefix: flags.prefix,
  shards: flags.shards,
  instance: 0,
  instances: 1,
  clientId: `faulty-${flags.prefix}`,
  stateDir: flags.state,
  publish: "every",
  changeThreshold: 0,
  publishIntervalMs: 1000,
  // no snapshot but the ones at start and stop: a kill leaves every message since the start in the WAL
  snapshotIntervalMs: 3_600_000,
  healthIntervalMs: 3_600_000,
  timePolicy: "reject",
  onBadState: "fail",
  maxDevicesPerShard: 1000,
  maxReadings: 1000,
  maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
  learning: null,
  outputQos: 1,
  walSync: false,
  log,
});
process.once("SIGTERM", () => void gateway.stop());
log((await gateway.run()) as unknown as Record<string, unknown>);
