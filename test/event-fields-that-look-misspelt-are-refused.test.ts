/**
 * An event file may carry fields (NDJSON) or columns (CSV) of its own, but not one that looks like one of the
 * format's misspelt: equal to t, x, seq or label (in CSV: t, seq, label, x0, x1, ...) up to case, or one edit from
 * label, the only name of 4 letters or more. Read as the file's own, a "Seq" would make the whole file one stream
 * (its state never reset between sequences) and a "lable" would leave every sequence unlabelled, without a word.
 * `sq` is one edit from the 3-letter seq, which the rule leaves alone (a name that short is one edit from too many
 * real ones): it stays a field of the file's own.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { phasor } from "./support/cli.js";

const MODEL = "examples/tiny-model.json";
const WHY = "(a field of your own must differ from the format's by more than case or one letter)";
const WHY_COLUMN = "(a column of your own must differ from the format's by more than case or one letter)";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "phasor-lookalike-test-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const good = '{"t":0,"x":[0.1],"seq":"a"}';

describe("NDJSON: phasor run refuses a line with a field that looks like the format's misspelt", () => {
  const cases: [string, string][] = [
    ['{"t":1,"x":[0.1],"Seq":"a"}', "seq"],
    ['{"t":1,"x":[0.1],"SEQ":"b"}', "seq"],
    ['{"T":1,"x":[0.1]}', "t"],
    ['{"t":1,"X":[0.1]}', "x"],
    ['{"t":1,"x":[0.1],"Label":1}', "label"],
    ['{"t":1,"x":[0.1],"lable":1}', "label"],
    ['{"t":1,"x":[0.1],"labels":1}', "label"],
  ];
  for (const [line, meant] of cases) {
    const name = Object.keys(JSON.parse(line) as object).find((k) => !["t", "x"].includes(k))!;
    it(`"${name}": file:line and the reason, exit 2`, () => {
      const r = phasor(["run", "--model", MODEL, "--events", "-"], `${good}\n${line}\n`);
      expect(r.stderr).toBe(`phasor run: stdin:2: "${name}" looks like "${meant}" misspelt ${WHY}\n`);
      expect(r.status).toBe(2);
      expect(r.stdout.trimEnd().split("\n")).toHaveLength(1);
    });
  }

  it("takes fields of the file's own: id, note, sensor, and sq (one edit from seq, which is too short for that rule)", () => {
    const lines = ['{"t":0,"x":[0.1],"seq":"a","id":7,"note":"n","sensor":"s1"}', '{"t":1,"x":[0.1],"seq":"a","sq":"b"}'];
    const r = phasor(["run", "--model", MODEL, "--events", "-"], lines.join("\n") + "\n");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    // sq is no seq: both events are of seq "a"
    expect(r.stdout.trimEnd().split("\n").map((l) => (JSON.parse(l) as { seq: string }).seq)).toEqual(["a", "a"]);
  });

  it("with --skip-bad skips and counts such lines as other bad lines", () => {
    const lines = [good, '{"t":1,"x":[0.1],"Seq":"b"}', '{"t":2,"x":[0.1],"seq":"a","lable":1}', '{"t":3,"x":[0.1],"seq":"a"}'];
    const r = phasor(["run", "--model", MODEL, "--events", "-", "--skip-bad"], lines.join("\n") + "\n");
    expect(r.status).toBe(0);
    expect(r.stdout.trimEnd().split("\n").map((l) => (JSON.parse(l) as { t: number }).t)).toEqual([0, 3]);
    expect(r.stderr).toBe(`phasor run: skipped 2 bad lines (first: stdin:2: "Seq" looks like "seq" misspelt ${WHY})\n`);
  });
});

describe("CSV: phasor run refuses a header with a column that looks like the format's misspelt", () => {
  const cases: [string, string, string][] = [
    ["t,x0,Seq", "Seq", "seq"],
    ["t,X0", "X0", "x0"],
    ["t,x0,lable", "lable", "label"],
    ['t,"x0","LABEL"', "LABEL", "label"],
  ];
  for (const [header, name, meant] of cases) {
    it(`${header}: the header's line and the column, exit 2`, () => {
      const file = join(dir, "events.csv");
      writeFileSync(file, `${header}\n0,0.1${header.split(",").length > 2 ? ",1" : ""}\n`);
      const r = phasor(["run", "--model", MODEL, "--events", file]);
      expect(r.stderr).toBe(`phasor run: ${file}:1: CSV column "${name}" looks like "${meant}" misspelt ${WHY_COLUMN}\n`);
      expect(r.status).toBe(2);
    });
  }

  it("takes columns of the file's own: t,x0,id,note", () => {
    const file = join(dir, "own.csv");
    writeFileSync(file, "t,x0,id,note\n0,0.1,7,n\n1,0.2,8,m\n");
    const r = phasor(["run", "--model", MODEL, "--events", file]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(2);
  });
});
