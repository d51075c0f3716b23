import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../../test/support/paths';
import { detectFormat, translateInput } from '../src';

const firstSample = (sub: string) => {
  const dir = path.join(repoRoot, 'samples', sub);
  return fs.readFileSync(path.join(dir, fs.readdirSync(dir).filter((f) => f.endsWith('.json'))[0]));
};

describe('detectFormat', () => {
  it.each([
    ['{"kind":"order"}', 'json'],
    ['  \n {"kind":"order"}', 'json'],
    ['\uFEFF{"a":1}', 'json'],
    ['MSH|^~\\&|LAB', 'hl7v2'],
    ['\uFEFFMSH|^~\\&|LAB', 'hl7v2'],
    ['FHS|^~\\&|', 'hl7v2'],
    ['BHS|^~\\&|', 'hl7v2'],
    ['[1,2]', undefined],
    ['hello', undefined],
    ['', undefined],
  ])('%j → %s', (text, format) => {
    expect(detectFormat(text)).toBe(format);
    expect(detectFormat(Buffer.from(text))).toBe(format);
  });
});

describe('translateInput', () => {
  it('maps a canonical JSON order to one item with a Bundle', () => {
    const [r] = translateInput(firstSample('orders'));
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.items).toHaveLength(1);
      expect(r.items[0].message.kind).toBe('order');
      expect(r.items[0].bundle.type).toBe('transaction');
    }
  });

  it('refuses input over the size limit before parsing it', () => {
    const [r] = translateInput(Buffer.alloc(2048, 0x7b), { maxBytes: 1024 });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.outcome.issue[0].code).toBe('too-costly');
      expect(r.outcome.issue[0].details?.text).toMatch(/2048 bytes; the limit is 1024/);
    }
  });

  it('answers 10 MB of junk with one clear issue, quickly', () => {
    const started = Date.now();
    const results = translateInput(Buffer.alloc(10 * 1024 * 1024, 'x'));
    expect(results).toHaveLength(1);
    expect(results[0].ok).toBe(false);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('reports every schema problem of a JSON document with its path', () => {
    const order = JSON.parse(firstSample('orders').toString('utf8'));
    order.priority = 'whenever';
    order.specimens[0].kind = 'blood';
    const [r] = translateInput(JSON.stringify(order));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      const paths = r.outcome.issue.map((i) => i.expression?.[0]);
      expect(paths).toEqual(expect.arrayContaining(['/priority', '/specimens/0/kind']));
    }
  });
});

describe('translateInput never throws on input (found by the fuzz test, test/chaos)', () => {
  const result = () => JSON.parse(firstSample('results').toString('utf8'));

  it('rejects two results under one key (same code, no sub-id) instead of failing in the mapping', () => {
    const doc = result();
    doc.observations.push(structuredClone(doc.observations[0]));
    const [r] = translateInput(JSON.stringify(doc));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.outcome.issue[0].details?.text).toMatch(/cannot be mapped to FHIR: two entries share the key/);
  });

  it('rejects a lone surrogate escape (not Unicode) with its path', () => {
    const doc = result();
    doc.observations[0].code.code = 'X\ud800';
    const [r] = translateInput(JSON.stringify(doc));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.outcome.issue[0].expression).toEqual(['/observations/0/code/code']);
      expect(r.outcome.issue[0].details?.text).toMatch(/not valid Unicode/);
    }
  });

  // Bytes are walked for lone surrogates only when they hold a \ud or \uD escape: each spelling must still be caught.
  /** The sample as JSON text with `literal` (JSON text, quotes included) as its first observation's code. */
  const withCode = (literal: string) => {
    const doc = result();
    doc.observations[0].code.code = 'PLACEHOLDER';
    return JSON.stringify(doc).replace('"PLACEHOLDER"', literal);
  };
  it.each([
    ['a lower-case high surrogate escape', '"X\\ud800"', '/observations/0/code/code'],
    ['an upper-case low surrogate escape', '"X\\uDC00"', '/observations/0/code/code'],
    ['a reversed pair', '"\\uDE00\\uD83D"', '/observations/0/code/code'],
  ])('rejects %s in bytes with its path', (_what, literal, path) => {
    const [r] = translateInput(Buffer.from(withCode(literal), 'utf8'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.outcome.issue[0].expression).toEqual([path]);
  });

  it('accepts bytes with a surrogate pair escape, an escaped backslash before "ud800", and raw non-BMP text', () => {
    for (const literal of ['"X\\ud83d\\ude00"', '"X\\\\ud800"', '"X\u{1F600}"']) {
      const text = withCode(literal);
      expect(text).toContain(literal);
      const [r] = translateInput(Buffer.from(text, 'utf8'));
      expect(r.ok).toBe(true);
    }
  });

  it('rejects a lone surrogate that a string holds as it is (no escape)', () => {
    const text = withCode('"X\ud800"');
    expect(text).not.toContain('\\u');
    const [r] = translateInput(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.outcome.issue[0].expression).toEqual(['/observations/0/code/code']);
  });
});
