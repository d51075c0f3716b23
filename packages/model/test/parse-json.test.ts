import { randomBytes } from 'node:crypto';
import { DEFAULT_MAX_JSON_BYTES, parseCanonical, parseCanonicalJson, STRUCTURE_LIMITS } from '../src';
import { fullOrder, fullResult, minimalOrder } from './fixtures';
import { errorsOf, expectError, expectOk, loose } from './helpers';

const MiB = 1024 * 1024;

/** The single error of a rejected document, checked to carry no stack trace. */
function onlyError(r: ReturnType<typeof parseCanonicalJson>): { path: string; message: string } {
  const errors = errorsOf(r);
  expect(errors).toHaveLength(1);
  expect(errors[0].message).not.toMatch(/\n\s+at |Error:|\.ts:\d+/);
  return errors[0];
}

function timed<T>(fn: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t0 };
}

describe('parseCanonical', () => {
  it('dispatches on kind', () => {
    const order = expectOk(parseCanonical(fullOrder()));
    expect(order.kind).toBe('order');
    const result = expectOk(parseCanonical(fullResult()));
    expect(result.kind).toBe('result');
  });

  it('says what kind must be when it is missing', () => {
    const o = loose(minimalOrder());
    delete o.kind;
    expect(errorsOf(parseCanonical(o))).toEqual([
      {
        path: '/kind',
        message: 'is required: "order" for a bone marrow aspiration order or "result" for a result update',
      },
    ]);
  });

  it('names an unknown kind', () => {
    const o = loose(minimalOrder());
    o.kind = 'Order';
    expectError(parseCanonical(o), '/kind', 'must be "order" or "result" (got "Order")');
  });

  it('rejects a non-object', () => {
    expectError(
      parseCanonical([minimalOrder()]),
      '',
      'must be a JSON object with kind "order" or "result" (got an array)',
    );
  });

  it('checks the chosen kind fully (schema and rules)', () => {
    const o = loose(minimalOrder());
    o.procedure.bodySite = { site: 'ilium' };
    expectError(parseCanonical(o), '/procedure/bodySite/laterality', 'paired bone');
  });
});

describe('parseCanonicalJson', () => {
  it('parses text and UTF-8 bytes (with or without a byte-order mark)', () => {
    const text = JSON.stringify(fullOrder(), null, 2);
    expect(expectOk(parseCanonicalJson(text)).kind).toBe('order');
    expect(expectOk(parseCanonicalJson(Buffer.from(text))).kind).toBe('order');
    expect(expectOk(parseCanonicalJson(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]))).kind).toBe(
      'order',
    );
    expect(expectOk(parseCanonicalJson(`\uFEFF${JSON.stringify(fullResult())}`)).kind).toBe('result');
  });

  it('keeps non-ASCII text intact', () => {
    const o = loose(minimalOrder());
    o.patient.name = { family: 'Müller-Łukasiewicz', given: ['Zoë'] };
    const value = expectOk(parseCanonicalJson(Buffer.from(JSON.stringify(o), 'utf8')));
    expect(value.kind === 'order' && value.patient.name?.family).toBe('Müller-Łukasiewicz');
  });

  it('reports a JSON syntax error with its line and column', () => {
    const text = '{\n  "kind": "order",\n  "priority": "routine"\n  "authoredOn": "2026-03-02"\n}';
    const e = onlyError(parseCanonicalJson(text));
    expect(e).toEqual({
      path: '',
      message: "is not valid JSON: expected ',' or '}' after a property value, found \"\"\" at line 4, column 3",
    });
  });

  it.each([
    ['{"kind": "order",}', 'a trailing comma', 'line 1, column 17'],
    ['{"kind": \'order\'}', 'strings must be in double quotes', 'line 1, column 10'],
    ['{kind: "order"}', 'expected a property name in double quotes, found "k"', 'line 1, column 2'],
    ['{"kind": "order"', 'the document ends before every { or [ is closed', 'line 1, column 17'],
    ['{"kind": "ord\ner"}', 'the control character U+000A must be escaped inside a string', 'line 1, column 14'],
    ['{"kind": "\\x"}', 'invalid escape sequence "\\x"', 'line 1, column 11'],
    ['{"n": 012}', 'a malformed number', 'line 1, column 7'],
    ['{"a": 1} {"b": 2}', 'unexpected "{" after the end of the document', 'line 1, column 10'],
    ['{"a": [1, 2}', "expected ',' or ']' after a list item", 'line 1, column 12'],
    ['{"a": "😀😀", x}', 'expected a property name', 'line 1, column 13'],
  ])('reports %s as %s at %s', (text, problem, where) => {
    const e = onlyError(parseCanonicalJson(text));
    expect(e.path).toBe('');
    expect(e.message).toContain(problem);
    expect(e.message).toContain(`at ${where}`);
  });

  it('treats "__proto__" and "constructor" as unknown fields, not as special', () => {
    const text = JSON.stringify(minimalOrder()).replace(
      '{"kind"',
      '{"__proto__":{"polluted":1},"constructor":1,"kind"',
    );
    const r = parseCanonicalJson(text);
    expectError(r, '/__proto__', 'unknown field "__proto__"');
    expectError(r, '/constructor', 'unknown field "constructor"');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reports an empty document', () => {
    expect(onlyError(parseCanonicalJson('  \n')).message).toContain('the document is empty');
  });

  it('rejects a top-level value that is not an object', () => {
    expect(onlyError(parseCanonicalJson('[{"kind":"order"}]')).message).toBe('must be a JSON object (got an array)');
    expect(onlyError(parseCanonicalJson('"order"')).message).toBe('must be a JSON object (got a string)');
    expect(onlyError(parseCanonicalJson(' 42 ')).message).toBe('must be a JSON object (got a number)');
    expect(onlyError(parseCanonicalJson('null')).message).toBe('must be a JSON object (got null)');
  });

  it('reports invalid UTF-8 with its position', () => {
    const bytes = Buffer.concat([Buffer.from('{\n  "kind": "or'), Buffer.from([0xc3, 0x28]), Buffer.from('der"}')]);
    const e = onlyError(parseCanonicalJson(bytes));
    expect(e.message).toBe(
      'is not valid UTF-8: byte 0xC3 at line 2, column 14 (byte offset 15) does not start a valid character',
    );
  });

  it('rejects overlong and surrogate encodings as invalid UTF-8', () => {
    expect(onlyError(parseCanonicalJson(Buffer.from([0x7b, 0xc0, 0xaf, 0x7d]))).message).toContain('byte 0xC0');
    expect(onlyError(parseCanonicalJson(Buffer.from([0x7b, 0xed, 0xa0, 0x80, 0x7d]))).message).toContain('byte 0xED');
  });

  it('checks the size limit before parsing, in bytes', () => {
    const text = JSON.stringify(minimalOrder());
    expect(onlyError(parseCanonicalJson(text, { maxBytes: 100 })).message).toMatch(
      /^is too large: \d+ bytes, at most 100 bytes accepted$/,
    );
    // Not even decoded: invalid UTF-8 over the limit is reported as too large.
    const junk = Buffer.alloc(2000, 0xff);
    expect(onlyError(parseCanonicalJson(junk, { maxBytes: 1000 })).message).toContain('is too large');
    // Two bytes per "é": 600 characters are 1,200 bytes.
    expect(onlyError(parseCanonicalJson(`"${'é'.repeat(600)}"`, { maxBytes: 1000 })).message).toContain(
      'is too large: 1.2 KiB',
    );
  });

  it('has a default limit of 25 MiB', () => {
    expect(DEFAULT_MAX_JSON_BYTES).toBe(25 * MiB);
    const { value: r, ms } = timed(() => parseCanonicalJson('x'.repeat(25 * MiB + 1)));
    expect(onlyError(r).message).toBe('is too large: 26,214,401 bytes, at most 26,214,400 bytes accepted');
    expect(ms).toBeLessThan(1000);
  });

  it('accepts a large valid document (a 15 MiB PDF)', () => {
    const r = loose(fullResult());
    r.presentedForm.data = Buffer.alloc(15 * MiB, 7).toString('base64');
    expectOk(parseCanonicalJson(Buffer.from(JSON.stringify(r))));
  });
});

describe('parseCanonicalJson: junk is rejected quickly, with a precise message and no stack trace', () => {
  // Generous bounds: the machine is shared; the point is "well under a second", not a benchmark.
  const QUICK_MS = 2000;

  it('10 MB of random bytes', () => {
    const junk = randomBytes(10 * MiB);
    junk[0] = 0xff; // make the first byte invalid whatever the draw
    const { value, ms } = timed(() => parseCanonicalJson(junk));
    expect(onlyError(value).message).toMatch(/^is not valid UTF-8: byte 0xFF at line 1, column 1 \(byte offset 0\)/);
    expect(ms).toBeLessThan(QUICK_MS);
  });

  it('10 MB of random bytes that start like JSON', () => {
    const junk = Buffer.concat([Buffer.from('{"kind":"order","x":"'), randomBytes(10 * MiB)]);
    const { value, ms } = timed(() => parseCanonicalJson(junk));
    expect(onlyError(value).message).toMatch(/^is not valid (UTF-8|JSON): .* at line \d+, column \d+/);
    expect(ms).toBeLessThan(QUICK_MS);
  });

  it("a 10 MB string of 'x', as text and as bytes", () => {
    for (const input of ['x'.repeat(10 * MiB), Buffer.alloc(10 * MiB, 'x')]) {
      const { value, ms } = timed(() => parseCanonicalJson(input));
      expect(onlyError(value).message).toBe(
        'is not valid JSON: unexpected "x" where a value is expected at line 1, column 1',
      );
      expect(ms).toBeLessThan(QUICK_MS);
    }
  });

  it('a 10 MB JSON string', () => {
    const { value, ms } = timed(() => parseCanonicalJson(`"${'x'.repeat(10 * MiB)}"`));
    expect(onlyError(value).message).toBe('must be a JSON object (got a string)');
    expect(ms).toBeLessThan(QUICK_MS);
  });

  it('a 10 MB value in a field', () => {
    const o = loose(minimalOrder());
    o.specimens[0].kind = 'x'.repeat(10 * MiB);
    o.placerOrderNumber.system = `urn:${'a b'.repeat(3 * MiB)}`;
    const text = JSON.stringify(o);
    const { value, ms } = timed(() => parseCanonicalJson(text));
    expectError(value, '/specimens/0/kind', 'must be one of aspirate', '…")');
    expectError(value, '/placerOrderNumber/system', 'is too long', 'at most 500 allowed');
    expect(ms).toBeLessThan(QUICK_MS);
  });

  it('millions of nested brackets', () => {
    const text = `{"kind":"order","x":${'['.repeat(5_000_000)}${']'.repeat(5_000_000)}}`;
    const { value, ms } = timed(() => parseCanonicalJson(text));
    expect(onlyError(value).message).toBe(
      `is nested too deeply: more than ${STRUCTURE_LIMITS.maxDepth} levels of objects and arrays at line 1, column ${20 + STRUCTURE_LIMITS.maxDepth}`,
    );
    expect(ms).toBeLessThan(QUICK_MS);
  });

  it('a list of millions of items', () => {
    const text = `{"kind":"order","clinicalNotes":[${'1,'.repeat(3_000_000)}1]}`;
    const { value, ms } = timed(() => parseCanonicalJson(text));
    expect(onlyError(value)).toEqual({
      path: '/clinicalNotes',
      message: 'is a list of 3,000,001 items, far more than any list here may have',
    });
    expect(ms).toBeLessThan(QUICK_MS);
  });

  it('a large document full of mistakes lists its first problem only', () => {
    const r = loose(fullResult());
    r.observations = Array.from({ length: 3000 }, () =>
      Object.fromEntries(Array.from({ length: 40 }, (_, k) => [`junk${k}`, k])),
    );
    const text = JSON.stringify(r);
    const { value, ms } = timed(() => parseCanonicalJson(text));
    const errors = errorsOf(value);
    expect(errors).toEqual([
      { path: '/observations', message: 'has too many items: 3,000, at most 2000 allowed' },
      {
        path: '',
        message: expect.stringMatching(/^…the document is large \([\d,]+ values\), so only its first problem/),
      },
    ]);
    expect(ms).toBeLessThan(QUICK_MS);
  });
});
