// RFC 8785 (JCS) canonical JSON. The hub refuses a JWS whose payload is not exactly the
// canonical form of its document, so what we sign must be byte-identical to what Python's
// rfc8785 produces. For the values the page sends (strings, finite numbers, booleans, null,
// arrays and plain objects) JCS is: object keys sorted by UTF-16 code units, no whitespace,
// strings escaped as JSON.stringify escapes them, and numbers formatted as ECMAScript's
// Number.prototype.toString formats them -- which is what JSON.stringify does.

export function canonical(value) {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`JSON has no number ${value}`);
      return JSON.stringify(value);
    case "string":
      // Lone surrogates are not Unicode text; JCS (and the hub) refuse them.
      if (!value.isWellFormed()) throw new TypeError("a string holds a lone surrogate");
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new TypeError("only plain objects can be signed");
      }
      // Array.prototype.sort compares UTF-16 code units, exactly JCS's order (RFC 8785 3.2.3).
      const keys = Object.keys(value)
        .filter((k) => value[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${canonical(k)}:${canonical(value[k])}`).join(",")}}`;
    }
    default:
      throw new TypeError(`cannot sign a ${typeof value}`);
  }
}
