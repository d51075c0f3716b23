import { instantRange, isBase64, isValidDate, isValidTime } from '../src';

describe('date formats', () => {
  it.each([
    ['mb-partial-date', '1961', true],
    ['mb-partial-date', '1961-07', true],
    ['mb-partial-date', '1961-07-14', true],
    ['mb-partial-date', '2000-02-29', true],
    ['mb-partial-date', '1900-02-29', false],
    ['mb-partial-date', '1961-7-14', false],
    ['mb-partial-date', '0000', false],
    ['mb-partial-date', '1961-07-14T00:00Z', false],
    ['mb-date-time', '2026-03-02', true],
    ['mb-date-time', '2026-03-02T08:30Z', true],
    ['mb-date-time', '2026-03-02T08:30:00-05:00', true],
    ['mb-date-time', '2026-03-02T08:30:00.123456789+05:30', true],
    ['mb-date-time', '2026-03-02T08:30:00.1234567890Z', false],
    ['mb-date-time', '2026-03-02T08:30:00', false],
    ['mb-date-time', '2026-03-02t08:30Z', false],
    ['mb-date-time', '2026-03-02T08:30z', false],
    ['mb-date-time', '2026-03-02T08:30 Z', false],
    ['mb-date-time', '2026-03-02T24:00Z', false],
    ['mb-date-time', '2026-03-02T08:30+14:01', false],
    ['mb-date-time', '2026-03', false],
    ['mb-date-time', '2026-03-02Z', false],
    ['mb-instant', '2026-03-02T08:30Z', true],
    ['mb-instant', '2026-03-02', false],
    ['mb-fhir-date-time', '2026', true],
    ['mb-fhir-date-time', '2026-03', true],
    ['mb-fhir-date-time', '2026-03-02T08:30:00Z', true],
    ['mb-fhir-date-time', '2026-03T08:30Z', false],
  ] as const)('%s %s → %s', (format, value, ok) => {
    expect(isValidDate(format, value)).toBe(ok);
  });

  it.each([
    ['08:30', true],
    ['23:59:59', true],
    ['08:30:00.5', true],
    ['24:00', false],
    ['08:61', false],
    ['8:30', false],
    ['08:30Z', false],
  ])('time %s → %s', (value, ok) => {
    expect(isValidTime(value)).toBe(ok);
  });

  it('rejects long strings at once', () => {
    expect(isValidDate('mb-date-time', `2026-03-02T08:30:00.${'1'.repeat(1_000_000)}Z`)).toBe(false);
    expect(isValidTime('0'.repeat(1_000_000))).toBe(false);
  });
});

describe('base64', () => {
  it.each([
    ['QUJD', true],
    ['QUI=', true],
    ['QQ==', true],
    ['QUJDRA', false],
    ['QU=D', false],
    ['QUJ!', false],
    ['', false],
    ['QUJD\n', false],
  ])('%p → %s', (value, ok) => {
    expect(isBase64(value)).toBe(ok);
  });
});

describe('instantRange', () => {
  it('gives a point (to the precision written) for a date-time', () => {
    expect(instantRange('2026-03-02T08:30:00.250-05:00')).toEqual({
      min: Date.parse('2026-03-02T13:30:00.250Z'),
      max: Date.parse('2026-03-02T13:30:00.250Z'),
    });
    expect(instantRange('2026-03-02T08:30Z')).toEqual({
      min: Date.parse('2026-03-02T08:30:00Z'),
      max: Date.parse('2026-03-02T08:30:59.999Z'),
    });
  });

  it('widens a date alone by every time zone', () => {
    expect(instantRange('2026-03-02')).toEqual({
      min: Date.parse('2026-03-01T10:00:00Z'),
      max: Date.parse('2026-03-03T11:59:59.999Z'),
    });
    expect(instantRange('0099-12-31')?.min).toBe(Date.parse('0099-12-30T10:00:00Z'));
  });

  it('is undefined for an invalid value', () => {
    expect(instantRange('2026-02-30')).toBeUndefined();
  });
});
