/**
 * Names given twice in one JSON object. JSON.parse keeps the last of them and drops the others without a word, so
 * `{"t": 1, "t": 2}` reads as t = 2 and the 1 is lost; a reader that must not drop what it was given looks for them
 * here, in text that JSON.parse has accepted. Browser-safe.
 */

/** Where a name was given twice: the name, the names and indices leading to its object (`["layers", 0]`), and the
 * offset of its second occurrence in the text. */
export interface RepeatedName {
  name: string;
  path: (string | number)[];
  offset: number;
}

/**
 * Whether `text` (valid JSON) may give a name twice in one object, from its count of ':' and `names`, the number of
 * names in the objects JSON.parse made of it: every name in the text is followed by a ':', so a text with no more
 * ':' than names repeats none. False is sure; true asks repeatedName. A few native searches for a line of
 * events, where the scan would read every character.
 */
export function mayRepeatNames(text: string, names: number): boolean {
  let colons = 0;
  for (let at = text.indexOf(":"); at >= 0; at = text.indexOf(":", at + 1)) if (++colons > names) return true;
  return false;
}

/**
 * The first name given a second time in one object of `text` (valid JSON: what JSON.parse accepted), among those
 * `watched` picks by name and path; undefined when there is none. Names are compared decoded, as JSON.parse
 * compares them (`"\u0074"` is `"t"`).
 */
export function repeatedName(text: string, watched: (name: string, path: readonly (string | number)[]) => boolean = () => true): RepeatedName | undefined {
  // per open object, the names watched so far and the name of the member being read; per open array, the index
  const stack: { seen: Set<string> | undefined; at: string | number }[] = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let end = i + 1;
      for (let d = text.charCodeAt(end); d !== QUOTE; d = text.charCodeAt(end)) end += d === BACKSLASH ? 2 : 1;
      if (expectName) {
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        const frame = stack[stack.length - 1];
        frame.at = name;
        const path = stack.slice(0, -1).map((f) => f.at);
        if (watched(name, path)) {
          if (frame.seen!.has(name)) return { name, path, offset: i };
          frame.seen!.add(name);
        }
        expectName = false;
      }
      i = end;
    } else if (c === OPEN_BRACE) {
      stack.push({ seen: new Set(), at: "" });
      expectName = true;
    } else if (c === OPEN_BRACKET) {
      stack.push({ seen: undefined, at: 0 });
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
  return undefined;
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
