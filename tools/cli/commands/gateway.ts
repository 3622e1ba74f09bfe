/**
 * `phasor gateway`: the sensor gateway over MQTT (docs/gateway.md). Runs until SIGTERM or SIGINT, then stops
 * gracefully (last snapshot, locks released) and exits 0. Its log is NDJSON on stdout: "ready", "health" at an
 * interval, state problems, connection changes, and a last "stopped" line with the final counters.
 */
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { createEngine } from "../../../host/engine/create.js";
import { PhasorError } from "../../../host/errors.js";
import { checkPrefix, ownedShards } from "../../../host/gateway/topics.js";
import { sensorLayoutToJson } from "../../../host/gateway/sensors.js";
import { defineCommand } from "../command.js";
import { Gateway } from "../../../host/gateway/gateway.js";
import { DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_MAX_READINGS } from "../../../host/gateway/payload.js";
import { C_MIN as LEARNING_C_MIN, DEFAULT_C, ETA_MAX as LEARNING_ETA_MAX, ETA_MIN as LEARNING_ETA_MIN } from "../../../host/engine/readout-learning.js";
import { ioReason, makeFolder } from "../../../host/files.js";
import { ENGINE_FLAGS, loadModelFile, readModelFile } from "../model-file.js";
import { sensorDeclaration, sensorLayoutOf } from "../sensor-declaration.js";

export const command = defineCommand({
  usage:
    "--model M --state DIR [--broker URL] [--sensors S.json] [--prefix P] [--shards N] [--instance K --instances N] " +
    "[--publish every|change|interval] [--snapshot-interval MS] [...]",
  description:
    "Subscribes to <prefix>/in/<shard>/<device>/<sensor> for the shards this instance owns, keeps one stream per\n" +
    "device on one shared engine, and publishes predictions on <prefix>/out/<shard>/<device> and its health on\n" +
    "<prefix>/health/<instance> (retained), and what it refuses, with the reasons, on <prefix>/dead/<shard>/<device>.\n" +
    "A reading is {\"seq\": n, \"t\": time, \"v\": [values], \"ts\": publish ms} (seq: the device's increasing sequence\n" +
    "number, required; ts optional, for lag); several are {\"seq\": n, \"readings\": [{\"t\", \"v\", \"sensor\"?}, ...]}, numbered\n" +
    "n, n+1 and so on; {\"seq\": n, \"reset\": true} starts a device's stream again (a clock that jumped ahead).\n" +
    "A device that cannot keep seq across its own restarts sends \"boot\" (its run's id, drawn at each boot) in\n" +
    "every message, and seq counts within the run.\n" +
    "A reading may carry a \"label\" (a class, or target values): with --learn-rate the device's\n" +
    "readout learns from it on the gateway (docs/on-device-learning.md). State is kept per shard in --state,\n" +
    "restored on start; see docs/gateway.md for the topic\n" +
    "layout, sharding and the restart guarantees.\n" +
    "Log: NDJSON on stdout. Stops gracefully on SIGTERM or SIGINT.",
  flags: {
    model: { kind: "string", required: true, value: "M", help: "float model (.json) or quantized model (.plsm)" },
    state: { kind: "string", required: true, value: "DIR", help: "directory of the owned shards' snapshots and WALs" },
    broker: { kind: "string", value: "URL", help: "MQTT broker (default mqtt://127.0.0.1:1883)" },
    sensors: { kind: "string", value: "S.json", help: "sensor declaration (default: the model's own, a JSON model's \"sensors\" field or a .plsm's metadata \"sensors\", else one sensor \"x\" of all inputs)" },
    ...ENGINE_FLAGS,
    prefix: { kind: "string", value: "P", help: "topic prefix (default phasor)" },
    shards: { kind: "number", integer: true, min: 1, default: 16, help: "shards of the deployment (the same for every gateway and publisher)" },
    instance: { kind: "number", integer: true, min: 0, default: 0, help: "this gateway's index: it owns the shards s with s mod instances = instance" },
    instances: { kind: "number", integer: true, min: 1, default: 1, help: "gateways of the deployment" },
    "client-id": { kind: "string", value: "ID", help: "MQTT client id, the key of the persistent session (default phasor-<prefix>-<instance>of<instances>-<shards>)" },
    publish: { kind: "enum", values: ["every", "change", "interval"], default: "every", help: "publish a prediction after every reading, on a change, or at an interval" },
    "change-threshold": { kind: "number", min: 0, default: 0.05, help: "--publish change: publish when the argmax changes or an output moves by more" },
    "publish-interval": { kind: "number", integer: true, min: 1, default: 1000, help: "--publish interval: ms between publications of each changed device" },
    "snapshot-interval": { kind: "number", integer: true, min: 10, default: 5000, help: "ms between snapshots of the changed shards" },
    "health-interval": { kind: "number", integer: true, min: 10, default: 10000, help: "ms between health reports" },
    "time-policy": { kind: "enum", values: ["reject", "clamp"], default: "reject", help: "a reading earlier than its device's previous one is refused, or applied at the previous time" },
    "on-bad-state": { kind: "enum", values: ["fail", "reset"], default: "fail", help: "missing, corrupt or incompatible state: refuse to start, or quarantine it and start the shard afresh" },
    "max-devices": { kind: "number", integer: true, min: 1, default: 100000, help: "devices per shard (a device counts from its first applied reading); messages of further devices are refused" },
    "max-readings": { kind: "number", integer: true, min: 1, default: DEFAULT_MAX_READINGS, help: "readings one message may carry; a longer message is refused as malformed" },
    "max-payload-bytes": { kind: "number", integer: true, min: 1, default: DEFAULT_MAX_PAYLOAD_BYTES, help: "bytes one message may hold; a larger message is refused as malformed before it is decoded, and the WAL keeps its first 64 KiB" },
    "qos-out": { kind: "enum", values: ["0", "1"], default: "1", help: "QoS of the predictions" },
    "wal-sync": { kind: "boolean", help: "fdatasync the WAL after every message (survives power loss, not only a crash; slower)" },
    "learn-rate": { kind: "number", min: LEARNING_ETA_MIN, max: LEARNING_ETA_MAX, help: "learn from labelled readings: each device's readout takes a step of this size (capped, fixed engine); without it labels are counted, not learned from" },
    "learn-c": { kind: "number", min: LEARNING_C_MIN, max: 1, default: DEFAULT_C, help: "--learn-rate: the cap's factor c, each step at most c 2 / lambda of its reading" },
  },

  async run(flags, io) {
    const prefix = flags.prefix ?? "phasor";
    checkPrefix(prefix);
    ownedShards(flags.instance, flags.instances, flags.shards);
    const broker = flags.broker ?? "mqtt://127.0.0.1:1883";
    if (!/^(mqtts?|tcp|ssl|wss?):\/\//.test(broker)) throw new PhasorError("bad-args", `--broker ${broker}: expected a URL such as mqtt://127.0.0.1:1883`);

    await checkStateDirectory(flags.state);
    // read once: the fingerprint is of the bytes the model came from
    const modelBytes = readModelFile(flags.model);
    const loaded = await loadModelFile(flags.model, modelBytes);
    const layout = sensorLayoutOf(sensorDeclaration(flags.sensors, loaded, modelBytes), loaded.model.inputSize);
    const engine = await createEngine(loaded, { engine: flags.engine, simd: flags.simd });
    if (flags["learn-rate"] !== undefined && engine.kind !== "fixed") {
      engine.dispose();
      throw new PhasorError("bad-args", `--learn-rate: the ${engine.kind} engine does not learn; the fixed engine (a .plsm model) does`);
    }
    const log = (record: Record<string, unknown>) => io.stdout.write(`${JSON.stringify(record)}\n`);
    try {
      const gateway = await Gateway.open({
        engine,
        layout,
        // the declaration as the gateway runs it, wherever it came from (--sensors, the model's own, the default):
        // the same configuration is the same fingerprint. The model is its file's bytes, metadata included, as the
        // wasm engines' stream snapshots hold its checksum: a .plsm quantized again to carry a declaration is
        // another file, whose engine would refuse the old streams
        fingerprint: { model: sha256(modelBytes), engine: engine.kind, sensors: sha256(JSON.stringify(sensorLayoutToJson(layout))) },
        broker,
        prefix,
        shards: flags.shards,
        instance: flags.instance,
        instances: flags.instances,
        clientId: flags["client-id"] ?? `phasor-${prefix.replaceAll("/", "-")}-${flags.instance}of${flags.instances}-${flags.shards}`,
        stateDir: flags.state,
        publish: flags.publish,
        changeThreshold: flags["change-threshold"],
        publishIntervalMs: flags["publish-interval"],
        snapshotIntervalMs: flags["snapshot-interval"],
        healthIntervalMs: flags["health-interval"],
        timePolicy: flags["time-policy"],
        onBadState: flags["on-bad-state"],
        maxDevicesPerShard: flags["max-devices"],
        maxReadings: flags["max-readings"],
        maxPayloadBytes: flags["max-payload-bytes"],
        learning: flags["learn-rate"] === undefined ? null : { eta: flags["learn-rate"], c: flags["learn-c"] },
        outputQos: flags["qos-out"] === "0" ? 0 : 1,
        walSync: flags["wal-sync"],
        log,
      });
      // the one place the gateway meets the process: signals end it gracefully
      const stop = () => void gateway.stop();
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
      try {
        log((await gateway.run()) as unknown as Record<string, unknown>);
      } finally {
        process.off("SIGTERM", stop);
        process.off("SIGINT", stop);
      }
    } finally {
      engine.dispose();
    }
  },
});

/**
 * --state must be a directory, or a path where one can be made: said in one line, before any shard is touched.
 * makeFolder, not a recursive mkdir, which never returns under /proc and says "no such file" on a read-only disk.
 */
async function checkStateDirectory(path: string): Promise<void> {
  let isDirectory: boolean | undefined;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new PhasorError("bad-args", `--state ${path}: ${ioReason(err)}`);
  }
  if (isDirectory === false) throw new PhasorError("bad-args", `--state ${path}: not a directory (the gateway keeps a folder per shard in it)`);
  if (isDirectory === undefined) await makeFolder(path, "--state");
}

function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}
