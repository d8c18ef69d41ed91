/**
 * HTTP/1.1 syntax checks shared by everything that reads or writes HTTP/1.1 by hand: the downstream fast
 * path, the upstream client and its parser, and the places that forward values set by filters.
 */

/** A field name is a token (RFC 9110 §5.1); names are checked after lower-casing. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

export function isToken(lowerCaseName: string): boolean {
  return TOKEN.test(lowerCaseName);
}

/** A request target has no whitespace or control characters (RFC 9112 §3.2). */
export function isRequestTarget(target: string): boolean {
  if (target.length === 0) return false;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return false;
  }
  return true;
}

/** Field values: visible characters, spaces, tabs and obs-text (RFC 9110 §5.5). */
export function isFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

/** True when a value holds CR, LF or NUL: written into a head, it would split the message. */
export function hasForbiddenChar(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 13 || c === 10 || c === 0) return true;
  }
  return false;
}
