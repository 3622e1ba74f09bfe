#!/usr/bin/env python3
"""PyTorch eager baseline for `phasor bench` (issue 13 item 4, issue 14 part 3).

The Phased LSTM of ../shared/spec/plstm.md written the way a PyTorch user would write it (one cell module, a Python
loop over events, autograd for the backward pass), at the sizes `phasor bench` uses (host/bench.ts): H = 110, I = 1,
r_on = 0.05, tau log-uniform on [e, e^3], shift U(0, 100), peepholes, 2 outputs, one thread. It measures
  - training: freq1-async sequences/s, forward + backward + Adam step over padded batches of 32 (full BPTT), on the
    sequences of `phasor gen --task freq1-async` (read from a file, so both sides see the same statistics);
  - streaming: events/s, one event at a time through the cell at batch 1 with the state carried and alpha = 0,
    on bench's stream (gaps U(0, 2) ms, x = sin(2 pi t / 3)), under torch.inference_mode().

Not part of npm test or CI; torch is installed by hand, for the person measuring only:
  python3 -m pip install --no-deps /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl
Run (from the repository root, after `npm run build`):
  node dist/tools/cli/phasor.js gen --task freq1-async --n 320 --seed 1 > /tmp/freq1-async.jsonl
  python3 tools/experiments/pytorch-baseline.py --data /tmp/freq1-async.jsonl --seconds 10
Compare side by side: run `phasor bench` immediately before and after it (docs/RESULTS.md, "Training throughput").
"""

import argparse
import json
import math
import time

import torch

H, I, O = 110, 1, 2
BATCH = 32


class PhasedLSTMCell(torch.nn.Module):
    """One layer of plstm.md section 1: peephole LSTM candidate, then the time gate k mixes it with the old state."""

    def __init__(self, generator, r_on=0.05, alpha=0.001):
        super().__init__()
        normal = lambda *shape: torch.randn(*shape, generator=generator) * 0.1
        self.W = torch.nn.Parameter(normal(4 * H, I))  # gate order i, f, g, o
        self.U = torch.nn.Parameter(normal(4 * H, H))
        self.b = torch.nn.Parameter(torch.zeros(4 * H))
        self.p = torch.nn.Parameter(normal(3, H))  # peepholes i, f, o
        log_tau = torch.rand(H, generator=generator) * 2 + 1  # tau log-uniform on [e^1, e^3] (tasks.md)
        self.tau = torch.nn.Parameter(log_tau.exp())
        self.shift = torch.nn.Parameter(torch.rand(H, generator=generator) * 100)
        # fixed, as in the trainer `phasor bench` times (Trainer's default trainROn false)
        self.register_buffer("r_on", torch.full((H,), r_on))
        self.alpha = alpha

    def time_gate(self, t):
        # floor-mod written out so that autograd gives plstm.md section 5's derivatives (floor contributes none)
        u = (t - self.shift) / self.tau
        phi = u - torch.floor(u)
        r = self.r_on
        return torch.where(phi < r / 2, 2 * phi / r, torch.where(phi < r, 2 - 2 * phi / r, self.alpha * phi))

    def forward(self, t, x, h, c):
        z = x @ self.W.T + h @ self.U.T + self.b
        zi, zf, zg, zo = z.chunk(4, dim=-1)
        i = torch.sigmoid(zi + self.p[0] * c)
        f = torch.sigmoid(zf + self.p[1] * c)
        g = torch.tanh(zg)
        c_cand = f * c + i * g
        o = torch.sigmoid(zo + self.p[2] * c_cand)  # the output peephole sees the candidate c~
        h_cand = o * torch.tanh(c_cand)
        k = self.time_gate(t)
        return k * h_cand + (1 - k) * h, k * c_cand + (1 - k) * c


class Model(torch.nn.Module):
    def __init__(self, generator, alpha):
        super().__init__()
        self.cell = PhasedLSTMCell(generator, alpha=alpha)
        self.readout = torch.nn.Linear(H, O)

    def forward(self, t, x, mask):
        """t, mask: (T, B); x: (T, B, I). Padded steps (mask 0) keep the state, so h is each sequence's last state."""
        h = torch.zeros(t.shape[1], H)
        c = torch.zeros(t.shape[1], H)
        for step in range(t.shape[0]):
            h_new, c_new = self.cell(t[step, :, None], x[step], h, c)
            m = mask[step, :, None]
            h = m * h_new + (1 - m) * h
            c = m * c_new + (1 - m) * c
        return self.readout(h)


def read_sequences(path):
    sequences = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                e = json.loads(line)
                s = sequences.setdefault(e["seq"], {"t": [], "x": [], "label": e["label"]})
                s["t"].append(e["t"])
                s["x"].append(e["x"])
    return [sequences[k] for k in sorted(sequences)]


def pad(batch):
    """A PyTorch user's padded batch: time-major, padded to the batch's longest sequence."""
    T = max(len(s["t"]) for s in batch)
    t = torch.zeros(T, len(batch))
    x = torch.zeros(T, len(batch), I)
    mask = torch.zeros(T, len(batch))
    for b, s in enumerate(batch):
        n = len(s["t"])
        t[:n, b] = torch.tensor(s["t"])
        x[:n, b] = torch.tensor(s["x"])
        mask[:n, b] = 1
    labels = torch.tensor([s["label"] for s in batch])
    return t, x, mask, labels, sum(len(s["t"]) for s in batch)


def bench_training(sequences, seconds):
    model = Model(torch.Generator().manual_seed(1), alpha=0.001)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = [pad(sequences[n : n + BATCH]) for n in range(0, len(sequences) - BATCH + 1, BATCH)]

    def step(batch):
        t, x, mask, labels, _ = batch
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(t, x, mask), labels)
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # plstm.md section 5: tau stays strictly positive
            model.cell.tau.clamp_(min=1e-3)

    for batch in batches[:2]:
        step(batch)
    sequences_done = events = 0
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < seconds:
        batch = batches[n % len(batches)]
        step(batch)
        sequences_done += BATCH
        events += batch[4]
        n += 1
    elapsed = time.perf_counter() - start
    return {"what": "training", "sequences_per_s": sequences_done / elapsed, "events_per_s": events / elapsed, "steps": n, "seconds": elapsed}


def bench_streaming(seconds):
    model = Model(torch.Generator().manual_seed(2), alpha=0.0)  # alpha 0 at inference (plstm.md section 1)
    cell = model.cell
    rng = torch.Generator().manual_seed(3)
    gaps = (torch.rand(100_000, generator=rng) * 2).tolist()
    with torch.inference_mode():
        h = torch.zeros(1, H)
        c = torch.zeros(1, H)
        now = 0.0

        def event(gap):
            nonlocal h, c, now
            now += gap
            x = torch.tensor([[math.sin(2 * math.pi * now / 3)]])
            h, c = cell(torch.tensor([now]), x, h, c)

        for gap in gaps[:200]:
            event(gap)
        events = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            for gap in gaps[events % 99_000 : events % 99_000 + 1000]:
                event(gap)
            events += 1000
        elapsed = time.perf_counter() - start
        open_fraction = (cell.time_gate(torch.tensor([now])) > 0).float().mean().item()
    return {"what": "streaming", "events_per_s": events / elapsed, "events": events, "seconds": elapsed, "open_fraction_last_event": open_fraction}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="JSON lines of `phasor gen --task freq1-async`")
    parser.add_argument("--seconds", type=float, default=10, help="measuring time of each part")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    sequences = read_sequences(args.data)
    if len(sequences) < BATCH:
        raise SystemExit(f"{args.data}: {len(sequences)} sequences, need at least {BATCH} for one batch")
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "H": H, "I": I, "batch": BATCH}))
    print(json.dumps(bench_training(sequences, args.seconds)))
    print(json.dumps(bench_streaming(args.seconds)))


if __name__ == "__main__":
    main()
