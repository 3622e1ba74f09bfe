// Which units an event has to visit. A unit whose time gate is closed sits in a min-heap keyed by the time its
// gate next opens; an open unit sits in the active list. Per event only the active units and the units whose
// opening time has come are looked at, so closed units cost nothing (plstm.md section 1, "skipping").
// Keys are i64: integer ticks for the fixed engine, the bits of a non-negative f64 time for the float engine
// (for non-negative doubles the bit patterns order like the values).

/** Pushes unit j with wake key `key`; heapSize is the current size, the new size is returned. */
export function heapPush(keys: usize, units: usize, heapSize: i32, key: i64, j: i32): i32 {
  let pos = heapSize;
  while (pos > 0) {
    const parent = (pos - 1) >> 1;
    const parentKey = load<i64>(keys + (<usize>parent << 3));
    if (parentKey <= key) break;
    store<i64>(keys + (<usize>pos << 3), parentKey);
    store<i32>(units + (<usize>pos << 2), load<i32>(units + (<usize>parent << 2)));
    pos = parent;
  }
  store<i64>(keys + (<usize>pos << 3), key);
  store<i32>(units + (<usize>pos << 2), j);
  return heapSize + 1;
}

/** Removes the root of a heap of heapSize > 0 entries; the new size is returned. */
export function heapPopRoot(keys: usize, units: usize, heapSize: i32): i32 {
  const n = heapSize - 1;
  const lastKey = load<i64>(keys + (<usize>n << 3));
  const lastUnit = load<i32>(units + (<usize>n << 2));
  let pos = 0;
  while (true) {
    let child = 2 * pos + 1;
    if (child >= n) break;
    let childKey = load<i64>(keys + (<usize>child << 3));
    if (child + 1 < n) {
      const rightKey = load<i64>(keys + (<usize>(child + 1) << 3));
      if (rightKey < childKey) {
        child++;
        childKey = rightKey;
      }
    }
    if (lastKey <= childKey) break;
    store<i64>(keys + (<usize>pos << 3), childKey);
    store<i32>(units + (<usize>pos << 2), load<i32>(units + (<usize>child << 2)));
    pos = child;
  }
  store<i64>(keys + (<usize>pos << 3), lastKey);
  store<i32>(units + (<usize>pos << 2), lastUnit);
  return n;
}
