#!/usr/bin/env python3
"""Counts the wasm operators an engine build executes per event, on wasmtime's fuel: a cost that is the same on
every machine and is what an interpreter on a device pays for (issue 13, item 4).

    python3 tools/devices/fuel.py --module build/phasor-mcu.wasm --model m.plsm --events e.ndjson [--warm N] [--per-event]

--module is the microcontroller build (build/phasor-mcu.wasm: init and push(t)) or a library build
(build/phasor-simd.wasm, build/phasor-scalar.wasm: modelCreate, streamCreate and push). --model is a fixed-point
.plsm (phasor quantize), --events an NDJSON event file (shared/spec/formats.md, "Events": t and x; seq and label
are ignored, the events run as one stream). The first --warm events (default 0) run uncounted, so the timing
wheel is in its steady state; every later push(t) is counted on its own: set_fuel before, get_fuel after.

Prints one JSON object: the events counted, their total, mean, min and max operators, for the microcontroller
build also its init's operators (the checks of the image and the layout), and with --per-event the list. wasmtime charges one unit per operator except nop, drop, block, loop, else, end, return and unreachable,
which cost 0 (wasmtime's fuel_before_op); host/engine/operators.ts counts the same in node and
test/operators-match-wasmtime-fuel.test.ts holds the two together. `phasor bench --operators` prints the counts
at the benchmark's points.

Needs the wasmtime wheel: python3 -m pip install --retries 0 wasmtime
"""
import argparse
import json
import struct
import sys

try:
    import wasmtime
except ImportError:
    sys.stderr.write("fuel: the wasmtime Python package is missing: python3 -m pip install --retries 0 wasmtime\n")
    sys.exit(2)

# far more than an event takes: an event that runs out traps, and that is reported, not hidden
FUEL = 1 << 60


def read_events(path):
    events = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record.get("t"), (int, float)) or not isinstance(record.get("x"), list):
                raise SystemExit(f"fuel: {path}:{number}: an event needs a number t and a list x")
            events.append((float(record["t"]), [float(v) for v in record["x"]]))
    return events


class Engine:
    """One instance of a build with the model loaded and a fresh stream; push(t, x) returns the fuel it took."""

    def __init__(self, module_path, image):
        config = wasmtime.Config()
        config.consume_fuel = True
        self.store = wasmtime.Store(wasmtime.Engine(config))
        self.store.set_fuel(FUEL)
        module = wasmtime.Module.from_file(self.store.engine, module_path)
        instance = wasmtime.Instance(self.store, module, [])
        self.exports = instance.exports(self.store)
        self.memory = self.exports["memory"]
        names = {export.name for export in module.exports}
        self.mcu = "init" in names
        if self.mcu:
            self.memory.write(self.store, image, self.exports["modelBuffer"](self.store))
            status = self.exports["init"](self.store, len(image))
            self.init_operators = FUEL - self.store.get_fuel()
            if status != 0:
                raise SystemExit(f"fuel: the MCU build's init answered {status} (-1 rejected, -4 too big for its arena)")
            self.input_at = self.exports["inputBuffer"](self.store)
        else:
            at = self.exports["alloc"](self.store, len(image))
            self.memory.write(self.store, image, at)
            self.model = self.exports["modelCreate"](self.store, at, len(image))
            if self.model == 0:
                raise SystemExit("fuel: the library build rejected the model: " + self.error_text())
            self.stream = self.exports["streamCreate"](self.store, self.model)
            self.input_at = self.exports["alloc"](self.store, 4 * 65536)

    def error_text(self):
        at = self.exports["errorPtr"](self.store)
        return self.memory.read(self.store, at, at + self.exports["errorLen"](self.store)).decode("ascii", "replace")

    def push(self, t, x):
        self.memory.write(self.store, struct.pack(f"<{len(x)}f", *x), self.input_at)
        self.store.set_fuel(FUEL)
        if self.mcu:
            status = self.exports["push"](self.store, t)
        else:
            status = self.exports["push"](self.store, self.model, self.stream, t, self.input_at, 0)
        used = FUEL - self.store.get_fuel()
        if status != 0:
            raise SystemExit(f"fuel: push refused the event at t={t} with status {status}")
        return used


def main():
    parser = argparse.ArgumentParser(description="wasm operators per event, counted on wasmtime's fuel")
    parser.add_argument("--module", required=True, help="build/phasor-mcu.wasm, build/phasor-simd.wasm or build/phasor-scalar.wasm")
    parser.add_argument("--model", required=True, help="a fixed-point .plsm")
    parser.add_argument("--events", required=True, help="NDJSON events: t and x")
    parser.add_argument("--warm", type=int, default=0, help="events run before counting starts (default 0)")
    parser.add_argument("--per-event", action="store_true", help="also print every counted event's operators")
    args = parser.parse_args()
    with open(args.model, "rb") as f:
        image = f.read()
    events = read_events(args.events)
    if args.warm >= len(events):
        raise SystemExit(f"fuel: --warm {args.warm} leaves none of the {len(events)} events to count")
    engine = Engine(args.module, image)
    counts = [engine.push(t, x) for t, x in events]
    counted = counts[args.warm:]
    result = {
        "module": args.module,
        "events": len(counted),
        "total": sum(counted),
        "mean": sum(counted) / len(counted),
        "min": min(counted),
        "max": max(counted),
    }
    if engine.mcu:
        result["init"] = engine.init_operators
    if args.per_event:
        result["perEvent"] = counted
    print(json.dumps(result))


if __name__ == "__main__":
    main()
