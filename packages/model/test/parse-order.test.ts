import { parseOrder, MAX_ERRORS } from '../src';
import { fullOrder, minimalOrder } from './fixtures';
import { errorsOf, expectError, expectOk, loose } from './helpers';

describe('parseOrder: valid documents', () => {
  it('accepts a minimal order and returns it typed', () => {
    const order = minimalOrder();
    const value = expectOk(parseOrder(order));
    expect(value).toBe(order);
    expect(value.patient.mrn.value).toBe('MRN-TEST-0001');
  });

  it('accepts a full order (every field of BmaOrder)', () => {
    expectOk(parseOrder(fullOrder()));
  });

  it.each(['1961', '1961-07', '1961-07-14', '2000-02-29'])('accepts the birth date %s', (birthDate) => {
    const o = minimalOrder();
    o.patient.birthDate = birthDate;
    expectOk(parseOrder(o));
  });

  it.each(['2026-03-02', '2026-03-02T08:30Z', '2026-03-02T08:30:15+14:00', '2026-03-02T23:59:59.123456-12:00'])(
    'accepts the dateTime %s',
    (authoredOn) => {
      const o = minimalOrder();
      o.authoredOn = authoredOn;
      expectOk(parseOrder(o));
    },
  );
});

describe('parseOrder: schema errors', () => {
  it('names a missing MRN and says why it matters', () => {
    const o = loose(minimalOrder());
    delete o.patient.mrn;
    const e = expectError(parseOrder(o), '/patient/mrn', 'is required', 'medical record number (MRN)');
    expect(e.message).toBe("is required: the patient's medical record number (MRN) identifies the patient");
  });

  it('names a missing MRN value', () => {
    const o = loose(minimalOrder());
    delete o.patient.mrn.value;
    expectError(parseOrder(o), '/patient/mrn/value', 'is required');
  });

  it('lists every missing top-level field', () => {
    const errors = errorsOf(parseOrder({ kind: 'order' }));
    expect(errors.map((e) => e.path).sort()).toEqual(
      [
        '/authoredOn',
        '/orderingProvider',
        '/patient',
        '/placerOrderNumber',
        '/priority',
        '/procedure',
        '/reasons',
        '/requestedStudies',
        '/specimens',
      ].sort(),
    );
    expect(errors.every((e) => e.message.startsWith('is required'))).toBe(true);
  });

  it('rejects an unknown specimen type and lists the allowed ones', () => {
    const o = loose(minimalOrder());
    o.specimens[0].kind = 'blood';
    const e = expectError(parseOrder(o), '/specimens/0/kind');
    expect(e.message).toBe('must be one of aspirate, trephine-core, aspirate-aliquot (got "blood")');
  });

  it('rejects a date-time without a T and without an offset, and says so', () => {
    const o = loose(minimalOrder());
    o.authoredOn = '2026-03-02 08:30';
    expectError(
      parseOrder(o),
      '/authoredOn',
      'must be a date-time with a UTC offset, e.g. 2026-03-02T08:30:00-05:00 (got "2026-03-02 08:30")',
      'separated by an upper-case "T"',
    );
    o.authoredOn = '2026-03-02T08:30:00';
    expectError(parseOrder(o), '/authoredOn', 'a time needs a UTC offset (Z or ±hh:mm)');
  });

  it.each([
    ['2024-02-30', 'that day does not exist in that month'],
    ['2023-02-29', 'that day does not exist in that month'],
    ['2026-13-01', 'the month must be 01 to 12'],
    ['2026-03-02T25:00Z', 'the hour must be 00 to 23'],
    ['2026-03-02T08:60Z', 'the minutes must be 00 to 59'],
    ['2026-03-02T08:30+15:00', 'between -14:00 and +14:00'],
    ['2026-03-02T08:30+0500', 'with a colon'],
    ['03/02/2026', 'year first'],
    ['20260302', 'separated by "-"'],
    ['2026-03', 'a full date (YYYY-MM-DD) is required here'],
    ['yesterday', 'must be a date-time'],
  ])('rejects the dateTime %s: %s', (value, reason) => {
    const o = loose(minimalOrder());
    o.procedure.performedStart = value;
    expectError(parseOrder(o), '/procedure/performedStart', 'must be a date-time with a UTC offset', reason);
  });

  it('rejects an impossible birth date without repeating it', () => {
    const o = loose(minimalOrder());
    o.patient.birthDate = '1983-02-30';
    const e = expectError(parseOrder(o), '/patient/birthDate', 'must be a date YYYY-MM-DD', 'does not exist');
    expect(e.message).not.toMatch(/1983|02-30/);
    o.patient.birthDate = '1961-07-14T10:00Z';
    expectError(parseOrder(o), '/patient/birthDate', 'a date without a time is expected here');
  });

  it('reports a number where a string belongs, and a string where an array belongs', () => {
    const o = loose(minimalOrder());
    o.placerOrderNumber.value = 12345;
    o.requestedStudies = 'morphology';
    o.specimens[0].volumeMl = '5';
    const r = parseOrder(o);
    expect(expectError(r, '/placerOrderNumber/value').message).toBe('must be a string (got a number)');
    expect(expectError(r, '/requestedStudies').message).toBe('must be an array (got a string)');
    expect(expectError(r, '/specimens/0/volumeMl').message).toBe('must be a number (got a string)');
  });

  it('reports an object where a list belongs only once (no follow-on noise)', () => {
    const o = loose(minimalOrder());
    o.specimens = { id: 'x' };
    const errors = errorsOf(parseOrder(o));
    expect(errors).toEqual([{ path: '/specimens', message: 'must be an array (got an object)' }]);
  });

  it('names an unknown field and lists the allowed ones', () => {
    const o = loose(minimalOrder());
    o.patient.foo = 'bar';
    const e = expectError(parseOrder(o), '/patient/foo');
    expect(e.message).toBe('unknown field "foo" (allowed: mrn, name, birthDate, sex)');
  });

  it('escapes field names in the JSON pointer', () => {
    const o = loose(minimalOrder());
    o['a/b~c'] = 1;
    expectError(parseOrder(o), '/a~1b~0c', 'unknown field "a/b~c"');
  });

  it('checks the NPI as 10 digits', () => {
    const o = loose(minimalOrder());
    o.orderingProvider.npi = '12345';
    expectError(parseOrder(o), '/orderingProvider/npi', 'exactly 10 digits', '(got "12345")');
    o.orderingProvider.npi = 1234567893;
    expectError(parseOrder(o), '/orderingProvider/npi', 'must be a string (got a number)');
  });

  it('checks identifier systems as URIs', () => {
    const o = loose(minimalOrder());
    o.placerOrderNumber.system = 'HOSPITAL A';
    expectError(parseOrder(o), '/placerOrderNumber/system', 'must be a URI', '(got "HOSPITAL A")');
  });

  it('rejects empty and blank strings', () => {
    const o = loose(minimalOrder());
    o.placerOrderNumber.value = '';
    o.specimens[0].id.value = '   ';
    const r = parseOrder(o);
    expect(expectError(r, '/placerOrderNumber/value').message).toBe('must not be empty');
    expectError(r, '/specimens/0/id/value', 'at least one character that is not a space');
  });

  it('checks ICD-10-CM codes and an empty reason', () => {
    const o = loose(minimalOrder());
    o.reasons = [{ icd10: 'C9200' }, {}];
    const r = parseOrder(o);
    expectError(r, '/reasons/0/icd10', 'ICD-10-CM code with its dot', 'C92.00');
    expectError(r, '/reasons/1', 'must have an ICD-10-CM code (icd10), a text, or both');
  });

  it('rejects repeated requested studies, pointing at the repeat', () => {
    const o = loose(minimalOrder());
    o.requestedStudies = ['morphology', 'fish', 'morphology'];
    expectError(parseOrder(o), '/requestedStudies/2', 'repeats item 0');
  });

  it('limits string lengths (64 kB notes) without echoing the text', () => {
    const o = loose(minimalOrder());
    o.clinicalNotes = ['y'.repeat(70_000)];
    const e = expectError(parseOrder(o), '/clinicalNotes/0', 'is too long: 70,000 characters, at most 65,536 allowed');
    expect(e.message).not.toContain('yyy');
    o.clinicalNotes = [];
    o.placerOrderNumber.value = 'v'.repeat(201);
    expectError(parseOrder(o), '/placerOrderNumber/value', 'at most 200 allowed');
  });

  it('limits array lengths', () => {
    const o = loose(minimalOrder());
    o.clinicalNotes = Array.from({ length: 51 }, () => 'note');
    expectError(parseOrder(o), '/clinicalNotes', 'has too many items: 51, at most 50 allowed');
  });

  it('requires at least one specimen and one requested study', () => {
    const o = loose(minimalOrder());
    o.specimens = [];
    o.requestedStudies = [];
    const r = parseOrder(o);
    expectError(r, '/specimens', 'must have at least 1 item');
    expectError(r, '/requestedStudies', 'must have at least 1 item');
  });

  it('checks numbers: positive volume, finite', () => {
    const o = loose(minimalOrder());
    o.specimens[0].volumeMl = 0;
    expectError(parseOrder(o), '/specimens/0/volumeMl', 'must be greater than 0 (got 0)');
    o.specimens[0].volumeMl = Number.NaN;
    expectError(parseOrder(o), '/specimens/0/volumeMl', 'must be a finite number (got NaN)');
  });

  it('never repeats patient names, birth dates or MRN values', () => {
    const o = loose(minimalOrder());
    o.patient.mrn.value = 'SECRET-MRN-'.repeat(30);
    o.patient.name = { family: 'Secretname', given: [42], extra: 'Secretname' };
    o.patient.birthDate = 'Secret birthday';
    o.patient.sex = 'secretsex';
    const errors = errorsOf(parseOrder(o));
    expect(errors.length).toBeGreaterThanOrEqual(4);
    for (const e of errors) {
      expect(e.message).not.toMatch(/SECRET-MRN|Secretname|Secret birthday/);
    }
    // The sex is a code from a short list: showing it helps and says nothing about the person.
    expectError(parseOrder(o), '/patient/sex', '(got "secretsex")');
  });

  it('shows at most 60 characters of an offending value', () => {
    const o = loose(minimalOrder());
    o.specimens[0].kind = 'k'.repeat(500);
    const e = expectError(parseOrder(o), '/specimens/0/kind');
    const shown = /\(got "(k+)…"\)/.exec(e.message);
    expect(shown?.[1].length).toBe(59);
  });

  it(`caps the list at ${MAX_ERRORS} errors with a final "…and N more" entry`, () => {
    const o = loose(minimalOrder());
    for (let i = 0; i < 80; i++) o.procedure[`junk${i}`] = i;
    const errors = errorsOf(parseOrder(o));
    expect(errors).toHaveLength(MAX_ERRORS + 1);
    expect(errors[MAX_ERRORS]).toEqual({ path: '', message: expect.stringMatching(/^…and 30 more problems/) });
  });

  it('rejects a result update given to parseOrder, saying kind must be "order"', () => {
    const o = loose(minimalOrder());
    o.kind = 'result';
    expectError(parseOrder(o), '/kind', 'must be "order" (got "result")');
  });

  it.each([null, [], 'order', 42])('rejects a non-object %p', (input) => {
    const errors = errorsOf(parseOrder(input));
    expect(errors).toHaveLength(1);
    expect(errors[0].path).toBe('');
    expect(errors[0].message).toMatch(/^must be a JSON object \(an order\) \(got /);
  });
});

describe('parseOrder: rules across fields', () => {
  it('requires laterality for the ilium and the tibia (procedure and specimens)', () => {
    const o = loose(fullOrder());
    delete o.procedure.bodySite.laterality;
    o.specimens[1].bodySite = { site: 'tibia' };
    const r = parseOrder(o);
    expectError(r, '/procedure/bodySite/laterality', 'is required for the ilium, a paired bone');
    expectError(r, '/specimens/1/bodySite/laterality', 'is required for the tibia');
  });

  it('forbids laterality for the sternum', () => {
    const o = loose(minimalOrder());
    o.procedure.bodySite = { site: 'sternum', laterality: 'left' };
    o.specimens[0].bodySite = { site: 'sternum', laterality: 'bilateral' };
    const r = parseOrder(o);
    expectError(r, '/procedure/bodySite/laterality', 'must not be given for the sternum', '(got "left")');
    expectError(r, '/specimens/0/bodySite/laterality', 'must not be given for the sternum');
  });

  it('requires unique specimen ids', () => {
    const o = loose(fullOrder());
    o.specimens[2].id.value = 'SP-1';
    expectError(parseOrder(o), '/specimens/2/id/value', 'repeats the id of /specimens/0', 'unique', '(got "SP-1")');
  });

  it('requires parentId to name another specimen of the order', () => {
    const o = loose(fullOrder());
    o.specimens[1].parentId = 'SP-9';
    expectError(
      parseOrder(o),
      '/specimens/1/parentId',
      'must be the id of another specimen of this order (got "SP-9")',
      '"SP-1", "SP-2", "SP-3"',
    );
    o.specimens[1].parentId = 'SP-2';
    expectError(parseOrder(o), '/specimens/1/parentId', 'not the specimen itself');
  });

  it('rejects specimens that are each other’s parent', () => {
    const o = loose(fullOrder());
    o.specimens[0].parentId = 'SP-2';
    expectError(parseOrder(o), '/specimens/0/parentId', 'forms a cycle', '"SP-1" → "SP-2" → "SP-1"');
  });

  it('allows trephine-core only with procedure type aspiration-biopsy', () => {
    const o = loose(fullOrder());
    o.procedure.type = 'aspiration';
    expectError(parseOrder(o), '/specimens/2/kind', 'trephine-core needs the procedure type aspiration-biopsy');
  });

  it('requires a reason when the procedure was not done', () => {
    const o = loose(minimalOrder());
    o.procedure.status = 'not-done';
    expectError(parseOrder(o), '/procedure/notDoneReason', 'is required when the procedure status is not-done');
    o.procedure.notDoneReason = 'Patient declined';
    expectOk(parseOrder(o));
  });

  it('rejects performedEnd before performedStart, across time zones', () => {
    const o = loose(minimalOrder());
    o.procedure.performedStart = '2026-03-03T09:00:00-05:00';
    o.procedure.performedEnd = '2026-03-03T13:59:00Z'; // 08:59 at -05:00
    expectError(parseOrder(o), '/procedure/performedEnd', 'must not be before performedStart');
    o.procedure.performedEnd = '2026-03-03T14:00:00Z';
    expectOk(parseOrder(o));
    o.procedure.performedEnd = '2026-03-03'; // a date alone covers its whole day
    expectOk(parseOrder(o));
    o.procedure.performedEnd = '2026-03-01';
    expectError(parseOrder(o), '/procedure/performedEnd', 'must not be before performedStart');
  });

  it('runs the rules only on documents that pass the schema', () => {
    const o = loose(minimalOrder());
    o.procedure.bodySite = { site: 'tibia' };
    o.priority = 'whenever';
    const errors = errorsOf(parseOrder(o));
    expect(errors.map((e) => e.path)).toEqual(['/priority']);
  });
});
