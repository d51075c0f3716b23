/**
 * From bytes or text to a JSON value, with the problems a person can act on: too large (checked
 * before anything is decoded or parsed), not UTF-8, not JSON (with line and column). Messages never
 * quote the input beyond a single character.
 */
import { isUtf8 } from 'node:buffer';
import type { InputError } from './types';

/** Default size limit of a JSON document: 25 MiB (a 20 MiB base64 PDF plus the rest). */
export const DEFAULT_MAX_JSON_BYTES = 25 * 1024 * 1024;
/** Default limit of nested objects and arrays (a valid document needs 5). */
export const DEFAULT_MAX_JSON_DEPTH = 16;

export type JsonTextResult = { ok: true; value: unknown } | { ok: false; errors: InputError[] };

function fail(message: string): JsonTextResult {
  return { ok: false, errors: [{ path: '', message }] };
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

function tooLarge(bytes: number, maxBytes: number): JsonTextResult {
  let [size, max] = [formatBytes(bytes), formatBytes(maxBytes)];
  if (size === max)
    [size, max] = [`${bytes.toLocaleString('en-US')} bytes`, `${maxBytes.toLocaleString('en-US')} bytes`];
  return fail(`is too large: ${size}, at most ${max} accepted`);
}

/** Line and column (1-based; columns count characters) of a UTF-16 offset in a string. */
export function lineColumnOfText(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) {
      line++;
      lineStart = i + 1;
    }
  }
  let column = 1;
  for (let i = lineStart; i < offset && i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) column++; // a low surrogate belongs to the character before it
  }
  return { line, column };
}

/** Offset of the first byte that is not part of a well-formed UTF-8 sequence, or -1. */
export function firstInvalidUtf8(buf: Uint8Array): number {
  const n = buf.length;
  let i = 0;
  while (i < n) {
    const b = buf[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return i;
    }
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

function lineColumnOfBytes(buf: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let column = 1;
  for (let i = 0; i < offset; i++) {
    const b = buf[i];
    if (b === 10) {
      line++;
      column = 1;
    } else if ((b & 0xc0) !== 0x80) {
      column++; // count lead bytes only: one per character
    }
  }
  return { line, column };
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

function describeChar(text: string, i: number): string {
  const cp = text.codePointAt(i);
  if (cp === undefined) return 'the end of the document';
  if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0)) {
    return `the control character U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return `"${String.fromCodePoint(cp)}"`;
}

/**
 * Finds where and why `text` is not JSON (RFC 8259). Iterative, so deep nesting cannot overflow the stack.
 * Returns undefined if it finds no error (then JSON.parse and this scanner disagree).
 */
export function locateJsonSyntaxError(text: string): { offset: number; problem: string } | undefined {
  const n = text.length;
  let i = 0;
  // Each open container: '{' or '['. The state says what may come next.
  const stack: number[] = [];
  type State = 'value' | 'afterValue' | 'key' | 'keyOrEnd' | 'valueOrEnd' | 'colon';
  let state: State = 'value';
  const skipWs = (): void => {
    while (i < n && WS.has(text.charCodeAt(i))) i++;
  };
  const err = (problem: string, at = i): { offset: number; problem: string } => ({ offset: at, problem });

  const scanString = (): { offset: number; problem: string } | undefined => {
    const start = i;
    i++; // opening quote
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return undefined;
      }
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === undefined) break;
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            return err('a \\u escape needs four hexadecimal digits');
          }
          i += 6;
        } else if ('"\\/bfnrt'.includes(e)) {
          i += 2;
        } else {
          return err(`invalid escape sequence "\\${e}" in a string`);
        }
        continue;
      }
      if (c < 0x20) return err(`${describeChar(text, i)} must be escaped inside a string`);
      i++;
    }
    return err('a string is not closed: the closing quote is missing', start);
  };

  const scanNumber = (): { offset: number; problem: string } | undefined => {
    const start = i;
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    const next = m ? text.charCodeAt(i + m[0].length) : 0;
    if (!m || (next >= 0x30 && next <= 0x39) || next === 0x2e || next === 0x65 || next === 0x45) {
      return err('a malformed number (no leading zeros; digits are required after "-", "." and an exponent)', start);
    }
    i += m[0].length;
    return undefined;
  };

  for (;;) {
    skipWs();
    if (state === 'value' || state === 'valueOrEnd') {
      if (i >= n) return err(stack.length ? 'the document ends in the middle of a value' : 'the document is empty');
      const ch = text[i];
      if (state === 'valueOrEnd' && ch === ']') {
        stack.pop();
        i++;
        state = 'afterValue';
      } else if (ch === '{') {
        stack.push(0x7b);
        i++;
        state = 'keyOrEnd';
      } else if (ch === '[') {
        stack.push(0x5b);
        i++;
        state = 'valueOrEnd';
      } else if (ch === '"') {
        const e = scanString();
        if (e) return e;
        state = 'afterValue';
      } else if (ch === '-' || (ch >= '0' && ch <= '9')) {
        const e = scanNumber();
        if (e) return e;
        state = 'afterValue';
      } else {
        const word = ['true', 'false', 'null'].find((w) => text.startsWith(w, i));
        if (!word) {
          if (ch === ']' || ch === '}') return err(`${describeChar(text, i)} where a value is expected`);
          if (ch === "'") return err('strings must be in double quotes');
          return err(`unexpected ${describeChar(text, i)} where a value is expected`);
        }
        i += word.length;
        state = 'afterValue';
      }
    } else if (state === 'afterValue') {
      if (stack.length === 0) {
        if (i < n) return err(`unexpected ${describeChar(text, i)} after the end of the document`);
        return undefined;
      }
      if (i >= n) return err('the document ends before every { or [ is closed');
      const ch = text[i];
      const top = stack[stack.length - 1];
      if (ch === ',') {
        const comma = i;
        i++;
        skipWs();
        if (text[i] === '}' || text[i] === ']') return err('a trailing comma before the closing bracket', comma);
        state = top === 0x7b ? 'key' : 'value';
      } else if (ch === '}' && top === 0x7b) {
        stack.pop();
        i++;
      } else if (ch === ']' && top === 0x5b) {
        stack.pop();
        i++;
      } else {
        return err(
          `expected ${top === 0x7b ? "',' or '}'" : "',' or ']'"} after a ${top === 0x7b ? 'property value' : 'list item'}, found ${describeChar(text, i)}`,
        );
      }
    } else if (state === 'key' || state === 'keyOrEnd') {
      if (i >= n) return err('the document ends before every { or [ is closed');
      const ch = text[i];
      if (state === 'keyOrEnd' && ch === '}') {
        stack.pop();
        i++;
        state = 'afterValue';
      } else if (ch === '"') {
        const e = scanString();
        if (e) return e;
        state = 'colon';
      } else {
        return err(`expected a property name in double quotes, found ${describeChar(text, i)}`);
      }
    } else {
      if (i >= n) return err('the document ends before every { or [ is closed');
      if (text[i] !== ':') return err(`expected ':' after a property name, found ${describeChar(text, i)}`);
      i++;
      state = 'value';
    }
  }
}

/**
 * Offset of the first bracket that opens more than `maxDepth` nested objects and arrays, or -1.
 * Strings are skipped with indexOf, so a long string costs little. Run before JSON.parse, which
 * would otherwise build millions of nested arrays from `[[[[…`.
 */
export function findExcessNesting(text: string, maxDepth: number): number {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i;
      for (;;) {
        j = text.indexOf('"', j + 1);
        if (j < 0) return -1; // an unterminated string: the JSON syntax check reports it
        let backslashes = 0;
        for (let k = j - 1; text.charCodeAt(k) === 0x5c; k--) backslashes++;
        if (backslashes % 2 === 0) break;
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return -1;
}

/**
 * Decodes and parses a JSON document. The size limit is checked first, in bytes (UTF-8).
 * A UTF-8 byte-order mark is ignored. With `objectOnly`, a document that is not a JSON object is
 * rejected without being parsed.
 */
export function parseJsonText(
  input: string | Uint8Array,
  maxBytes = DEFAULT_MAX_JSON_BYTES,
  maxDepth = DEFAULT_MAX_JSON_DEPTH,
  objectOnly = false,
): JsonTextResult {
  let text: string;
  if (typeof input === 'string') {
    const bytes = Buffer.byteLength(input, 'utf8'); // native and fast; nothing is decoded or copied
    if (bytes > maxBytes) return tooLarge(bytes, maxBytes);
    text = input;
  } else {
    if (input.byteLength > maxBytes) return tooLarge(input.byteLength, maxBytes);
    if (!isUtf8(input)) {
      const at = firstInvalidUtf8(input);
      const { line, column } = lineColumnOfBytes(input, Math.max(at, 0));
      const byte = input[at] ?? 0;
      return fail(
        `is not valid UTF-8: byte 0x${byte.toString(16).toUpperCase().padStart(2, '0')} at line ${line}, column ${column} (byte offset ${at}) does not start a valid character`,
      );
    }
    text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (objectOnly) {
    // Junk rarely starts with "{": find its first problem without parsing (or scanning) the rest.
    let k = 0;
    while (k < text.length && WS.has(text.charCodeAt(k))) k++;
    if (text[k] !== '{') {
      const found = locateJsonSyntaxError(text);
      if (found) {
        const { line, column } = lineColumnOfText(text, found.offset);
        return fail(`is not valid JSON: ${found.problem} at line ${line}, column ${column}`);
      }
      const kind =
        text[k] === '['
          ? 'an array'
          : text[k] === '"'
            ? 'a string'
            : text[k] === 'n'
              ? 'null'
              : text[k] === 't' || text[k] === 'f'
                ? 'a boolean'
                : 'a number';
      return fail(`must be a JSON object (got ${kind})`);
    }
  }
  const deep = findExcessNesting(text, maxDepth);
  if (deep >= 0) {
    const { line, column } = lineColumnOfText(text, deep);
    return fail(
      `is nested too deeply: more than ${maxDepth} levels of objects and arrays at line ${line}, column ${column}`,
    );
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    const found = locateJsonSyntaxError(text);
    if (!found) return fail('is not valid JSON');
    const { line, column } = lineColumnOfText(text, found.offset);
    return fail(`is not valid JSON: ${found.problem} at line ${line}, column ${column}`);
  }
}
