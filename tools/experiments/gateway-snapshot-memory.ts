/**
 * The memory a gateway's snapshot round holds (docs/gateway.md, "State on disk"). A child process writes a state
 * of --devices devices of the demo model over --shards shards; this process starts a gateway on it in process
 * (Gateway.open: every shard loaded, then a round of all of them) and stops it (a last round of all of them), with
 * no broker. Measured, in this process:
 *   - the live heap (heapUsed + arrayBuffers right after full GCs) right after the round captured each shard's
 *     state (Shard.prototype.capture wrapped here), against the live heap just before the stop (the devices
 *     themselves): what the round holds then is the shard just captured and whatever it still holds of the shards
 *     before, whatever V8 would have collected when. A timer's samples instead took 380 s for 200,000 devices (a
 *     full GC every time the round waited for the disk); these are a few per shard;
 *   - the resident memory's peak over the whole process (getrusage maxrss; the start's round included), against
 *     the resident memory after the stop.
 *
 *   node --expose-gc --import tsx tools/experiments/gateway-snapshot-memory.ts [--devices 200000] [--shards 16] [--unsampled] [--json]
 */
import "../../host/node.js";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseFlags } from "../cli/command.js";
import { Gateway } from "../../host/gateway/gateway.js";
import { Shard } from "../../host/gateway/shard.js";
import { encodeSnapshot, shardDirectory, type DeviceRecord } from "../../host/gateway/state.js";
import { shardOf } from "../../host/gateway/topics.js";
import { demoEngine, demoGatewayConfig } from "../../test/support/gateway.js";

const FLAGS = {
  devices: { kind: "number", integer: true, min: 1, default: 200_000, help: "devices in the state" },
  shards: { kind: "number", integer: true, min: 1, max: 1024, default: 16, help: "shards they are spread over" },
  unsampled: { kind: "boolean", help: "no live-heap samples: the stop's round at its own speed" },
  build: { kind: "string", value: "DIR", help: "only write the state into DIR (the child process)" },
  json: { kind: "boolean", help: "print one JSON line instead of the table" },
} as const;

const FINGERPRINT = { model: "demo", engine: "fixed", sensors: "demo" };
const MB = 1 << 20;

const { flags } = parseFlags(process.argv.slice(2), FLAGS);
const engine = await demoEngine();

if (flags.build !== undefined) {
  // every device one reading in: a stream's state, held values, a last time, counters as a gateway keeps them
  const stream = engine.createStream();
  stream.push(1000, [0.1, 0.2, 0.3, 0]);
  const bytes = stream.snapshot();
  const counters = { accepted: 1, clamped: 0, unknownSensor: 0, wrongChannels: 0, nonFinite: 0, timeBackwards: 0, timeRange: 0, malformed: 0, badLabel: 0, duplicates: 0, seqGaps: 0, engineError: 0, labelsIgnored: 0, resets: 0, restarts: 0 };
  const devices: DeviceRecord[][] = Array.from({ length: flags.shards }, () => []);
  for (let k = 0; k < flags.devices; k++) {
    const id = `device-${k}`;
    devices[shardOf(id, flags.shards)].push({ id, lastSeq: 1, input: { held: [0, 0, 0, 0], lastT: 1000 }, counters, published: null, unpublished: null, stream: bytes, readout: null });
  }
  devices.forEach((list, shard) => {
    const folder = shardDirectory(flags.build as string, shard);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, "snapshot.bin"), encodeSnapshot({ fingerprint: { ...FINGERPRINT, shards: flags.shards, shard }, cut: 0, counters: {}, devices: list }));
  });
  process.exit(0);
}

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("gateway-snapshot-memory: run it with node --expose-gc (see the header)");
const dir = mkdtempSync(join(tmpdir(), "phasor-snapshot-memory-"));
try {
  const state = join(dir, "state");
  const built = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--build", state, "--devices", String(flags.devices), "--shards", String(flags.shards)], { stdio: "inherit" });
  if (built.status !== 0) throw new Error(`gateway-snapshot-memory: building the state failed (exit ${built.status})`);
  const fileBytes = Array.from({ length: flags.shards }, (_, s) => statSync(join(shardDirectory(state, s), "snapshot.bin")).size);

  const live = () => {
    // twice: V8 frees the backing stores of dead ArrayBuffers after a GC, concurrently; the next GC finishes that
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const began = Date.now();
  const gateway = await Gateway.open(demoGatewayConfig(engine, { fingerprint: FINGERPRINT, broker: "mqtt://127.0.0.1:1", prefix: "memory", shards: flags.shards, clientId: "snapshot-memory", stateDir: state, log: () => undefined }));
  const openMs = Date.now() - began;
  const devicesHeap = live();
  let peak = 0;
  const capture = Shard.prototype.capture;
  if (!flags.unsampled) {
    Shard.prototype.capture = function (this: Shard, ...args) {
      const snapshot = capture.apply(this, args);
      peak = Math.max(peak, live());
      return snapshot;
    };
  }
  const stopped = await gateway.stop();
  const roundPeak = peak;
  const rssAfter = process.memoryUsage().rss;
  const maxRss = process.resourceUsage().maxRSS * 1024;
  const result = {
    devices: stopped.devices,
    shards: flags.shards,
    snapshotMBPerShard: +(fileBytes.reduce((a, b) => a + b, 0) / flags.shards / MB).toFixed(1),
    openMs,
    stopRoundMs: stopped.snapshots.lastMs,
    liveHeapBeforeStopMB: +(devicesHeap / MB).toFixed(1),
    ...(flags.unsampled ? {} : { liveHeapPeakInStopRoundMB: +(roundPeak / MB).toFixed(1), heldByStopRoundMB: +((roundPeak - devicesHeap) / MB).toFixed(1) }),
    rssAfterStopMB: +(rssAfter / MB).toFixed(0),
    maxRssMB: +(maxRss / MB).toFixed(0),
  };
  if (flags.json) console.log(JSON.stringify(result));
  else {
    console.log(`snapshot round memory, ${result.devices} devices over ${result.shards} shards (demo model, H=16), ${result.snapshotMBPerShard} MB of snapshot a shard`);
    console.log(`  start (load and a round): ${openMs} ms; stop's round${flags.unsampled ? "" : " (slowed by the GCs of the sampling)"}: ${result.stopRoundMs} ms`);
    if (!flags.unsampled) {
      console.log(`  live heap (heapUsed + arrayBuffers after full GCs): ${result.liveHeapBeforeStopMB} MB before the stop, at most ${result.liveHeapPeakInStopRoundMB} MB just after a capture in the stop's round: the round held ${result.heldByStopRoundMB} MB`);
    }
    console.log(`  resident: peak ${result.maxRssMB} MB over the process, ${result.rssAfterStopMB} MB after the stop`);
  }
} finally {
  engine.dispose();
  rmSync(dir, { recursive: true, force: true });
}
