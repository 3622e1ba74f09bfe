/**
 * The gateway's MQTT topic layout and its sharding (docs/gateway.md, "Topics"), shared by the gateway and by
 * whatever publishes readings to it. Browser-safe: no node import.
 *
 *   <prefix>/in/<shard>/<device>/<sensor>   readings, QoS 1
 *   <prefix>/out/<shard>/<device>           predictions
 *   <prefix>/dead/<shard>/<device>          dead letters: refused readings, each with its reason
 *   <prefix>/health/<instance>              a gateway's health and counters, retained
 *   <prefix>/claim/<client id in hex>       the latest start of a gateway with that client id, retained
 *
 * shard = fnv1a32(UTF-8 bytes of device) mod shards; gateway instance k of n owns the shards s with s mod n = k.
 * Both are pure functions of the names and of the deployment's two constants (shards, instances), so a device's
 * readings always reach the one process that holds its state.
 */
import { PhasorError, givenText, quote } from "../errors.js";
import { NAME_PATTERN } from "./sensors.js";

/** 32-bit FNV-1a of the UTF-8 bytes of `text` (offset basis 2166136261, prime 16777619). */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  // a device name is ASCII (NAME_PATTERN), its own UTF-8: no encoder to allocate for every message
  const bytes = ASCII.test(text) ? text : new TextEncoder().encode(text);
  for (let k = 0; k < bytes.length; k++) {
    hash ^= typeof bytes === "string" ? bytes.charCodeAt(k) : bytes[k];
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

const ASCII = /^[\x00-\x7f]*$/;

/** The shard of a device among `shards` (a whole number from 1). */
export function shardOf(device: string, shards: number): number {
  // a device that is no text (a number id) hashed as no bytes at all: every such device in shard 0's place
  if (typeof device !== "string") throw new PhasorError("bad-args", `device: expected a name (a string), got ${givenText(device)}`);
  checkShards(shards);
  return fnv1a32(device) % shards;
}

/**
 * The largest shard count: a shard's topic level has at most 6 digits (parseInputTopic), so the gateway would take
 * the messages of a shard from 1,000,000 on for no shard of its own.
 */
export const MAX_SHARDS = 1_000_000;

function checkShards(shards: number): void {
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) {
    throw new PhasorError("bad-args", `shards: expected a whole number from 1 to ${MAX_SHARDS}, got ${givenText(shards)}`);
  }
}

/** The shards instance `instance` of `instances` gateways owns. */
export function ownedShards(instance: number, instances: number, shards: number): number[] {
  if (!Number.isInteger(instances) || instances < 1 || !Number.isInteger(instance) || instance < 0 || instance >= instances) {
    throw new PhasorError("bad-args", `gateway instance ${instance} of ${instances}: expected 0 <= instance < instances`);
  }
  checkShards(shards);
  if (shards < instances) {
    throw new PhasorError("bad-args", `${shards} shards for ${instances} gateways: every gateway needs at least one shard`);
  }
  const owned: number[] = [];
  for (let s = instance; s < shards; s += instances) owned.push(s);
  return owned;
}

/** A prefix is one or more topic levels without wildcards, not starting or ending with "/". */
export function checkPrefix(prefix: string): void {
  if (typeof prefix !== "string") throw new PhasorError("bad-args", `topic prefix: expected levels like "phasor" (a string), got ${givenText(prefix)}`);
  if (prefix === "" || prefix.startsWith("/") || prefix.endsWith("/") || /[+#\u0000]/.test(prefix) || prefix.includes("//")) {
    throw new PhasorError("bad-args", `topic prefix "${prefix}": expected levels like "phasor" or "site/line-3", without "+", "#" or empty levels`);
  }
}

/** Where a publisher sends a device's readings of one sensor; refuses names the gateway would count as badTopic. */
export function inputTopic(prefix: string, shards: number, device: string, sensor: string): string {
  checkPrefix(prefix);
  checkName("device", device);
  checkName("sensor", sensor);
  return `${prefix}/in/${shardOf(device, shards)}/${device}/${sensor}`;
}

/** A device's or a sensor's name as a topic level: one that is no name ("a/b", "+", "#") would be another topic, or a
 * wildcard in a subscription. */
function checkName(what: string, name: string): void {
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) throw new PhasorError("bad-args", `${what} ${quote(String(name))} is not a valid name (${NAME_PATTERN})`);
}

/** A shard's or a gateway instance's number as a topic level: a whole number from 0. */
function checkIndex(what: string, index: number): void {
  if (!Number.isInteger(index) || index < 0) throw new PhasorError("bad-args", `${what}: expected a whole number from 0, got ${givenText(index)}`);
}

/** The levels after the kind of topic: `<shard>/<device>`, both checked as the gateway writes them. */
function deviceLevels(prefix: string, shard: number, device: string): string {
  checkPrefix(prefix);
  checkIndex("shard", shard);
  checkName("device", device);
  return `${shard}/${device}`;
}

/** Where the gateway publishes a device's predictions (docs/gateway.md). */
export function outputTopic(prefix: string, shard: number, device: string): string {
  return `${prefix}/out/${deviceLevels(prefix, shard, device)}`;
}

/** Where the gateway publishes what it refused of a device's messages, with the reasons (docs/gateway.md). */
export function deadLetterTopic(prefix: string, shard: number, device: string): string {
  return `${prefix}/dead/${deviceLevels(prefix, shard, device)}`;
}

export function healthTopic(prefix: string, instance: number): string {
  checkPrefix(prefix);
  checkIndex("gateway instance", instance);
  return `${prefix}/health/${instance}`;
}

/**
 * Where the gateways that use one MQTT client id announce each start (retained), so that an older one still running
 * learns of a newer one and stops (docs/gateway.md, "One client id, one gateway"). A client id is any UTF-8 text,
 * so the level is its bytes in hex.
 */
export function claimTopic(prefix: string, clientId: string): string {
  const hex = Array.from(new TextEncoder().encode(clientId), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${prefix}/claim/${hex}`;
}

/** The subscription that brings a gateway every message of one shard, well-formed or not. */
export function shardSubscription(prefix: string, shard: number): string {
  return `${prefix}/in/${shard}/#`;
}

export type InputTopic = { shard: number; device: string; sensor: string } | { shard: number; problem: string };

/**
 * Splits a topic under `<prefix>/in/<shard>/`: `{shard, device, sensor}` when the rest is exactly a device and a
 * sensor with valid names, otherwise `{shard, problem}` (the caller counts it as badTopic). The topic must start
 * with the prefix and a shard level; the subscriptions of shardSubscription() guarantee that.
 */
export function parseInputTopic(prefix: string, topic: string): InputTopic | undefined {
  const head = `${prefix}/in/`;
  if (!topic.startsWith(head)) return undefined;
  const levels = topic.slice(head.length).split("/");
  if (!/^(0|[1-9]\d{0,5})$/.test(levels[0])) return undefined;
  const shard = Number(levels[0]);
  if (levels.length !== 3) return { shard, problem: `expected ${head}<shard>/<device>/<sensor>, got ${levels.length - 1} levels after the shard` };
  const [, device, sensor] = levels;
  if (!NAME_PATTERN.test(device)) return { shard, problem: `device ${quote(device)} is not a valid name` };
  if (!NAME_PATTERN.test(sensor)) return { shard, problem: `sensor ${quote(sensor)} is not a valid name` };
  return { shard, device, sensor };
}
