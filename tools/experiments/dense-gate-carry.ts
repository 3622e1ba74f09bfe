// The carry bound of the dense-gate prototype (fixed/step.ts, CARRY_MAX): phaseAt's phi minus the dense scan's A, mod
// 2^32, over random and extreme seeds, steps and ticks, in BigInt. Prints how often each difference came.
//   npx tsx tools/experiments/dense-gate-carry.ts
const M32 = (1n << 32n) - 1n;
const M64 = (1n << 64n) - 1n;
let state = 0x9e3779b97f4a7c15n;
function rand64(): bigint {
  state = (state * 6364136223846793005n + 1442695040888963407n) & M64;
  let z = state;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return z ^ (z >> 31n);
}
const EXTREMES = [0n, 1n, M32 - 1n, M32];
const word = () => (rand64() & 7n) === 0n ? EXTREMES[Number(rand64() & 3n)] : rand64() & M32;
const counts = new Map<bigint, number>();
for (let i = 0; i < 2_000_000; i++) {
  const seed = (word() << 32n) | word();
  const s0 = word(), s1 = word(), s2 = word();
  const T = ((word() & ((1n << 30n) - 1n)) << 32n) | word(); // T < 2^62
  const T1 = T >> 32n, T0 = T & M32;
  const step = (s2 << 32n) | s1;
  // phaseAt
  const phase = (seed + T * step + T1 * s0 + ((T0 * s0) >> 32n)) & M64;
  const phi = phase >> 32n;
  // the dense scan's A
  const X = (T0 * s1 + T1 * s0) & M64;
  const A = ((seed >> 32n) + (X >> 32n) + ((T1 * s1) & M32) + ((T0 * s2) & M32)) & M32;
  const d = (phi - A) & M32;
  counts.set(d, (counts.get(d) ?? 0) + 1);
}
console.log([...counts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([d, n]) => `phi - A = ${d}: ${n}`).join("\n"));
