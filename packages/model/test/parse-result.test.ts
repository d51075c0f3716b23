import { parseResultUpdate } from '../src';
import { fullResult, minimalResult } from './fixtures';
import { errorsOf, expectError, expectOk, loose } from './helpers';

describe('parseResultUpdate: valid documents', () => {
  it('accepts a minimal result update', () => {
    const r = minimalResult();
    expect(expectOk(parseResultUpdate(r))).toBe(r);
  });

  it('accepts a full result update (every value type, PDF, notes)', () => {
    expectOk(parseResultUpdate(fullResult()));
  });

  it.each(['2026', '2026-03', '2026-03-03', '2026-03-03T09:10:00-05:00'])('accepts the dateTime value %s', (value) => {
    const r = minimalResult();
    r.observations = [
      { code: { system: 'http://loinc.org', code: 'X' }, status: 'final', value: { type: 'dateTime', value } },
    ];
    expectOk(parseResultUpdate(r));
  });
});

describe('parseResultUpdate: schema errors', () => {
  it('requires the MRN of the patient', () => {
    const r = loose(minimalResult());
    r.patient = {};
    expectError(parseResultUpdate(r), '/patient/mrn', 'is required', 'medical record number (MRN)');
  });

  it('requires a time with an offset for issued', () => {
    const r = loose(minimalResult());
    r.issued = '2026-03-04';
    expectError(
      parseResultUpdate(r),
      '/issued',
      'must be a date-time with a UTC offset',
      'a time with a UTC offset is required here',
    );
  });

  it('reports only the branch of the value union that matches its type', () => {
    const r = loose(fullResult());
    r.observations[0].value = { type: 'quantity', value: '32.5', units: '%' };
    const errors = errorsOf(parseResultUpdate(r)).filter((e) => e.path.startsWith('/observations/0/value'));
    expect(errors).toEqual([
      {
        path: '/observations/0/value/units',
        message: 'unknown field "units" (allowed: type, value, unit, comparator)',
      },
      { path: '/observations/0/value/value', message: 'must be a number (got a string)' },
    ]);
  });

  it('names the missing field of a ratio', () => {
    const r = loose(fullResult());
    r.observations[1].value = { type: 'ratio', numerator: 2 };
    expect(errorsOf(parseResultUpdate(r))).toEqual([
      { path: '/observations/1/value/denominator', message: 'is required: the denominator' },
    ]);
  });

  it('rejects an unknown or missing value type with the list of types', () => {
    const r = loose(fullResult());
    r.observations[0].value = { type: 'blob', value: 1 };
    r.observations[1].value = { value: 1 };
    r.observations[2].value = { type: 7 };
    const res = parseResultUpdate(r);
    expectError(
      res,
      '/observations/0/value/type',
      'must be one of quantity, coded, string, ratio, range, dateTime, time (got "blob")',
    );
    expectError(res, '/observations/1/value/type', 'is required: the kind of value, one of quantity, coded');
    expectError(res, '/observations/2/value/type', '(got 7)');
    expect(errorsOf(res)).toHaveLength(3);
  });

  it('checks time and dateTime values', () => {
    const r = loose(fullResult());
    r.observations[5].value = { type: 'dateTime', value: '2026-02-30' };
    r.observations[6].value = { type: 'time', value: '25:00' };
    const res = parseResultUpdate(r);
    expectError(res, '/observations/5/value/value', 'must be a date', 'that day does not exist');
    expectError(
      res,
      '/observations/6/value/value',
      'must be a time of day',
      'the hour must be 00 to 23',
      '(got "25:00")',
    );
  });

  it('checks the enums of statuses, interpretation and dataAbsentReason', () => {
    const r = loose(fullResult());
    r.status = 'done';
    r.observations[0].interpretation = ['HIGH'];
    r.observations[7].dataAbsentReason = 'forgot';
    const res = parseResultUpdate(r);
    expectError(res, '/status', 'must be one of registered, partial, preliminary, final', '(got "done")');
    expectError(res, '/observations/0/interpretation/0', 'must be one of N, L, H', '(got "HIGH")');
    expectError(res, '/observations/7/dataAbsentReason', 'must be one of not-performed');
  });

  it('checks the attached PDF: content type and base64', () => {
    const r = loose(fullResult());
    r.presentedForm.contentType = 'text/plain';
    r.presentedForm.data = 'not base64!';
    const res = parseResultUpdate(r);
    expectError(res, '/presentedForm/contentType', 'must be "application/pdf" (got "text/plain")');
    const e = expectError(res, '/presentedForm/data', 'must be base64');
    expect(e.message).not.toContain('not base64!');
  });

  it('limits the PDF to about 20 MB of base64', () => {
    const r = loose(minimalResult());
    r.presentedForm = { contentType: 'application/pdf', data: 'QUJD'.repeat(5 * 1024 * 1024 + 1) };
    expectError(parseResultUpdate(r), '/presentedForm/data', 'is too long', 'at most 20,971,520 allowed');
  });

  it('rejects Infinity in a quantity (possible when a converter builds the object)', () => {
    const r = loose(fullResult());
    r.observations[0].value.value = Number.POSITIVE_INFINITY;
    r.observations[0].referenceRange.high = Number.NaN;
    const res = parseResultUpdate(r);
    expectError(res, '/observations/0/value/value', 'must be a finite number (got Infinity)');
    expectError(res, '/observations/0/referenceRange/high', 'must be a finite number (got NaN)');
  });

  it('does not show free text (notes, conclusion)', () => {
    const r = loose(fullResult());
    r.conclusion = 'private words '.repeat(10_000);
    r.notes = ['   '];
    const res = parseResultUpdate(r);
    expect(expectError(res, '/conclusion').message).not.toContain('private');
    expectError(res, '/notes/0', 'at least one character that is not a space');
  });
});

describe('parseResultUpdate: rules across fields', () => {
  it('needs a value or a dataAbsentReason unless the result is cancelled or entered-in-error', () => {
    const r = loose(fullResult());
    delete r.observations[0].value;
    r.observations[8].status = 'entered-in-error';
    const res = parseResultUpdate(r);
    expectError(res, '/observations/0/value', 'is required unless a dataAbsentReason is given', 'status is final');
    expect(errorsOf(res)).toHaveLength(1);
  });

  it('rejects a value together with a dataAbsentReason', () => {
    const r = loose(fullResult());
    r.observations[0].dataAbsentReason = 'error';
    expectError(parseResultUpdate(r), '/observations/0/dataAbsentReason', 'must not be given together with a value');
  });

  it("requires an observation's specimenId to be one of the report's specimenIds", () => {
    const r = loose(fullResult());
    r.observations[0].specimenId = 'SP-7';
    expectError(
      parseResultUpdate(r),
      '/observations/0/specimenId',
      'one of the report\'s specimenIds (got "SP-7")',
      '"SP-1", "SP-2"',
    );
    r.specimenIds = [];
    r.observations[2].specimenId = undefined;
    delete r.observations[2].specimenId;
    expectError(parseResultUpdate(r), '/observations/0/specimenId', 'the report lists none');
  });

  it('rejects a repeated specimen id', () => {
    const r = loose(fullResult());
    r.specimenIds.push({ ...r.specimenIds[0] });
    expectError(parseResultUpdate(r), '/specimenIds/2/value', 'repeats /specimenIds/0');
  });

  it('checks ranges: low not above high, at least one end; ratio denominator not 0', () => {
    const r = loose(fullResult());
    r.observations[3].value = { type: 'range', low: 60, high: 50 };
    r.observations[0].referenceRange = { low: 5, high: 0 };
    r.observations[1].value.denominator = 0;
    const res = parseResultUpdate(r);
    expectError(res, '/observations/3/value/low', 'must not be greater than high (got 60 > 50)');
    expectError(res, '/observations/0/referenceRange/low', 'must not be greater than high');
    expectError(res, '/observations/1/value/denominator', 'must not be 0');
    r.observations[3].value = { type: 'range', unit: '%' };
    expectError(parseResultUpdate(r), '/observations/3/value', 'a range needs low, high or both');
  });

  it('rejects issued before effective', () => {
    const r = loose(minimalResult());
    r.effective = '2026-03-03T09:10:00-05:00';
    r.issued = '2026-03-03T14:09:59Z';
    expectError(
      parseResultUpdate(r),
      '/issued',
      'must not be before effective',
      'effective is "2026-03-03T09:10:00-05:00"',
    );
    r.issued = '2026-03-03T14:10:00Z';
    expectOk(parseResultUpdate(r));
  });
});
