/**
 * The member names of JSON text, each as often as the text gives it: the oracle of the fuzz tests for names given
 * twice, where JSON.parse keeps one of each. A small recursive parser of its own, so that it shares nothing with
 * host/json-text.ts, whose scan it checks.
 */

/** A member's name and the names and indices leading to its object (`["readings", 2]`). */
export interface Member {
  name: string;
  path: (string | number)[];
}

/** Every member of every object in `text` (JSON that JSON.parse took), in the text's order. */
export function memberNames(text: string): Member[] {
  const members: Member[] = [];
  let at = 0;
  const token = (pattern: RegExp) => {
    pattern.lastIndex = at;
    const found = pattern.exec(text)![0];
    at += found.length;
    return found;
  };
  const space = () => token(/[ \t\n\r]*/y);
  const value = (path: (string | number)[]): void => {
    space();
    const c = text[at];
    if (c === "{" || c === "[") {
      at++;
      space();
      if (text[at] === (c === "{" ? "}" : "]")) {
        at++;
        return;
      }
      for (let index = 0; ; index++) {
        let step: string | number = index;
        if (c === "{") {
          space();
          step = JSON.parse(token(/"(?:[^"\\]|\\.)*"/y)) as string;
          members.push({ name: step, path });
          space();
          at++; // the colon
        }
        value([...path, step]);
        space();
        if (text[at++] !== ",") return;
      }
    }
    if (c === '"') token(/"(?:[^"\\]|\\.)*"/y);
    else token(/-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y);
  };
  value([]);
  return members;
}

/** The names of `members` given more than once in one object, among those `watched` picks. */
export function namesGivenTwice(members: Member[], watched: (member: Member) => boolean): string[] {
  const seen = new Set<string>();
  const twice: string[] = [];
  for (const member of members.filter(watched)) {
    const key = JSON.stringify([...member.path, member.name]);
    if (seen.has(key)) twice.push(member.name);
    seen.add(key);
  }
  return twice;
}
