import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { Segments } from './issues';

/** A property that occurs twice in one JSON object (JSON.parse silently keeps the last one). */
export interface DuplicateProperty {
  /** Location of the object holding the duplicated property. */
  readonly segments: Segments;
  readonly name: string;
}

export type ParsedJson =
  { ok: true; value: unknown; duplicates: DuplicateProperty[] } | { ok: false; issue: OperationOutcomeIssue };

class JsonSyntaxError extends Error {
  constructor(
    readonly position: number,
    readonly reason: string,
    /** Location of the innermost object or array being read when the error was found. */
    readonly where: readonly (string | number)[],
  ) {
    super(reason);
  }
}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * A strict RFC 8259 scanner used next to JSON.parse: it finds the position and a readable
 * reason for a syntax error (comments, trailing commas, unquoted names, missing commas), and
 * the properties that occur twice in one object, which FHIR JSON forbids.
 */
class Scanner {
  private pos = 0;
  private where: (string | number)[] = [];
  readonly duplicates: DuplicateProperty[] = [];
  /** The root object's resourceType, once read. */
  rootType: string | undefined;

  constructor(private readonly text: string) {}

  scan(): void {
    this.skipWhitespace();
    this.value([]);
    this.skipWhitespace();
    if (this.pos < this.text.length) {
      this.fail('unexpected content after the end of the JSON value');
    }
  }

  private fail(reason: string, at = this.pos): never {
    throw new JsonSyntaxError(at, reason, this.where);
  }

  private skipWhitespace(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (WHITESPACE.has(c)) {
        this.pos++;
      } else if (c === 0x2f /* / */ && (this.text[this.pos + 1] === '/' || this.text[this.pos + 1] === '*')) {
        this.fail('comments are not allowed in JSON');
      } else {
        return;
      }
    }
  }

  private value(segments: (string | number)[]): void {
    const c = this.text[this.pos];
    if (c === '{') {
      this.object(segments);
    } else if (c === '[') {
      this.array(segments);
    } else if (c === '"') {
      this.string();
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      this.number();
    } else if (this.text.startsWith('true', this.pos)) {
      this.pos += 4;
    } else if (this.text.startsWith('false', this.pos)) {
      this.pos += 5;
    } else if (this.text.startsWith('null', this.pos)) {
      this.pos += 4;
    } else if (c === undefined) {
      this.fail('unexpected end of the content');
    } else if (c === "'") {
      this.fail('strings must be in double quotes');
    } else {
      this.fail('a value is expected here (strings must be in double quotes)');
    }
  }

  private object(segments: (string | number)[]): void {
    this.pos++; // {
    this.where = segments;
    const keys = new Set<string>();
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] === '}') {
        this.fail('trailing comma before the end of the object');
      }
      if (this.text[this.pos] !== '"') {
        this.fail('property names must be in double quotes');
      }
      const name = this.string();
      if (keys.has(name)) {
        this.duplicates.push({ segments: [...segments], name });
      }
      keys.add(name);
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') {
        this.fail("a ':' is expected after the property name");
      }
      this.pos++;
      this.skipWhitespace();
      if (segments.length === 0 && name === 'resourceType' && this.text[this.pos] === '"') {
        this.rootType = this.string();
      } else {
        this.value([...segments, name]);
      }
      this.where = segments;
      this.skipWhitespace();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
      } else if (c === '}') {
        this.pos++;
        return;
      } else if (c === undefined) {
        this.fail('unexpected end of the content inside an object');
      } else {
        this.fail("a ',' or '}' is expected after the property value (missing comma?)");
      }
    }
  }

  private array(segments: (string | number)[]): void {
    this.pos++; // [
    this.where = segments;
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return;
    }
    for (let i = 0; ; i++) {
      this.skipWhitespace();
      if (this.text[this.pos] === ']') {
        this.fail('trailing comma before the end of the array');
      }
      this.value([...segments, i]);
      this.where = segments;
      this.skipWhitespace();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
      } else if (c === ']') {
        this.pos++;
        return;
      } else if (c === undefined) {
        this.fail('unexpected end of the content inside an array');
      } else {
        this.fail("a ',' or ']' is expected after the array item (missing comma?)");
      }
    }
  }

  private string(): string {
    const start = this.pos;
    this.pos++; // opening quote
    let simple = true;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x22) {
        this.pos++;
        const raw = this.text.slice(start, this.pos);
        return simple ? raw.slice(1, -1) : (JSON.parse(raw) as string);
      }
      if (c === 0x5c) {
        simple = false;
        const next = this.text[this.pos + 1];
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) {
            this.fail('invalid \\u escape in a string');
          }
          this.pos += 6;
        } else if (next !== undefined && '"\\/bfnrt'.includes(next)) {
          this.pos += 2;
        } else {
          this.fail('invalid escape sequence in a string');
        }
        continue;
      }
      if (c < 0x20) {
        this.fail('control characters (such as a raw line break) must be escaped inside strings');
      }
      this.pos++;
    }
    return this.fail('a string is not terminated', start);
  }

  private number(): void {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.text.slice(this.pos, this.pos + 400));
    if (!m) {
      this.fail('invalid number');
    }
    this.pos += m[0].length;
  }
}

function lineAndColumn(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < position && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, column: position - last };
}

/**
 * Parse FHIR JSON strictly (RFC 8259: no comments, trailing commas or unquoted names). A parse
 * error becomes a fatal issue with the line, column and reason; messages never quote the input.
 * Properties that occur twice in one object are returned for the validator to report.
 */
export function parseJsonText(text: string): ParsedJson {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const scanner = new Scanner(body);
  try {
    scanner.scan();
    return { ok: true, value: JSON.parse(body), duplicates: scanner.duplicates };
  } catch (err) {
    const position = err instanceof JsonSyntaxError ? err.position : undefined;
    const reason = err instanceof JsonSyntaxError ? err.reason : 'the content could not be parsed';
    const where = position === undefined ? undefined : lineAndColumn(body, position);
    const root = scanner.rootType && /^[A-Z][A-Za-z]{1,63}$/.test(scanner.rootType) ? scanner.rootType : undefined;
    const expression =
      root && err instanceof JsonSyntaxError
        ? root + err.where.map((seg) => (typeof seg === 'number' ? `[${seg}]` : `.${seg.replace(/^_/, '')}`)).join('')
        : undefined;
    return {
      ok: false,
      issue: {
        severity: 'fatal',
        code: 'invalid',
        ...(expression ? { expression: [expression] } : {}),
        details: {
          text: `The content is not valid JSON${where ? ` (line ${where.line}, column ${where.column})` : ''}: ${reason}. FHIR JSON must be strict JSON: no comments, no trailing commas, names and strings in double quotes`,
        },
        diagnostics: where ? `[${where.line},${where.column}] RFC 8259 JSON syntax` : 'RFC 8259 JSON syntax',
      },
    };
  }
}
