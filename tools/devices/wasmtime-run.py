#!/usr/bin/env python3
"""Runs a WASI command on the wasmtime engine the way the wasmtime CLI does, for machines without the CLI.

    python3 tools/devices/wasmtime-run.py [run] [--dir HOST[::GUEST]]... MODULE.wasm [--] [ARGS...]

stdin, stdout and stderr are the process's own; each --dir preopens HOST under the guest name GUEST (default:
HOST as written, so `--dir .` is "."). The exit status is the module's (proc_exit, 0 when _start returns);
a trap prints its message on stderr and exits with 134, as the CLI does on Unix.

Needs the wasmtime wheel: python3 -m pip install --retries 0 wasmtime
"""
import sys

try:
    import wasmtime
except ImportError:
    sys.stderr.write("wasmtime-run: the wasmtime Python package is missing: python3 -m pip install --retries 0 wasmtime\n")
    sys.exit(2)

USAGE = "usage: wasmtime-run.py [run] [--dir HOST[::GUEST]]... MODULE.wasm [--] [ARGS...]\n"


def parse(argv):
    args = list(argv)
    if args and args[0] == "run":
        args.pop(0)
    dirs = []
    while args and args[0].startswith("--"):
        flag = args.pop(0)
        if flag == "--dir" and args:
            value = args.pop(0)
        elif flag.startswith("--dir="):
            value = flag[len("--dir="):]
        else:
            sys.stderr.write(f"wasmtime-run: unknown option {flag}\n" + USAGE)
            sys.exit(2)
        host, _, guest = value.partition("::")
        dirs.append((host, guest or host))
    if not args:
        sys.stderr.write(USAGE)
        sys.exit(2)
    module = args.pop(0)
    if args and args[0] == "--":
        args.pop(0)
    return module, dirs, args


def main():
    module_path, dirs, args = parse(sys.argv[1:])
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, module_path)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.argv = [module_path] + args
    wasi.inherit_stdin()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    for host, guest in dirs:
        wasi.preopen_dir(host, guest)
    store.set_wasi(wasi)
    try:
        instance = linker.instantiate(store, module)
        instance.exports(store)["_start"](store)
    except wasmtime.ExitTrap as exit:
        return exit.code
    except wasmtime.Trap as trap:
        sys.stderr.write(f"Error: failed to run main module `{module_path}`\n{trap}\n")
        return 134
    return 0


if __name__ == "__main__":
    sys.stdout.flush()
    sys.exit(main())
