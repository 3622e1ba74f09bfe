/**
 * What JSON.parse leaves unsaid about a text. Names given twice in one object: JSON.parse keeps the last of them and
 * drops the others without a word, so `{"t": 1, "t": 2}` reads as t = 2 and the 1 is lost; a reader that must not
 * drop what it was given looks for them here, in text that JSON.parse has accepted. And how deep its arrays and
 * objects nest, which readers with a bound of their own (the gateway's messages, phasor-wasi's JSON reader) check
 * before or beside it. Browser-safe.
 */

/** Where a name was given twice: the name, the names and indices leading to its object (`["layers", 0]`), and the
 * offset of its second occurrence in the text. */
export interface RepeatedName {
  name: string;
  path: (string | number)[];
  offset: number;
}

/**
 * Whether `text` may give a name twice in one object, `value` being what JSON.parse made of it; false is sure, true
 * asks repeatedName, whose scan reads every character. A name JSON.parse dropped for a later one leaves the text with
 * more of something than `value` has, and two cheap counts look for that:
 * - every name in the text is followed by a ':', so a text with no more ':' than `value` has names repeats none (a
 *   line of events: a few native searches);
 * - without escapes every '"' opens or closes a string, and the text's strings are the names and string values of
 *   `value` and those dropped with a repeated name, so a text with twice as many '"' as those repeats none (a ':' in a
 *   string of the text's own, such as a time of day, fails the first count but not this one).
 * `topNames`, the names of `value`'s top level where the caller has counted them already, spares the walk of `value`
 * to a text whose ':' they account for.
 */
export function mayRepeatNames(text: string, value: unknown, topNames?: number): boolean {
  // the names of value's top level alone first, which the caller may have counted: a line of events has no others
  if (topNames !== undefined && !beyond(text, ":", topNames)) return false;
  const kept = { names: 0, strings: 0 };
  count(value, kept);
  if (!beyond(text, ":", kept.names)) return false;
  return text.includes("\\") || beyond(text, '"', 2 * (kept.names + kept.strings));
}

/** The names and the strings among the values in a parsed JSON value, added to `kept`. */
function count(value: unknown, kept: { names: number; strings: number }): void {
  if (typeof value === "string") kept.strings++;
  else if (Array.isArray(value)) for (const element of value) count(element, kept);
  else if (typeof value === "object" && value !== null) {
    for (const name in value) {
      kept.names++;
      count((value as Record<string, unknown>)[name], kept);
    }
  }
}

/** Whether `text` holds `c` more than `limit` times (a native search for each, up to the one past the limit). */
function beyond(text: string, c: string, limit: number): boolean {
  let found = 0;
  for (let at = text.indexOf(c); at >= 0; at = text.indexOf(c, at + 1)) if (++found > limit) return true;
  return false;
}

/**
 * The first name given a second time in one object of `text` (valid JSON: what JSON.parse accepted), among those
 * `watched` picks by name and path; undefined when there is none. Names are compared decoded, as JSON.parse
 * compares them (`"\u0074"` is `"t"`).
 */
export function repeatedName(text: string, watched: Watched = () => true): RepeatedName | undefined {
  let first: RepeatedName | undefined;
  scanNames(text, watched, (repeated) => {
    first = repeated;
    return false;
  });
  return first;
}

/**
 * Every name given again in one object of `text` (valid JSON), among those `watched` picks, in the text's order:
 * a name given three times is there twice. For a reader that refuses each part of its input on its own (the
 * readings of a gateway message), where the first alone would not say which parts are whole.
 */
export function repeatedNames(text: string, watched: Watched = () => true): RepeatedName[] {
  const all: RepeatedName[] = [];
  scanNames(text, watched, (repeated) => all.push(repeated) > 0);
  return all;
}

/**
 * The first name given twice in any object of a JSON file's `text` (valid JSON, which JSON.parse made `value` of),
 * among those `watched` picks (every one by default), as its reader says it after the file's name: `layers[0].W is
 * given twice (line 12, column 7): JSON would keep only the last`; undefined when there is none. For files read
 * whole, where every name is the format's or refused already: one given twice is a slip of whoever wrote it, and the
 * value JSON.parse kept may be the wrong one.
 */
export function repeatedInFile(text: string, value: unknown, watched: Watched = () => true): string | undefined {
  if (!mayRepeatNames(text, value)) return undefined;
  const repeated = repeatedName(text, watched);
  if (repeated === undefined) return undefined;
  return `${pathText([...repeated.path, repeated.name])} is given twice (${lineAndColumn(text, repeated.offset)}): JSON would keep only the last`;
}

/** "line L, column C" of an offset in `text`, both from 1 (a column counts UTF-16 code units, as an offset does). */
export function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  return `line ${before.split("\n").length}, column ${offset - before.lastIndexOf("\n")}`;
}

/** Which names a scan looks for repeats of: by name and by the path of their object. */
export type Watched = (name: string, path: readonly (string | number)[]) => boolean;

/** The scan of repeatedName and repeatedNames: `found` is told each repeat in the text's order, and says whether to go on. */
function scanNames(text: string, watched: Watched, found: (repeated: RepeatedName) => boolean): void {
  // per open object, the names watched so far and the name of the member being read; per open array, the index;
  // each with its path, made once when it opens (not for every name: an object of many names of a device's own)
  const stack: { seen: Set<string> | undefined; at: string | number; path: (string | number)[] }[] = [];
  const open = (seen: Set<string> | undefined, at: string | number) => {
    const parent = stack[stack.length - 1];
    stack.push({ seen, at, path: parent === undefined ? [] : [...parent.path, parent.at] });
  };
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // the closing quote: the next one not escaped, found by a native search rather than a character at a time
      let end = text.indexOf('"', i + 1);
      while (escaped(text, end)) end = text.indexOf('"', end + 1);
      if (end < 0) return; // a string never closed: not JSON, which callers have refused already; never a loop
      if (expectName) {
        const raw = text.slice(i + 1, end);
        const name = raw.includes("\\") ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        const frame = stack[stack.length - 1];
        frame.at = name;
        if (watched(name, frame.path)) {
          if (!frame.seen!.has(name)) frame.seen!.add(name);
          else if (!found({ name, path: [...frame.path], offset: i })) return;
        }
        expectName = false;
      }
      i = end;
    } else if (c === OPEN_BRACE) {
      open(new Set(), "");
      expectName = true;
    } else if (c === OPEN_BRACKET) {
      open(undefined, 0);
      expectName = false;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      stack.pop();
      expectName = false;
    } else if (c === COMMA) {
      const frame = stack[stack.length - 1];
      if (frame.seen !== undefined) expectName = true;
      else frame.at = (frame.at as number) + 1;
    }
  }
}

/** Whether the quote at `at` is escaped: an odd number of backslashes before it. */
function escaped(text: string, at: number): boolean {
  let k = at;
  while (text.charCodeAt(k - 1) === BACKSLASH) k--;
  return (at - k) % 2 === 1;
}

/** A path as messages write it: `layers[0].W`, or "the top level" for []. */
export function pathText(path: readonly (string | number)[]): string {
  if (path.length === 0) return "the top level";
  return path.map((step, k) => (typeof step === "number" ? `[${step}]` : /^[A-Za-z_$][\w$]*$/.test(step) ? (k === 0 ? step : `.${step}`) : `[${JSON.stringify(step)}]`)).join("");
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

/**
 * The offset at which the UTF-8 JSON text `bytes` opens its (max + 1)-th level of arrays and objects, outside
 * strings, or -1 when it nests no deeper than `max`. Any bytes: the text need not be valid JSON.
 */
export function nestedBeyond(bytes: Uint8Array, max: number): number {
  let depth = 0;
  let inString = false;
  for (let k = 0; k < bytes.length; k++) {
    const byte = bytes[k];
    // "[" 0x5b and "{" 0x7b, "]" 0x5d and "}" 0x7d differ in bit 5 alone; the bytes of a multi-byte character are
    // none of these, nor '"' 0x22 or "\\" 0x5c
    const bracket = byte & 0xdf;
    if (inString) {
      if (byte === 0x5c) k++;
      else if (byte === 0x22) inString = false;
    } else if (bracket === 0x5b) {
      if (++depth > max) return k;
    } else if (bracket === 0x5d) depth--;
    else if (byte === 0x22) inString = true;
  }
  return -1;
}

/** Whether `text` holds more than `max` '[' and '{' together, as one nested deeper than `max` must: a few native
 * searches, before tooDeepFirst reads it character by character. */
export function mayNestBeyond(text: string, max: number): boolean {
  let found = 0;
  for (const c of ["[", "{"]) for (let at = text.indexOf(c); at >= 0; at = text.indexOf(c, at + 1)) if (++found > max) return true;
  return false;
}

/**
 * Whether a JSON reader that reads text in order and stops at its (max + 1)-th level of arrays and objects (as
 * phasor-wasi's does) meets that level before anything that is not JSON: then it says "too deep" where JSON.parse,
 * which has no bound, may say "not JSON" of a text that goes wrong only after it. Decided by JSON.parse of the text
 * before that level, with a value and the brackets that close it: it parses when the text up to there is JSON so far,
 * with a value expected (where a name is expected, the reader has met something that is not JSON).
 */
export function tooDeepFirst(text: string, max: number): boolean {
  const open: string[] = [];
  let inString = false;
  for (let k = 0; k < text.length; k++) {
    const c = text[k];
    if (inString) {
      if (c === "\\") k++;
      else if (c === '"') inString = false;
    } else if (c === "[" || c === "{") {
      if (open.length === max) {
        try {
          JSON.parse(`${text.slice(0, k)}0${open.map((o) => (o === "[" ? "]" : "}")).reverse().join("")}`);
          return true;
        } catch {
          return false;
        }
      }
      open.push(c);
    } else if (c === "]" || c === "}") open.pop();
    else if (c === '"') inString = true;
  }
  return false;
}
