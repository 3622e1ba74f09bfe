// Unsigned big integers of fixed capacity in static memory, for the exact paths of decimal parsing and
// shortest printing (decimal.ts, shortest.ts). A number is a block of a u32 limb count and LIMBS little-endian
// u32 limbs; nothing is allocated. Capacity: 4160 bits, above the largest value either path forms
// (800 decimal digits times 10^1123 for the parser, about 1140 bits for the printer).

const LIMBS: i32 = 130;
/** Bytes of one number: `const n = memory.data(BIG_BYTES, 4)` gives one. */
export const BIG_BYTES: i32 = 4 + LIMBS * 4;

@inline function limbAt(a: usize, i: i32): usize {
  return a + 4 + (<usize>i << 2);
}

@inline export function bigLength(a: usize): i32 {
  return load<i32>(a);
}

@inline function setLength(a: usize, n: i32): void {
  while (n > 0 && load<u32>(limbAt(a, n - 1)) == 0) n--;
  store<i32>(a, n);
}

export function bigSet(a: usize, v: u64): void {
  store<u32>(limbAt(a, 0), <u32>v);
  store<u32>(limbAt(a, 1), <u32>(v >>> 32));
  setLength(a, 2);
}

export function bigCopy(dst: usize, src: usize): void {
  memory.copy(dst, src, 4 + (<usize>bigLength(src) << 2));
}

/** a = a * m + carry */
export function bigMulAdd(a: usize, m: u32, carry: u32): void {
  const n = bigLength(a);
  let c = <u64>carry;
  for (let i = 0; i < n; i++) {
    const p = <u64>load<u32>(limbAt(a, i)) * m + c;
    store<u32>(limbAt(a, i), <u32>p);
    c = p >>> 32;
  }
  if (c != 0) {
    store<u32>(limbAt(a, n), <u32>c);
    store<i32>(a, n + 1);
  } else {
    setLength(a, n);
  }
}

/** a = a * 5^e */
export function bigMulPow5(a: usize, e: i32): void {
  // 5^13 is the largest power of five in a u32
  while (e >= 13) {
    bigMulAdd(a, 1220703125, 0);
    e -= 13;
  }
  let m: u32 = 1;
  while (e-- > 0) m *= 5;
  if (m != 1) bigMulAdd(a, m, 0);
}

/** a = a * 2^e */
export function bigShiftLeft(a: usize, e: i32): void {
  const n = bigLength(a);
  if (n == 0 || e == 0) return;
  const words = e >>> 5;
  const bits = e & 31;
  let top = n + words;
  if (bits == 0) {
    for (let i = n - 1; i >= 0; i--) store<u32>(limbAt(a, i + words), load<u32>(limbAt(a, i)));
  } else {
    store<u32>(limbAt(a, top), load<u32>(limbAt(a, n - 1)) >>> (32 - bits));
    for (let i = n - 1; i > 0; i--) {
      store<u32>(limbAt(a, i + words), (load<u32>(limbAt(a, i)) << bits) | (load<u32>(limbAt(a, i - 1)) >>> (32 - bits)));
    }
    store<u32>(limbAt(a, words), load<u32>(limbAt(a, 0)) << bits);
    top++;
  }
  for (let i = 0; i < words; i++) store<u32>(limbAt(a, i), 0);
  setLength(a, top);
}

/** -1, 0 or 1 as a < b, a == b, a > b */
export function bigCompare(a: usize, b: usize): i32 {
  const n = bigLength(a);
  const m = bigLength(b);
  if (n != m) return n < m ? -1 : 1;
  for (let i = n - 1; i >= 0; i--) {
    const x = load<u32>(limbAt(a, i));
    const y = load<u32>(limbAt(b, i));
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

/** The sign of a + b - c, without forming a + b. */
export function bigCompareSum(a: usize, b: usize, c: usize): i32 {
  const na = bigLength(a);
  const nb = bigLength(b);
  const nc = bigLength(c);
  const n = max(max(na, nb), nc);
  // Limb by limb from the bottom with a signed carry: a + b - c = carry * 2^(32 n) + (the limbs, each in [0, 2^32)).
  let carry: i64 = 0;
  let lowBits = false;
  for (let i = 0; i < n; i++) {
    const d = (i < na ? <i64>load<u32>(limbAt(a, i)) : 0) + (i < nb ? <i64>load<u32>(limbAt(b, i)) : 0) - (i < nc ? <i64>load<u32>(limbAt(c, i)) : 0) + carry;
    if ((d & 0xffffffff) != 0) lowBits = true;
    carry = d >> 32;
  }
  if (carry != 0) return carry < 0 ? -1 : 1;
  return lowBits ? 1 : 0;
}

/** a = a - b, for a >= b */
export function bigSubtract(a: usize, b: usize): void {
  const n = bigLength(a);
  const m = bigLength(b);
  let borrow: i64 = 0;
  for (let i = 0; i < n; i++) {
    const d = <i64>load<u32>(limbAt(a, i)) - (i < m ? <i64>load<u32>(limbAt(b, i)) : 0) + borrow;
    store<u32>(limbAt(a, i), <u32>d);
    borrow = d >> 32;
  }
  setLength(a, n);
}

/** a = a + b */
export function bigAdd(a: usize, b: usize): void {
  const n = max(bigLength(a), bigLength(b));
  let carry: u64 = 0;
  for (let i = 0; i < n; i++) {
    const s = (i < bigLength(a) ? <u64>load<u32>(limbAt(a, i)) : 0) + (i < bigLength(b) ? <u64>load<u32>(limbAt(b, i)) : 0) + carry;
    store<u32>(limbAt(a, i), <u32>s);
    carry = s >>> 32;
  }
  if (carry != 0) {
    store<u32>(limbAt(a, n), <u32>carry);
    store<i32>(a, n + 1);
  } else {
    setLength(a, n);
  }
}
