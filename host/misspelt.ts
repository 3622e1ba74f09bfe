/**
 * Whether a name of an input's own looks like one of the names a reader takes, misspelt. Inputs may carry fields
 * of their own, which readers leave alone; but a reader's own field misspelt would be taken for one of those and
 * lost without a word. Browser-safe: no node import.
 */

/** Whether a becomes b by at most one edit: a character inserted, removed or changed, or two neighbours swapped. */
export function oneEditApart(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (a.length > b.length) return a.slice(i + 1) === b.slice(i);
  if (a.length < b.length) return a.slice(i) === b.slice(i + 1);
  return a.slice(i + 1) === b.slice(i + 1) || (a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2));
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * The name of `known` (lower case) that `name`, not one of them, looks like misspelt: the same up to case, or one edit
 * from a name of 4 letters or more; undefined when none. Only names of printable ASCII are compared, case folded
 * A-Z only, so that the readers in AssemblyScript (assembly/wasi/ndjson.ts) and C (host/c/csv_events.c) decide it
 * on the bytes as this does.
 */
export function misspeltName(name: string, known: readonly string[]): string | undefined {
  return PRINTABLE_ASCII.test(name) ? lookalikeOf(name, known) : undefined;
}

/** The rule of misspeltName on any name, case folded as JavaScript folds it: the gateway's messages and the model
 * files have no other reader to agree with. A known name may have capitals of its own (a model's timeUnit, W): only
 * the name as written is not misspelt. */
export function lookalikeOf(name: string, known: readonly string[]): string | undefined {
  if (known.includes(name)) return undefined;
  const lower = name.toLowerCase();
  return known.find((k) => {
    const own = k.toLowerCase();
    return lower === own || (k.length >= 4 && oneEditApart(lower, own));
  });
}

/** Refuses, through `fail` (which throws), the first field of a file's object that looks like one of `names`
 * misspelt, named with `prefix` (a JSON model's level, a sensor declaration's). */
export function refuseLookalikes(object: Record<string, unknown>, names: readonly string[], prefix: string, fail: (path: string, why: string) => never): void {
  for (const key of Object.keys(object)) {
    const meant = lookalikeOf(key, names);
    if (meant !== undefined) {
      fail(`${prefix}${key}`, `looks like "${meant}" misspelt (a field of your own must differ from the format's by more than case or one letter)`);
    }
  }
}
