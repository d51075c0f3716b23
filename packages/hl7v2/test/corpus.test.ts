import fs from 'node:fs';
import path from 'node:path';
import { Hl7Message } from '@medplum/core';
import { describeExternal } from '../../../test/support/paths';
import { ackCodeFor, buildAck, parseHl7Batch, translateHl7 } from '../src';
import type { Hl7TranslateResult } from '../src';

const CODES_0357 = new Set([100, 101, 102, 103, 200, 201, 203, 204, 205, 207]);

interface IndexEntry {
  file: string;
  messageTypes: string[];
}

/**
 * Every message of the outside corpus (../shared/external/hl7v2: mostly non-marrow lab messages) must either
 * translate (acceptAnyService and acceptAnyReport are on, so that the lab messages' own report codes are kept
 * and the mapping is exercised) or be rejected with a clear Hl7Error; a crash (throw, or a 207 internal error)
 * fails the test. (test/hl7v2-corpus runs the same corpus through intake with the product defaults.)
 */
describeExternal('hl7v2', 'outside HL7 v2 corpus: translated or cleanly rejected, never crashed', (dir) => {
  const index: IndexEntry[] = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const counts = { files: 0, messages: 0, translated: 0, rejected: 0, crashed: 0 };
  const crashes: string[] = [];
  const unclear: string[] = [];
  const results: { file: string; r: Hl7TranslateResult; text: string }[] = [];

  beforeAll(() => {
    for (const entry of index) {
      counts.files++;
      const batch = parseHl7Batch(fs.readFileSync(path.join(dir, entry.file)));
      for (const m of batch.messages) {
        counts.messages++;
        let r: Hl7TranslateResult;
        try {
          r = translateHl7(m.text, { timeZone: 'America/New_York', acceptAnyService: true, acceptAnyReport: true });
        } catch (e) {
          counts.crashed++;
          crashes.push(`${entry.file}#${m.index}: threw ${(e as Error).name}`);
          continue;
        }
        results.push({ file: `${entry.file}#${m.index}`, r, text: m.text });
        if (r.ok) counts.translated++;
        else if (r.errors.some((e) => e.code === 207)) {
          counts.crashed++;
          crashes.push(`${entry.file}#${m.index}: ${r.errors.map((e) => e.message).join('; ')}`);
        } else {
          counts.rejected++;
          const clear = r.errors.every(
            (e) =>
              e.segment.length === 3 &&
              e.sequence >= 1 &&
              e.field >= 0 &&
              CODES_0357.has(e.code) &&
              e.message.length > 10,
          );
          if (!clear || r.errors.length === 0) unclear.push(`${entry.file}#${m.index}`);
        }
      }
    }
    console.log(
      `hl7v2 corpus: ${counts.files} files, ${counts.messages} messages: ${counts.translated} translated, ` +
        `${counts.rejected} rejected with a clear Hl7Error, ${counts.crashed} crashed`,
    );
  });

  it('reads every indexed file and finds every message (multi-message files included)', () => {
    expect(counts.files).toBe(index.length);
    expect(counts.messages).toBeGreaterThanOrEqual(index.length + 12 + 1); // hapi file: 13, NAACCR fake file: 2
  });

  it('crashes on none', () => {
    expect(crashes).toEqual([]);
    expect(counts.crashed).toBe(0);
  });

  it('rejects only with clear, located 0357 errors', () => {
    expect(unclear).toEqual([]);
    expect(counts.translated + counts.rejected).toBe(counts.messages);
  });

  it('translates some messages of each supported type that carries the required data', () => {
    expect(counts.translated).toBeGreaterThan(0);
    const types = new Set(results.filter((x) => x.r.ok).map((x) => (x.r.ok ? x.r.messageType : '')));
    expect(types.has('ORU^R01')).toBe(true);
  });

  it('rejects the unsupported types (OUL^R22, ORL^O34) with 200', () => {
    const others = results.filter((x) => /\|(OUL|ORL)\^/.test(x.text.split('\r')[0]));
    expect(others.length).toBeGreaterThan(0);
    for (const x of others) expect(!x.r.ok && x.r.errors[0].code).toBe(200);
  });

  it('builds a parseable ACK for every message', () => {
    for (const { r, text } of results) {
      const ack = buildAck(text, { code: ackCodeFor(r), errors: r.ok ? [] : r.errors });
      const msg = Hl7Message.parse(ack);
      expect(msg.getSegment('MSA')?.getField(1)?.toString()).toBe(ackCodeFor(r));
    }
  });
});
