/**
 * docs/gateway.md tells publishers to compute a device's topic and shard with shardOf() and inputTopic(), and
 * in-process users to run readings with SensorStream: they must come with the package's entries, node and browser
 * alike, under the package's own name (package.json "exports"), not only from a path inside dist/ that "exports"
 * does not open.
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const NAMES = ["shardOf", "inputTopic", "outputTopic", "deadLetterTopic", "healthTopic", "SensorStream", "parseSensorLayout", "defaultSensorLayout", "sensorLayoutToJson"];

function exportedKinds(condition: string[]): Record<string, string> {
  const script = `const m = await import("phasor"); console.log(JSON.stringify(Object.fromEntries(${JSON.stringify(NAMES)}.map((n) => [n, typeof m[n]]))));`;
  return JSON.parse(execFileSync(process.execPath, [...condition, "--input-type=module", "-e", script], { encoding: "utf8" }));
}

describe("the gateway's conventions from the package", () => {
  it("are exported by the node entry and by the browser entry", () => {
    const node = exportedKinds([]);
    for (const name of NAMES) expect(node[name], `node entry: ${name}`).toBe("function");
    // the browser entry, "exports"' default condition, by its path: node itself always matches the node condition
    const script = `const m = await import("./dist/host/index.js"); console.log(JSON.stringify(Object.fromEntries(${JSON.stringify(NAMES)}.map((n) => [n, typeof m[n]]))));`;
    const browser = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }));
    for (const name of NAMES) expect(browser[name], `browser entry: ${name}`).toBe("function");
  });

  it("give a publisher the topic the gateway reads", () => {
    const script =
      'const { inputTopic, shardOf } = await import("phasor"); console.log(JSON.stringify([inputTopic("site/a", 16, "pump-7", "temp"), shardOf("pump-7", 16)]));';
    const [topic, shard] = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }));
    expect(topic).toBe(`site/a/in/${shard}/pump-7/temp`);
    expect(shard).toBeGreaterThanOrEqual(0);
    expect(shard).toBeLessThan(16);
  });
});
