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
import { demoGatewayConfig, faultyEngine } from "./gateway.js";

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
const gateway = await Gateway.open(
  demoGatewayConfig(engine, {
    fingerprint: { model: "faulty-gateway", engine: engine.kind, sensors: "demo" },
    broker: flags.broker,
    prefix: flags.prefix,
    shards: flags.shards,
    clientId: `faulty-${flags.prefix}`,
    stateDir: flags.state,
    // no snapshot but the ones at start and stop: a kill leaves every message since the start in the WAL
    snapshotIntervalMs: 3_600_000,
    log,
  }),
);
process.once("SIGTERM", () => void gateway.stop());
log((await gateway.run()) as unknown as Record<string, unknown>);
