/**
 * Methods that keep their object when taken from it: `const { push } = stream; push(t, x)` or `events.forEach((e) =>
 * ...)` with a method passed on would otherwise run without `this` and fail with a TypeError about a property of
 * undefined, nowhere near the call that lost it. Browser-safe: no node import.
 */

/** Binds to `object` every method its class (and the classes it extends) defines; getters stay as they are. */
export function bindMethods(object: object): void {
  for (let proto = Object.getPrototypeOf(object); proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (name === "constructor" || descriptor === undefined || typeof descriptor.value !== "function" || Object.hasOwn(object, name)) continue;
      Object.defineProperty(object, name, { value: descriptor.value.bind(object), writable: true, configurable: true });
    }
  }
}
