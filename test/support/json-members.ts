/**
 * The member names of JSON text, each as often as the text gives it: the oracle of the fuzz tests for names given
 * twice, where JSON.parse keeps one of each. A small recursive parser of its own, so that it shares nothing with
 * host/json-text.ts, whose scan it checks.
 */

/** A member's name, the names and indices leading to its object (`["readings", 2]`), and which object of the text it
 * is in (the objects counted as they open: two objects under a name given twice have one path but two numbers). */
export interface Member {
  name: string;
  path: (string | number)[];
  object: number;
}

/** Every member of every object in `text` (JSON that JSON.parse took), in the text's order. */
export function memberNames(text: string): Member[] {
  const members: Member[] = [];
  let objects = 0;
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
      const object = c === "{" ? objects++ : -1;
      for (let index = 0; ; index++) {
        let step: string | number = index;
        if (c === "{") {
          space();
          step = JSON.parse(token(/"(?:[^"\\]|\\.)*"/y)) as string;
          members.push({ name: step, path, object });
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
    const key = JSON.stringify([member.object, member.name]);
    if (seen.has(key)) twice.push(member.name);
    seen.add(key);
  }
  return twice;
}
