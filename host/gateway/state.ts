/**
 * What a gateway keeps on disk for each shard it owns (docs/gateway.md, "State on disk"), in `<state>/shard-<s>/`:
 *
 * - `snapshot.bin`: every device of the shard at one cut (WAL entry number): stream state bytes, the adapted
 *   readout's bytes (a device that learned from labels), encoder state, last applied sequence number and the runs
 *   it counts in (`boot`, `pastBoots`), counters.
 *   Written atomically (host/files.ts), checked on load by magic, version,
 *   lengths and a CRC-32 over the whole file, and by a fingerprint of the model, engine, sensors and sharding.
 * - `wal-<first entry>.log`: every message the shard received since, one line each (`crc32hex json`), written
 *   before the message is acknowledged to the broker. A new segment starts at each snapshot; a segment is deleted
 *   once a snapshot covers it and every prediction it published has been acknowledged by the broker.
 * Beside it, `shard-<s>.lock` holds the pid of the gateway that owns the shard. Node-only.
 * While the gateway runs, these files are watched for removal and replacement (shardDamage, ShardLog's link-count
 * check) and made whole again from memory (remakeShardFolder and a snapshot): docs/gateway.md, "Damage while running".
 */
import { constants as bufferConstants } from "node:buffer";
import { closeSync, existsSync, fdatasyncSync, fstatSync, lstatSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, truncateSync, writeSync, mkdirSync, type Stats } from "node:fs";
import { basename, dirname, join } from "node:path";
import { crc32 } from "node:zlib";
import { PhasorError } from "../errors.js";
import { NAME_PATTERN, type DeviceInputState } from "./sensors.js";
import { BOOT_PATTERN, MAX_PAST_BOOTS } from "./payload.js";
import { UnfitFileError, ioReason, openRegularFile, readWholeFile, removeStalePartialFiles, writeFileAtomically, type WholeFileKind } from "../files.js";

/** What a shard's state must match to be loaded: a snapshot of another model or sharding is never restored. */
export interface Fingerprint {
  /** sha256 of the model file's bytes, hex */
  model: string;
  engine: string;
  /** sha256 of the sensor declaration as JSON, hex */
  sensors: string;
  shards: number;
  shard: number;
}

export interface DeviceRecord {
  id: string;
  /** the highest sequence number seen (applied or refused) in the current run, -1 before the first */
  lastSeq: number;
  /** the current run's id; left out for the run "" (messages without `boot`) */
  boot?: string;
  /** the runs before it, the most recent first, 1 to MAX_PAST_BOOTS; left out when there are none */
  pastBoots?: string[];
  input: DeviceInputState;
  counters: Record<string, number>;
  /** the last published prediction (publish mode "change"), null before the first */
  published: number[] | null;
  /** the reading whose prediction waits for the next tick (publish mode "interval"), null when none waits */
  unpublished: UnpublishedReading | null;
  /** Stream.snapshot() */
  stream: Uint8Array;
  /** the device's adapted readout (ReadoutLearning.save()), null while it uses the model's */
  readout: Uint8Array | null;
}

/** The reading a device's latest prediction answers: its sequence number and run, the time it ran at, its `ts`. */
export interface UnpublishedReading {
  seq: number;
  /** the run `seq` counts in, left out for the run "" (snapshot version 3) */
  boot?: string;
  t: number;
  ts?: number;
}

export interface ShardSnapshot {
  fingerprint: Fingerprint;
  /** the last WAL entry whose effect the snapshot includes (0: none) */
  cut: number;
  /** counters of messages that belong to no device (bad topics, wrong shard, too many devices) */
  counters: Record<string, number>;
  devices: DeviceRecord[];
}

export type StateProblem = "missing" | "corrupt" | "incompatible" | "locked";

/** A shard's state that cannot be loaded as it is; `problem` says which policy applies (docs/gateway.md). */
export class BadStateError extends PhasorError {
  constructor(
    readonly shard: number,
    readonly problem: StateProblem,
    message: string,
  ) {
    super("runtime", `shard ${shard}: ${problem} state: ${message}`);
  }
}

const MAGIC = 0x53574750; // "PGWS" little-endian
/**
 * Version 2 added the devices' adapted readouts, version 3 their runs (`boot`, `pastBoots`); snapshots of versions
 * 1 (no readouts) and 2 (no runs: every device in the run "") are still read.
 */
const VERSION = 3;

/**
 * magic u32 | version u32 | header length u32 | header (UTF-8 JSON) | for every device, in the header's order,
 * its stream bytes and then its readout bytes (`bytes` and `readoutBytes` in its header entry; 0 readout bytes:
 * the model's readout) | CRC-32 u32 of everything before it. All integers little-endian. Version 1 had no readout,
 * versions 1 and 2 no `boot` and `pastBoots` in a device's entry.
 */
export function encodeSnapshot(snapshot: ShardSnapshot): Uint8Array {
  const header = new TextEncoder().encode(
    JSON.stringify({
      fingerprint: snapshot.fingerprint,
      cut: snapshot.cut,
      counters: snapshot.counters,
      devices: snapshot.devices.map((d) => ({
        id: d.id,
        lastSeq: d.lastSeq,
        ...(d.boot === undefined ? {} : { boot: d.boot }),
        ...(d.pastBoots === undefined ? {} : { pastBoots: d.pastBoots }),
        input: d.input,
        counters: d.counters,
        published: d.published,
        ...(d.unpublished === null ? {} : { unpublished: d.unpublished }),
        bytes: d.stream.length,
        readoutBytes: d.readout?.length ?? 0,
      })),
    }),
  );
  const streamBytes = snapshot.devices.reduce((sum, d) => sum + d.stream.length + (d.readout?.length ?? 0), 0);
  const bytes = new Uint8Array(12 + header.length + streamBytes + 4);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, header.length, true);
  bytes.set(header, 12);
  let at = 12 + header.length;
  for (const d of snapshot.devices) {
    bytes.set(d.stream, at);
    at += d.stream.length;
    if (d.readout) bytes.set(d.readout, at);
    at += d.readout?.length ?? 0;
  }
  view.setUint32(at, crc32(bytes.subarray(0, at)), true);
  return bytes;
}

/** The snapshot in `bytes`, or a "corrupt" BadStateError saying what is wrong; nothing is trusted before the CRC. */
export function decodeSnapshot(bytes: Uint8Array, shard: number, source: string): ShardSnapshot {
  const corrupt = (why: string) => new BadStateError(shard, "corrupt", `${source}: ${why}`);
  if (bytes.length < 16) throw corrupt(`${bytes.length} bytes is too short for a snapshot`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw corrupt("not a gateway snapshot (bad magic)");
  const version = view.getUint32(4, true);
  if (version < 1 || version > VERSION) throw corrupt(`unsupported snapshot version ${version}`);
  if (view.getUint32(bytes.length - 4, true) !== crc32(bytes.subarray(0, bytes.length - 4))) throw corrupt("checksum mismatch: the file is damaged or truncated");
  const headerLength = view.getUint32(8, true);
  if (12 + headerLength > bytes.length - 4) throw corrupt("header length past the end of the file");
  let header: {
    fingerprint: Fingerprint;
    cut: number;
    counters: Record<string, number>;
    devices: (Omit<DeviceRecord, "stream" | "readout" | "unpublished"> & { unpublished?: UnpublishedReading; bytes: number; readoutBytes?: number })[];
  };
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(12, 12 + headerLength)));
  } catch (err) {
    throw corrupt(`header is not JSON (${(err as Error).message})`);
  }
  // the CRC says the file is what a gateway wrote, not that a gateway wrote it: every field is checked before use
  if (!isObject(header) || !Number.isSafeInteger(header.cut) || header.cut < 0 || !Array.isArray(header.devices) || !isObject(header.fingerprint)) {
    throw corrupt("header lacks a cut, a fingerprint or the device list");
  }
  if (!isCounters(header.counters)) throw corrupt("the shard's counters are not counts");
  let at = 12 + headerLength;
  const devices = header.devices.map((d, n): DeviceRecord => {
    const why = deviceProblem(d, version);
    if (why !== null) throw corrupt(`device ${n}: ${why}`);
    const readoutBytes = d.readoutBytes ?? 0;
    if (at + d.bytes + readoutBytes > bytes.length - 4) throw corrupt(`device ${d.id}: state length past the end of the file`);
    const stream = new Uint8Array(bytes.buffer.slice(bytes.byteOffset + at, bytes.byteOffset + at + d.bytes));
    at += d.bytes;
    const readout = readoutBytes > 0 ? new Uint8Array(bytes.buffer.slice(bytes.byteOffset + at, bytes.byteOffset + at + readoutBytes)) : null;
    at += readoutBytes;
    const record: DeviceRecord = { id: d.id, lastSeq: d.lastSeq, input: d.input, counters: d.counters, published: d.published, unpublished: d.unpublished ?? null, stream, readout };
    if (d.boot !== undefined) record.boot = d.boot;
    if (d.pastBoots !== undefined) record.pastBoots = d.pastBoots;
    return record;
  });
  if (at !== bytes.length - 4) throw corrupt(`${bytes.length - 4 - at} bytes after the last device`);
  return { fingerprint: header.fingerprint, cut: header.cut, counters: header.counters, devices };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCounters(value: unknown): value is Record<string, number> {
  return isObject(value) && Object.values(value).every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
}

function isUnpublished(value: unknown, version: number): value is UnpublishedReading {
  if (!isObject(value) || !Number.isSafeInteger(value.seq) || (value.seq as number) < 0) return false;
  if (value.boot !== undefined && !(version >= 3 && isRun(value.boot))) return false;
  const finite = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  return finite(value.t) && (value.ts === undefined || finite(value.ts));
}

function isFiniteArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => typeof v === "number" && Number.isFinite(v));
}

/** A run's id as the snapshots write it: the run "" is left out. */
function isRun(value: unknown): value is string {
  return typeof value === "string" && BOOT_PATTERN.test(value);
}

/** What is wrong with a device's entry in a snapshot header of this version, or null. */
function deviceProblem(d: unknown, version: number): string | null {
  if (!isObject(d)) return "not an object";
  if (typeof d.id !== "string" || !NAME_PATTERN.test(d.id)) return "its id is not a device name";
  if (!Number.isSafeInteger(d.lastSeq) || (d.lastSeq as number) < -1) return `${d.id}: lastSeq is not a sequence number`;
  const runs = runsProblem(d, version);
  if (runs !== null) return `${d.id}: ${runs}`;
  const input = d.input;
  if (!isObject(input) || !isFiniteArray(input.held) || !(input.lastT === null || (typeof input.lastT === "number" && Number.isFinite(input.lastT)))) {
    return `${d.id}: the encoder state is not finite held values and a last time`;
  }
  if (!isCounters(d.counters)) return `${d.id}: its counters are not counts`;
  if (!(d.published === null || isFiniteArray(d.published))) return `${d.id}: its last published prediction is not finite numbers`;
  if (d.unpublished !== undefined && !isUnpublished(d.unpublished, version)) return `${d.id}: its prediction waiting for the next tick is not a reading's seq, run, t and ts`;
  if (!Number.isSafeInteger(d.bytes) || (d.bytes as number) < 0) return `${d.id}: its state length is not a byte count`;
  if (version === 1 ? d.readoutBytes !== undefined : !Number.isSafeInteger(d.readoutBytes) || (d.readoutBytes as number) < 0) {
    return `${d.id}: its readout length is not a byte count`;
  }
  return null;
}

/**
 * What is wrong with a device entry's runs, or null: a gateway writes `boot` only for a run with an id and
 * `pastBoots` only when there are some, each run once (the current one not among them), at most MAX_PAST_BOOTS.
 */
function runsProblem(d: Record<string, unknown>, version: number): string | null {
  if (d.boot === undefined && d.pastBoots === undefined) return null;
  if (version < 3) return `boot and pastBoots are not fields of a version ${version} snapshot`;
  if (d.boot !== undefined && !isRun(d.boot)) return `boot is not a run's id (1 to 64 characters of A-Z a-z 0-9 . _ : -; the run "" is left out)`;
  if (d.pastBoots === undefined) return null;
  const past = d.pastBoots;
  if (!Array.isArray(past) || past.length === 0 || past.length > MAX_PAST_BOOTS || !past.every((run) => run === "" || isRun(run))) {
    return `pastBoots is not a list of 1 to ${MAX_PAST_BOOTS} runs' ids`;
  }
  const twice = past.find((run, k) => past.indexOf(run) !== k);
  if (twice !== undefined) return `pastBoots holds the run ${JSON.stringify(twice)} twice`;
  if (past.includes(d.boot ?? "")) return `pastBoots holds its current run ${JSON.stringify(d.boot ?? "")}`;
  return null;
}

/** A message the gateway publishes (a prediction or a dead letter), as the WAL records it. */
export interface WalOut {
  topic: string;
  payload: string;
}

/** One message as the WAL keeps it: entry number, topic, payload bytes, and what it published. */
export interface WalEntry {
  e: number;
  topic: string;
  payload: Uint8Array;
  /** the message's size as received, where `payload` is only its first bytes (a message refused for its size) */
  bytes?: number;
  /** the predictions and dead letters published for it */
  outs?: WalOut[];
  /** the engine failed on it: a replay refuses it again without running it (host/gateway/shard.ts) */
  failed?: boolean;
}

/** A WAL file: its first and last entry, and how many of its predictions still wait for the broker's ack. */
export class WalSegment {
  lastE: number;
  /** predictions published (QoS 1) for its entries that the broker has not acknowledged yet */
  pending = 0;
  fd: number | null = null;
  /**
   * Its file is no longer in the shard's folder (removed, or the folder with it, while the gateway ran) or could
   * not be made there (the folder is gone): its entries are on no disk a restart reads, so the gateway writes the
   * shard's snapshot before it acknowledges the message (docs/gateway.md, "Damage while running").
   */
  lost = false;

  constructor(
    readonly path: string,
    readonly firstE: number,
  ) {
    this.lastE = firstE - 1;
  }
}

/** segmentName's names */
const WAL_NAME = /^wal-\d{15}\.log$/;

function segmentName(firstE: number): string {
  return `wal-${String(firstE).padStart(15, "0")}.log`;
}

function walLine(entry: WalEntry): string {
  const json = JSON.stringify({
    e: entry.e,
    topic: entry.topic,
    p: Buffer.from(entry.payload).toString("base64"),
    ...(entry.bytes !== undefined ? { bytes: entry.bytes } : {}),
    ...(entry.outs && entry.outs.length > 0 ? { outs: entry.outs } : {}),
    ...(entry.failed ? { failed: true } : {}),
  });
  return `${crc32(json).toString(16).padStart(8, "0")} ${json}\n`;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isOut(value: unknown): value is WalOut {
  return isObject(value) && typeof value.topic === "string" && typeof value.payload === "string";
}

/** A WAL line's JSON as an entry, or undefined when it is not one. Lines of earlier versions had one `out`. */
function walEntry(json: unknown): WalEntry | undefined {
  if (!isObject(json) || !Number.isSafeInteger(json.e) || (json.e as number) < 1 || typeof json.topic !== "string") return undefined;
  if (typeof json.p !== "string" || json.p.length % 4 !== 0 || !BASE64.test(json.p)) return undefined;
  const outs = json.outs ?? (json.out === undefined ? [] : [json.out]);
  if (!Array.isArray(outs) || !outs.every(isOut)) return undefined;
  if (json.failed !== undefined && typeof json.failed !== "boolean") return undefined;
  const payload = Buffer.from(json.p, "base64");
  if (json.bytes !== undefined && !(Number.isSafeInteger(json.bytes) && (json.bytes as number) > payload.length)) return undefined;
  const entry: WalEntry = { e: json.e as number, topic: json.topic, payload, outs, failed: json.failed === true };
  if (json.bytes !== undefined) entry.bytes = json.bytes as number;
  return entry;
}

/** The least time between two checks that a shard's open WAL segment still has a name. */
const WAL_CHECK_MS = 10;

/** The WAL of one shard: append-only segments, rotated at each snapshot. */
export class ShardLog {
  /** segments before the current one, oldest first, each waiting for a snapshot or for its predictions' acks */
  readonly closed: WalSegment[] = [];
  private current: WalSegment | null = null;
  /** when (Date.now()) an entry's write last checked that the open segment's file still has a name */
  private checkedAt = -Infinity;

  constructor(
    readonly dir: string,
    /** fdatasync after every entry: survives power loss, not just a crash of the process, at a cost per message */
    private readonly syncEachEntry: boolean,
  ) {}

  /**
   * Writes the entry (one write(2): a crashed process leaves it whole in the page cache) and returns its segment.
   * A failed or short write (a full disk) is a PhasorError: the caller must stop before acknowledging anything,
   * and the part written is the torn last line that the next start drops.
   */
  append(entry: WalEntry): WalSegment {
    if (this.current === null) {
      const segment = new WalSegment(join(this.dir, segmentName(entry.e)), entry.e);
      try {
        segment.fd = openSync(segment.path, "a");
      } catch (err) {
        if (!isGone(err)) throw new PhasorError("runtime", `${segment.path}: cannot open the WAL: ${ioReason(err)}`);
        // the shard's folder is gone: a segment that is not the current one, so the next entry tries again
        segment.lost = true;
        segment.lastE = entry.e;
        return segment;
      }
      this.current = segment;
    }
    const segment = this.current;
    const line = Buffer.from(walLine(entry));
    const written = io(segment.path, "write the WAL", () => writeSync(segment.fd as number, line));
    if (written !== line.length) throw new PhasorError("runtime", `${segment.path}: cannot write the WAL: ${written} of ${line.length} bytes written (disk full?)`);
    if (this.syncEachEntry) io(segment.path, "sync the WAL", () => fdatasyncSync(segment.fd as number));
    segment.lastE = entry.e;
    // an entry written to a removed file would otherwise be acknowledged with nothing on disk until the next
    // snapshot round noticed; an fstat per entry cost 3 to 5 % of the throughput (docs/gateway.md, "Damage while
    // running"), so at most one every WAL_CHECK_MS: entries acknowledged in between are found by the next check or
    // round and are in the repair's snapshot, like those acknowledged before the file was removed
    const now = Date.now();
    if (now - this.checkedAt >= WAL_CHECK_MS) {
      this.checkedAt = now;
      if (this.isLost(segment)) segment.lost = true;
    }
    return segment;
  }

  /** The open segment when its file has been removed (it has no name left), else null. */
  lostSegment(): WalSegment | null {
    return this.current !== null && this.isLost(this.current) ? this.current : null;
  }

  private isLost(segment: WalSegment): boolean {
    return io(segment.path, "check the WAL", () => fstatSync(segment.fd as number).nlink) === 0;
  }

  /** Every segment the log still keeps, the open one last. */
  get segments(): WalSegment[] {
    return this.current ? [...this.closed, this.current] : [...this.closed];
  }

  /** Ends the current segment: the next entry starts a new file. */
  rotate(): void {
    if (this.current === null) return;
    const segment = this.current;
    io(segment.path, "close the WAL", () => closeSync(segment.fd as number));
    this.current.fd = null;
    this.closed.push(this.current);
    this.current = null;
  }

  /** Deletes the closed segments that a snapshot at `cut` covers and whose predictions are all acknowledged. */
  cleanup(cut: number): void {
    while (this.closed.length > 0 && this.closed[0].lastE <= cut && this.closed[0].pending === 0) {
      const { path } = this.closed.shift() as WalSegment;
      io(path, "delete a WAL segment", () => rmSync(path, { force: true }));
    }
  }

  /** entries not yet deleted, and the number of files */
  get size(): { segments: number; entries: number } {
    const all = this.segments;
    return { segments: all.length, entries: all.reduce((n, s) => n + s.lastE - s.firstE + 1, 0) };
  }

  close(): void {
    this.rotate();
  }
}

/** A shard's state as found on disk: the snapshot (empty for a new shard) and the WAL's segments with their entries. */
export interface LoadedShard {
  snapshot: ShardSnapshot;
  segments: { segment: WalSegment; entries: WalEntry[] }[];
  /** the last line of the last segment was cut short (a write torn by a power loss) and was dropped */
  tornTail: boolean;
}

export function shardDirectory(stateDir: string, shard: number): string {
  return join(stateDir, `shard-${shard}`);
}

/**
 * Loads a shard's state, checking everything before anything is used: the snapshot's integrity and fingerprint,
 * and that the WAL continues the snapshot without a gap. Throws a BadStateError for missing, corrupt or
 * incompatible state. A shard without a directory is new: it gets one, with an empty snapshot, created whole
 * (written beside it and renamed), so that a directory without a snapshot always means a lost snapshot.
 */
export async function loadShard(stateDir: string, fingerprint: Fingerprint): Promise<LoadedShard> {
  const { shard } = fingerprint;
  const dir = shardDirectory(stateDir, shard);
  removeLeftovers(stateDir, shard);
  if (!existsSync(dir)) {
    const fresh = `${dir}.new-${process.pid}`;
    io(fresh, "create the shard's directory", () => {
      rmSync(fresh, { recursive: true, force: true });
      mkdirSync(fresh, { recursive: true });
    });
    await writeFileAtomically(join(fresh, "snapshot.bin"), encodeSnapshot({ fingerprint, cut: 0, counters: {}, devices: [] }));
    io(dir, "create the shard's directory", () => renameSync(fresh, dir));
  }
  const path = join(dir, "snapshot.bin");
  if (!existsSync(path)) throw new BadStateError(shard, "missing", `${path} does not exist, but the shard has state (its directory)`);
  const snapshot = decodeSnapshot(stateFile(shard, () => readWholeFile(path, SNAPSHOT_FILE)), shard, path);
  for (const key of ["model", "engine", "sensors", "shards", "shard"] as const) {
    if (snapshot.fingerprint[key] !== fingerprint[key]) {
      throw new BadStateError(
        shard,
        "incompatible",
        `${path} was written for ${key} ${JSON.stringify(snapshot.fingerprint[key])}, this gateway runs ${JSON.stringify(fingerprint[key])}`,
      );
    }
  }
  const names = io(dir, "list the shard's directory", () => readdirSync(dir)).filter((name) => WAL_NAME.test(name)).sort();
  const segments: LoadedShard["segments"] = [];
  let tornTail = false;
  let tornBytes = 0;
  let expected = -1;
  names.forEach((name, n) => {
    const file = join(dir, name);
    const segment = new WalSegment(file, Number(name.slice(4, 19)));
    const entries: WalEntry[] = [];
    const parse = (line: string, at: number): WalEntry | undefined => {
      const json = line.slice(9);
      if (line[8] !== " " || line.slice(0, 8) !== crc32(json).toString(16).padStart(8, "0")) return undefined;
      let raw: unknown;
      try {
        raw = JSON.parse(json);
      } catch {
        throw new BadStateError(shard, "corrupt", `${file}:${at + 1}: checksum matches but the line is not JSON`);
      }
      const entry = walEntry(raw);
      if (entry === undefined) throw new BadStateError(shard, "corrupt", `${file}:${at + 1}: checksum matches but the line is not a WAL entry`);
      return entry;
    };
    const tail = stateFile(shard, () => forEachLine(file, (line, k) => {
      const entry = parse(line, k);
      if (entry === undefined) throw new BadStateError(shard, "corrupt", `${file}:${k + 1}: checksum mismatch`);
      entries.push(entry);
    }));
    if (tail > 0) {
      if (n !== names.length - 1) throw new BadStateError(shard, "corrupt", `${file}: its last line is cut short, but later segments exist`);
      tornTail = true;
      tornBytes = tail;
    }
    for (const entry of entries) {
      if (expected >= 0 && entry.e !== expected) {
        throw new BadStateError(shard, "corrupt", `${file}: WAL entry ${entry.e} follows entry ${expected - 1}; entries in between are missing`);
      }
      expected = entry.e + 1;
    }
    if (n === 0 && entries.length > 0 && entries[0].e > snapshot.cut + 1) {
      throw new BadStateError(shard, "missing", `the snapshot covers WAL entries up to ${snapshot.cut} but the WAL starts at ${entries[0].e}: entries in between are lost`);
    }
    if (entries.length > 0 && entries[0].e !== segment.firstE) throw new BadStateError(shard, "corrupt", `${file}: starts with entry ${entries[0].e}, its name says ${segment.firstE}`);
    segment.lastE = entries.length > 0 ? entries[entries.length - 1].e : segment.firstE - 1;
    segments.push({ segment, entries });
  });
  if (tornTail) {
    // the last segment cut back to its last whole line, so that the next start does not find a torn line before
    // the segments written after this one (cut, not rewritten: a segment may be larger than a string can be)
    const { segment } = segments[segments.length - 1];
    io(segment.path, "cut the torn line off the WAL", () => truncateSync(segment.path, statSync(segment.path).size - tornBytes));
  }
  return { snapshot, segments, tornTail };
}

/**
 * What a gateway killed mid-write left of a shard (the caller holds the shard's lock, so no running process writes
 * there): partial snapshot and WAL files beside the real ones, and a new shard's folder never renamed into place.
 * Each could be as large as the shard's state, and nothing else would ever remove them.
 */
function removeLeftovers(stateDir: string, shard: number): void {
  if (!existsSync(stateDir)) return;
  const dir = shardDirectory(stateDir, shard);
  const unborn = `${basename(dir)}.new-`;
  for (const name of io(stateDir, "list the state directory", () => readdirSync(stateDir)).filter((n) => n.startsWith(unborn))) {
    io(join(stateDir, name), "remove a shard's folder that was never finished", () => rmSync(join(stateDir, name), { recursive: true, force: true }));
  }
  if (existsSync(dir)) removeStalePartialFiles(dir);
}

/** encodeSnapshot writes one Uint8Array, and node makes none longer than buffer.constants.MAX_LENGTH. */
const SNAPSHOT_FILE: WholeFileKind = { what: "the snapshot", maxBytes: bufferConstants.MAX_LENGTH, why: "the largest byte array node makes", code: "runtime" };

/**
 * A step that reads a shard's file: a file that is not what a gateway writes there (a FIFO, a directory, a file
 * past any snapshot's size) is corrupt state, so that --on-bad-state decides; a read that fails stays an I/O error.
 */
function stateFile<T>(shard: number, step: () => T): T {
  try {
    return step();
  } catch (err) {
    throw err instanceof UnfitFileError ? new BadStateError(shard, "corrupt", err.message) : err;
  }
}

/** The line a gateway writes is a pid and a start time, under 64 bytes; a page leaves room for any of them. */
const LOCK_FILE: WholeFileKind = { what: "the shard's lock", maxBytes: 4096, why: "a lock holds a pid and a start time", code: "runtime" };

/** Bytes read at a time from a WAL segment. */
const WAL_READ_BYTES = 16 << 20;

/**
 * Calls `each` with every line of a file that ends in a newline (UTF-8, without the newline), in order, and returns
 * the number of bytes after the last newline. Read in chunks and decoded line by line: a WAL segment may be larger
 * than the longest string V8 makes (2^29 - 24 characters), and read whole as text it made every start of the
 * gateway fail ("Cannot create a string longer than 0x1fffffe8 characters").
 */
function forEachLine(path: string, each: (line: string, index: number) => void): number {
  const { fd } = openRegularFile(path, { what: "the WAL", code: "runtime" });
  try {
    const chunk = Buffer.alloc(WAL_READ_BYTES);
    // the start of a line that goes on in the next chunk, copied out of the chunk that is read over
    let pieces: Buffer[] = [];
    let index = 0;
    for (;;) {
      const got = io(path, "read the WAL", () => readSync(fd, chunk, 0, chunk.length, null));
      if (got === 0) return pieces.reduce((n, piece) => n + piece.length, 0);
      let from = 0;
      for (let newline = chunk.indexOf(0x0a, from); newline >= 0 && newline < got; newline = chunk.indexOf(0x0a, from)) {
        pieces.push(chunk.subarray(from, newline));
        each(Buffer.concat(pieces).toString("utf8"), index++);
        pieces = [];
        from = newline + 1;
      }
      if (from < got) pieces.push(Buffer.from(chunk.subarray(from, got)));
    }
  } finally {
    closeSync(fd);
  }
}

/** A file-system error that says the path, or a folder on it, is not there (or is not a folder). */
function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/** What is at `path` (not following a link), or undefined when nothing is. */
function whatIsAt(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if (isGone(err)) return undefined;
    throw new PhasorError("runtime", `${path}: cannot look at it: ${ioReason(err)}`);
  }
}

/**
 * The files a running gateway left in a shard's place: the folder and the lock it took by inode, the snapshot it
 * last renamed into place by inode, size and modification time (a copy written over it keeps the inode), and by
 * the CRC-32 its last 4 bytes hold until that time is settled (snapshotTail). What is there now is compared with
 * them at each snapshot round (shardDamage).
 */
export interface ShardFiles {
  dir?: number;
  snapshot?: string;
  /** the CRC-32 that ends the snapshot the gateway wrote */
  snapshotCrc?: number;
  /** a write over the snapshot would now change its modification time: its last 4 bytes need no more reading */
  snapshotSettled?: boolean;
  lock?: number;
}

/**
 * How long after a file's modification time another write to it may leave that time as it was: file systems keep
 * times in steps (a kernel clock tick on Linux file systems without fine-grained times, up to 10 ms; 2 s on FAT).
 */
export const TIME_STEP_MS = 2_000;

function fileIdentity(stats: Stats): string {
  return `${stats.ino} ${stats.size} ${stats.mtimeMs}`;
}

export function lockPath(stateDir: string, shard: number): string {
  return `${shardDirectory(stateDir, shard)}.lock`;
}

/**
 * The shard's folder and snapshot as they are now, after the snapshot `bytes` were written, as ShardFiles keeps
 * them.
 */
export function snapshotIdentity(stateDir: string, shard: number, bytes: Uint8Array): Pick<ShardFiles, "dir" | "snapshot" | "snapshotCrc" | "snapshotSettled"> {
  const dir = shardDirectory(stateDir, shard);
  return {
    dir: io(dir, "look at the shard's folder", () => statSync(dir).ino),
    snapshot: io(dir, "look at the snapshot", () => fileIdentity(statSync(join(dir, "snapshot.bin")))),
    snapshotCrc: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(bytes.byteLength - 4, true),
    snapshotSettled: false,
  };
}

/**
 * Whether the snapshot at `path` (`stats`: its inode, size and time are the gateway's) still ends with the CRC the
 * gateway wrote. A copy of the same size written over it within a step of the file system's clock keeps its
 * modification time too (as git's index meets "racily clean" files): until a round finds the time more than
 * TIME_STEP_MS in the past, the last 4 bytes are read at every round; after that one more read settles it, and a
 * later write shows in the time.
 */
function snapshotTailAsWritten(path: string, stats: Stats, known: ShardFiles, now: number): boolean {
  if (known.snapshotSettled === true || known.snapshotCrc === undefined) return true;
  const tail = new Uint8Array(4);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    if (isGone(err)) return false;
    throw new PhasorError("runtime", `${path}: cannot look at it: ${ioReason(err)}`);
  }
  try {
    if (io(path, "read the snapshot's last bytes", () => readSync(fd, tail, 0, 4, stats.size - 4)) !== 4) return false;
  } finally {
    closeSync(fd);
  }
  if (new DataView(tail.buffer).getUint32(0, true) !== known.snapshotCrc) return false;
  if (now - stats.mtimeMs > TIME_STEP_MS) known.snapshotSettled = true;
  return true;
}

/** The inode of the shard's lock as it is now (after it was taken). */
export function lockInode(stateDir: string, shard: number): number {
  const path = lockPath(stateDir, shard);
  return io(path, "look at the shard's lock", () => statSync(path).ino);
}

/**
 * What has happened to a shard's files since the gateway made them, one sentence each (empty: nothing): the
 * folder removed or replaced, the snapshot removed or replaced, the open WAL segment removed, the lock removed or
 * replaced. A few stats per shard and round (and a snapshot's last 4 bytes while its time is not settled); files
 * of which the gateway has no inode yet are not checked. `now`: the time of the round.
 */
export function shardDamage(stateDir: string, shard: number, known: ShardFiles, log: ShardLog, now = Date.now()): string[] {
  const found: string[] = [];
  const dir = shardDirectory(stateDir, shard);
  const folder = whatIsAt(dir);
  if (known.dir !== undefined && (folder === undefined || !folder.isDirectory() || folder.ino !== known.dir)) {
    found.push(`${dir}: the folder is gone or was replaced`);
  } else if (known.snapshot !== undefined) {
    const path = join(dir, "snapshot.bin");
    const snapshot = whatIsAt(path);
    if (snapshot === undefined || !snapshot.isFile() || fileIdentity(snapshot) !== known.snapshot || !snapshotTailAsWritten(path, snapshot, known, now)) found.push(`${path}: the snapshot was removed or replaced`);
  }
  const lost = log.lostSegment();
  if (lost !== null) found.push(`${lost.path}: the open WAL segment was removed`);
  const lock = whatIsAt(lockPath(stateDir, shard));
  if (known.lock !== undefined && (lock === undefined || lock.ino !== known.lock)) found.push(`${lockPath(stateDir, shard)}: the shard's lock was removed or replaced`);
  return found;
}

/**
 * Makes a shard's folder a place a snapshot can be written to again after damage while running: the state folder
 * and the shard's folder made where they are gone, and whatever is not the gateway's at its paths moved to
 * `<state>/quarantine/` (never deleted: it may be someone's): a file where the folder should be, anything but a
 * regular file at the snapshot's path or a segment's, a WAL segment the log does not know (from a backup put
 * back), which a restart would take for part of the shard's WAL.
 */
export function remakeShardFolder(stateDir: string, shard: number, log: ShardLog): string[] {
  const moved: string[] = [];
  const aside = (path: string) => {
    const target = quarantinePath(stateDir, shard, `-${basename(path)}`);
    io(target, "move a file that is not the gateway's aside", () => {
      mkdirSync(dirname(target), { recursive: true });
      renameSync(path, target);
    });
    moved.push(target);
  };
  const dir = shardDirectory(stateDir, shard);
  const folder = whatIsAt(dir);
  if (folder !== undefined && !folder.isDirectory()) aside(dir);
  io(dir, "make the shard's folder again", () => mkdirSync(dir, { recursive: true }));
  const ours = new Set(log.segments.map((segment) => basename(segment.path)));
  for (const name of io(dir, "list the shard's directory", () => readdirSync(dir))) {
    const stats = whatIsAt(join(dir, name));
    const isOurs = name === "snapshot.bin" || ours.has(name);
    if ((isOurs && stats !== undefined && !stats.isFile()) || (!isOurs && WAL_NAME.test(name))) aside(join(dir, name));
  }
  return moved;
}

/** Where a shard's state, or a file found in its place (`suffix`), is moved aside: unique per time and process. */
function quarantinePath(stateDir: string, shard: number, suffix: string): string {
  return join(stateDir, "quarantine", `shard-${shard}-${new Date().toISOString().replaceAll(":", "-")}-${process.pid}${suffix}`);
}

/** Moves a shard's state aside (policy "reset"): `<state>/quarantine/shard-<s>-<time>`. Returns where. */
export function quarantineShard(stateDir: string, shard: number): string {
  const target = quarantinePath(stateDir, shard, "");
  io(target, "move the shard's state to quarantine", () => {
    mkdirSync(dirname(target), { recursive: true });
    renameSync(shardDirectory(stateDir, shard), target);
  });
  return target;
}

/**
 * Takes the shard's lock file: a shard is owned by one gateway at a time. The file holds the owner's pid and, on
 * Linux, its start time (field 22 of /proc/<pid>/stat), so that a lock is taken over when its process is gone,
 * is a zombie (killed, not yet reaped by its parent: it will never run again), or is another process that got the
 * same pid since.
 */
export function lockShard(stateDir: string, shard: number): () => void {
  const path = lockPath(stateDir, shard);
  io(stateDir, "create the state directory", () => mkdirSync(stateDir, { recursive: true }));
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new PhasorError("runtime", `${path}: cannot take the shard's lock: ${ioReason(err)}`);
      const [pid, started] = new TextDecoder().decode(readWholeFile(path, LOCK_FILE)).trim().split(/\s+/).map(Number);
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && isRunning(pid, started)) {
        throw new BadStateError(shard, "locked", `${path}: the shard is held by the running process ${pid}`);
      }
      io(path, "remove a stale lock", () => rmSync(path, { force: true }));
      continue;
    }
    const mine = processStart(process.pid);
    io(path, "write the shard's lock", () => {
      writeSync(fd, `${process.pid}${mine === undefined ? "" : ` ${mine}`}\n`);
      closeSync(fd);
    });
    return () => io(path, "remove the shard's lock", () => rmSync(path, { force: true }));
  }
  throw new BadStateError(shard, "locked", `${path}: could not take the lock`);
}

/** Whether `pid` is a process that can still run, and the one that wrote the lock when its start time is known. */
function isRunning(pid: number, started: number | undefined): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const stat = procStat(pid);
  // no /proc (not Linux): the signal's answer is all there is
  if (stat === undefined) return true;
  // Z: zombie, X: dead; kill(pid, 0) succeeds on both until the parent reaps the process
  if (stat.state === "Z" || stat.state === "X") return false;
  return started === undefined || !Number.isFinite(started) || stat.started === started;
}

function processStart(pid: number): number | undefined {
  return procStat(pid)?.started;
}

/** State and start time (clock ticks after boot) of a process from /proc/<pid>/stat, undefined where there is none. */
function procStat(pid: number): { state: string; started: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so the fields start after the last ")"
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0], started: Number(fields[19]) };
}

/** Runs a file-system step; a failure is a one-line PhasorError naming the path and the step, not a stack. */
function io<T>(path: string, doing: string, step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof PhasorError) throw err;
    throw new PhasorError("runtime", `${path}: cannot ${doing}: ${ioReason(err)}`);
  }
}
