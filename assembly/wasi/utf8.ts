// UTF-8 decoded as node decodes it (the WHATWG decoder): for the JSON reader's strings and for messages, so that
// both show invalid bytes as the U+FFFD that `phasor run`, reading the same bytes, shows.

/** where the sequence decodeUtf8 read last ends */
export let decodedEnd: usize = 0;

/** The code point of the UTF-8 sequence at p, or U+FFFD for an invalid one (WHATWG: the longest valid
 * prefix is replaced, the byte that broke it is read again); decodedEnd is after what was used. */
export function decodeUtf8(p: usize, end: usize): u32 {
  const b = <u32>load<u8>(p);
  let needed: i32;
  let cp: u32;
  let lower: u32 = 0x80;
  let upper: u32 = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) {
    needed = 1;
    cp = b & 0x1f;
  } else if (b >= 0xe0 && b <= 0xef) {
    needed = 2;
    cp = b & 0xf;
    if (b == 0xe0) lower = 0xa0;
    if (b == 0xed) upper = 0x9f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    needed = 3;
    cp = b & 7;
    if (b == 0xf0) lower = 0x90;
    if (b == 0xf4) upper = 0x8f;
  } else {
    decodedEnd = p + 1;
    return 0xfffd;
  }
  for (let i = 1; i <= needed; i++) {
    const at = p + <usize>i;
    if (at >= end) {
      decodedEnd = at;
      return 0xfffd;
    }
    const c = <u32>load<u8>(at);
    if (c < lower || c > upper) {
      decodedEnd = at;
      return 0xfffd;
    }
    lower = 0x80;
    upper = 0xbf;
    cp = (cp << 6) | (c & 0x3f);
  }
  decodedEnd = p + <usize>needed + 1;
  return cp;
}
