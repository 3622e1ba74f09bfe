#!/usr/bin/env python3
"""Runs a microcontroller module (build/phasor-mcu.wasm or build/phasor-mcu-learn.wasm) on the wasmtime engine of
the Python wheel, the way host/c/phasor_host does on wasm.h: the model's image at modelBuffer(), init, then per
event the inputs at inputBuffer(), push(t) and output(); with --learn, the learning module fine-tunes the readout
from the events' label column as phasor_host --learn does (docs/on-device-learning.md).

    python3 tools/devices/wasmtime-mcu.py MODULE.wasm MODEL.plsm EVENTS.csv [--learn ETA] [--learn-c C]
                                  [--readout-in FILE] [--readout-out FILE] [--fuel]

EVENTS.csv: a header t,x0,...,x{I-1}[,seq][,label], then one event a line (plain numbers, no quoting). Prints one
line per event: its outputs as the 16 hexadecimal digits of each f64's bits, comma-separated, so that a caller
compares bits, not printed decimals. With --fuel, a last line on stderr gives the wasm operators (wasmtime's fuel)
of the calls, per push (with its output) and per learn: a cost that does not depend on the machine. Exit status 0, 2
for a refusal (with the reason on stderr).

Needs the wasmtime wheel: python3 -m pip install --retries 0 wasmtime
"""
import csv
import struct
import sys

try:
    import wasmtime
except ImportError:
    sys.stderr.write("wasmtime-mcu: the wasmtime Python package is missing: python3 -m pip install --retries 0 wasmtime\n")
    sys.exit(2)


def fail(message):
    sys.stderr.write(f"wasmtime-mcu: {message}\n")
    sys.exit(2)


def parse(argv):
    flags = {"--learn": None, "--learn-c": "0.9", "--readout-in": None, "--readout-out": None, "--fuel": False}
    files = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--fuel":
            flags[arg] = True
        elif arg in flags:
            if not args:
                fail(f"{arg} needs a value")
            flags[arg] = args.pop(0)
        elif arg.startswith("--"):
            fail(f"unknown option {arg}")
        else:
            files.append(arg)
    if len(files) != 3:
        fail("usage: wasmtime-mcu.py MODULE.wasm MODEL.plsm EVENTS.csv [--learn ETA] [--learn-c C] [--readout-in F] [--readout-out F]")
    return files, flags


FUEL = 1 << 62


class Module:
    def __init__(self, path, fuel):
        config = wasmtime.Config()
        config.consume_fuel = fuel
        engine = wasmtime.Engine(config)
        self.store = wasmtime.Store(engine)
        if fuel:
            self.store.set_fuel(FUEL)
        self.fuel = fuel
        self.spent = {}
        instance = wasmtime.Instance(self.store, wasmtime.Module.from_file(engine, path), [])
        self.exports = instance.exports(self.store)
        self.memory = self.exports["memory"]

    def call(self, name, *args):
        if not self.fuel:
            return self.exports[name](self.store, *args)
        before = self.store.get_fuel()
        answer = self.exports[name](self.store, *args)
        count, total = self.spent.get(name, (0, 0))
        self.spent[name] = (count + 1, total + before - self.store.get_fuel())
        return answer

    def per_call(self, *names):
        return sum(self.spent.get(n, (0, 0))[1] / max(1, self.spent.get(n, (1, 0))[0]) for n in names)

    def write(self, at, data):
        self.memory.write(self.store, data, at)

    def read(self, at, length):
        return bytes(self.memory.read(self.store, at, at + length))


def main():
    (module_path, model_path, events_path), flags = parse(sys.argv[1:])
    mcu = Module(module_path, flags["--fuel"])
    image = open(model_path, "rb").read()
    mcu.write(mcu.call("modelBuffer"), image)
    status = mcu.call("init", len(image))
    if status != 0:
        fail(f"{model_path}: init answered {status} (-1 rejected, -4 needs {mcu.call('arenaNeeded')} bytes of arena)")
    inputs, outputs, every = struct.unpack_from("<I", image, 12)[0], struct.unpack_from("<I", image, 20)[0], struct.unpack_from("<I", image, 24)[0] == 1
    learning = flags["--learn"] is not None
    eta, c = (float(flags["--learn"]) if learning else 0.0), float(flags["--learn-c"])
    if flags["--readout-in"]:
        saved = open(flags["--readout-in"], "rb").read()
        mcu.write(mcu.call("readoutBuffer"), saved)
        if len(saved) != mcu.call("readoutSize") or mcu.call("readoutLoad") != 0:
            fail(f"{flags['--readout-in']}: readoutLoad refused the bytes")

    def learn(label):
        if outputs >= 2:
            answer = mcu.call("learn", int(label), eta, c)
        else:
            mcu.write(mcu.call("targetBuffer"), struct.pack("<d", label))
            answer = mcu.call("learn", -1, eta, c)
        if answer not in (0, 1):
            fail(f"learn answered {answer} for label {label}")

    with open(events_path, newline="") as events:
        rows = csv.reader(events)
        header = next(rows)
        x_at = [header.index(f"x{k}") for k in range(inputs)]
        seq_at = header.index("seq") if "seq" in header else None
        label_at = header.index("label") if "label" in header else None
        seq, pending, started = None, None, False
        for row in rows:
            if not row:
                continue
            if not started or (seq_at is not None and row[seq_at] != seq):
                started = True
                if learning and pending is not None:
                    learn(pending)
                pending = None
                seq = row[seq_at] if seq_at is not None else seq
                mcu.call("reset")
            mcu.write(mcu.call("inputBuffer"), struct.pack(f"<{inputs}f", *(float(row[k]) for k in x_at)))
            if mcu.call("push", float(row[0])) != 0:
                fail(f"push refused the event at t = {row[0]}")
            y = mcu.read(mcu.call("output"), 8 * outputs)
            sys.stdout.write(",".join(y[8 * o:8 * o + 8][::-1].hex() for o in range(outputs)) + "\n")
            if label_at is not None and row[label_at] != "":
                if every and learning:
                    learn(float(row[label_at]))
                else:
                    pending = float(row[label_at])
        if learning and pending is not None:
            learn(pending)
    if flags["--readout-out"]:
        size = mcu.call("readoutSave")
        open(flags["--readout-out"], "wb").write(mcu.read(mcu.call("readoutBuffer"), size))
    if flags["--fuel"]:
        sys.stderr.write('{"fuelPerPush": %d, "fuelPerLearn": %d}\n' % (mcu.per_call("push", "output"), mcu.per_call("learn")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
