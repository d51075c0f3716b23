import type { DiagnosticReport } from '@medplum/fhirtypes';
import type { EhrClient } from '../src/client';
import {
  REPORT_KEY_SYSTEM,
  REPORT_PRECEDENCE,
  compareInstants,
  decideReportUpdate,
  findCurrentReport,
  loadPrecedenceTable,
  reportKeyOf,
  reportRank,
  type ReportDecisionAction,
} from '../src/precedence';

type Status = DiagnosticReport['status'];

const STATUSES: Status[] = [
  'registered',
  'partial',
  'preliminary',
  'final',
  'amended',
  'corrected',
  'appended',
  'cancelled',
  'entered-in-error',
];

const T0 = '2024-05-01T08:00:00Z';
const EARLIER = '2024-05-01T07:00:00Z';
const LATER = '2024-05-01T09:00:00Z';

function report(status: Status, issued?: string): DiagnosticReport {
  return {
    resourceType: 'DiagnosticReport',
    status,
    code: { coding: [{ system: 'http://loinc.org', code: '48807-2' }] },
    ...(issued ? { issued } : {}),
  };
}

const CODE: Record<string, ReportDecisionAction> = { A: 'apply', S: 'superseded', D: 'duplicate', R: 'review' };

/**
 * Expected decisions, one row per CURRENT status (order of STATUSES), one letter per INCOMING status:
 * reg par pre fin ame cor app can eie.
 */
const NEWER: Record<string, string> = {
  registered: 'AAAAAAAAA',
  partial: 'SAAAAAAAA',
  preliminary: 'SAAAAAAAA',
  final: 'SSSAAAARA',
  amended: 'SSSSAAARA',
  corrected: 'SSSSAAARA',
  appended: 'SSSSAAARA',
  cancelled: 'RRRRRRRAA',
  'entered-in-error': 'RRRRRRRRA',
};
const EQUAL: Record<string, string> = {
  registered: 'DAAASSAAA',
  partial: 'SDDASSAAA',
  preliminary: 'SDDASSAAA',
  final: 'SSSDSSARA',
  amended: 'SSSSDDDRA',
  corrected: 'SSSSDDDRA',
  appended: 'SSSSDDDRA',
  cancelled: 'RRRRRRRDA',
  'entered-in-error': 'RRRRRRRRD',
};
const OLDER: Record<string, string> = {
  registered: 'SSSSSSSSA',
  partial: 'SSSSSSSSA',
  preliminary: 'SSSSSSSSA',
  final: 'SSSSSSSRA',
  amended: 'SSSSSSSRA',
  corrected: 'SSSSSSSRA',
  appended: 'SSSSSSSRA',
  cancelled: 'RRRRRRRSA',
  'entered-in-error': 'RRRRRRRRS',
};

describe('reportRank', () => {
  it('ranks statuses from the data table', () => {
    expect(STATUSES.map((s) => reportRank(s))).toEqual([0, 1, 1, 2, 3, 3, 3, undefined, undefined]);
    expect(reportRank('unknown')).toBeUndefined();
    expect(REPORT_PRECEDENCE.terminal['entered-in-error'].fromAnyStatus).toBe(true);
  });

  it('rejects a malformed table', () => {
    expect(() => loadPrecedenceTable({ rank: { final: -1 }, terminal: {}, requiresNewerIssued: [] })).toThrow(
      /bad rank/,
    );
    expect(() => loadPrecedenceTable({ rank: {} })).toThrow(/required/);
  });
});

describe('decideReportUpdate: every pair of statuses', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['incoming issued later', NEWER, LATER],
    ['same issued instant', EQUAL, T0],
    ['incoming issued earlier', OLDER, EARLIER],
  ];
  for (const [label, table, incomingIssued] of cases) {
    it(label, () => {
      const actual: Record<string, string> = {};
      for (const cur of STATUSES) {
        actual[cur] = STATUSES.map((inc) => {
          const action = decideReportUpdate(report(cur, T0), report(inc, incomingIssued)).action;
          return Object.keys(CODE).find((k) => CODE[k] === action);
        }).join('');
      }
      expect(actual).toEqual(table);
    });
  }

  it('applies anything when the EHR has no copy', () => {
    for (const s of STATUSES) {
      expect(decideReportUpdate(undefined, report(s, T0)).action).toBe('apply');
    }
  });

  it('sends statuses without a rule to review', () => {
    expect(decideReportUpdate(report('final', T0), report('unknown', LATER)).action).toBe('review');
    expect(decideReportUpdate(report('unknown', T0), report('final', LATER)).action).toBe('review');
  });

  it('gives reasons without patient data, naming the transition', () => {
    const d = decideReportUpdate(report('final', T0), report('preliminary', LATER));
    expect(d).toEqual({ action: 'superseded', reason: expect.stringContaining('final → preliminary') });
    expect(decideReportUpdate(report('final', T0), report('cancelled', LATER)).reason).toMatch(/manual review/);
  });
});

describe('decideReportUpdate: issued ordering', () => {
  it('compares issued as instants, not strings', () => {
    // Lexically "10:00+02:00" > "09:00Z", but it is 08:00Z: the incoming final is older than the EHR's.
    expect(
      decideReportUpdate(report('final', '2024-05-01T09:00:00Z'), report('final', '2024-05-01T10:00:00+02:00')),
    ).toMatchObject({ action: 'superseded' });
    // Same instant written two ways: a duplicate.
    expect(
      decideReportUpdate(report('final', '2024-05-01T08:00:00Z'), report('final', '2024-05-01T10:00:00.000+02:00')),
    ).toMatchObject({ action: 'duplicate' });
    expect(
      decideReportUpdate(report('final', '2024-05-01T08:00:00.5Z'), report('final', '2024-05-01T08:00:00.500000Z'))
        .action,
    ).toBe('duplicate');
  });

  it('orders sub-millisecond digits', () => {
    expect(compareInstants('2024-05-01T08:00:00.1234Z', '2024-05-01T08:00:00.1235Z')).toBe(-1);
    expect(compareInstants('2024-05-01T08:00:00.1235Z', '2024-05-01T08:00:00.1234Z')).toBe(1);
    expect(compareInstants('2024-05-01T08:00:00Z', 'not a date')).toBeUndefined();
    expect(compareInstants(undefined, '2024-05-01T08:00:00Z')).toBeUndefined();
  });

  it('handles missing issued times', () => {
    // incoming has a time, the EHR's copy none: counts as newer
    expect(decideReportUpdate(report('final'), report('corrected', T0)).action).toBe('apply');
    // a correction that cannot be ordered goes to review
    expect(decideReportUpdate(report('final', T0), report('corrected')).action).toBe('review');
    // same rank, nothing to order by: apply (the push writes only changed content)
    expect(decideReportUpdate(report('preliminary'), report('preliminary')).action).toBe('apply');
    // higher rank without times: apply; lower rank: superseded
    expect(decideReportUpdate(report('preliminary'), report('final')).action).toBe('apply');
    expect(decideReportUpdate(report('final'), report('preliminary')).action).toBe('superseded');
  });

  it('allows repeated corrections and amendments only with a newer issued time', () => {
    expect(decideReportUpdate(report('corrected', T0), report('corrected', LATER)).action).toBe('apply');
    expect(decideReportUpdate(report('amended', T0), report('amended', LATER)).action).toBe('apply');
    expect(decideReportUpdate(report('corrected', T0), report('corrected', T0)).action).toBe('duplicate');
    expect(decideReportUpdate(report('final', T0), report('corrected', T0)).action).toBe('superseded');
    expect(decideReportUpdate(report('corrected', LATER), report('corrected', T0)).action).toBe('superseded');
  });
});

describe('decideReportUpdate: arrival orders of preliminary (t1), final (t2), corrected (t3)', () => {
  const updates = {
    preliminary: report('preliminary', '2024-05-01T08:00:00Z'),
    final: report('final', '2024-05-02T08:00:00Z'),
    corrected: report('corrected', '2024-05-03T08:00:00Z'),
  };
  const names = Object.keys(updates) as (keyof typeof updates)[];
  const permutations: (keyof typeof updates)[][] = [];
  const permute = (rest: (keyof typeof updates)[], acc: (keyof typeof updates)[]): void => {
    if (rest.length === 0) {
      permutations.push(acc);
    }
    rest.forEach((name, i) => permute([...rest.slice(0, i), ...rest.slice(i + 1)], [...acc, name]));
  };
  permute(names, []);

  it('covers the 6 orders', () => {
    expect(permutations).toHaveLength(6);
  });

  for (const order of permutations) {
    it(`${order.join(' → ')} ends with the corrected report`, () => {
      let current: DiagnosticReport | undefined;
      const applied: (keyof typeof updates)[] = [];
      for (const name of order) {
        const decision = decideReportUpdate(current, updates[name]);
        expect(['apply', 'superseded']).toContain(decision.action);
        if (decision.action === 'apply') {
          current = updates[name];
          applied.push(name);
        }
      }
      expect(current?.status).toBe('corrected');
      expect(current?.issued).toBe('2024-05-03T08:00:00Z');
      // Every applied step moves forward in time: a stale report never overwrites a newer one.
      const times = applied.map((n) => Date.parse(updates[n].issued as string));
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      // Re-delivering the last one is a duplicate.
      expect(decideReportUpdate(current, updates.corrected).action).toBe('duplicate');
    });
  }
});

describe('findCurrentReport', () => {
  it('searches DiagnosticReport by the report-key identifier', async () => {
    const calls: unknown[][] = [];
    const found = report('final', T0);
    const fake = {
      conditionalRead: async (...args: unknown[]) => {
        calls.push(args);
        return found;
      },
    } as unknown as EhrClient;
    await expect(findCurrentReport(fake, 'urn:oid:1.2.3::PL-1::loinc:48807-2')).resolves.toBe(found);
    await findCurrentReport(fake, { system: 'http://example.org/other', value: 'X' });
    expect(calls).toEqual([
      ['DiagnosticReport', { system: REPORT_KEY_SYSTEM, value: 'urn:oid:1.2.3::PL-1::loinc:48807-2' }],
      ['DiagnosticReport', { system: 'http://example.org/other', value: 'X' }],
    ]);
  });

  it('finds the report key of an incoming report', () => {
    const r = {
      ...report('final', T0),
      identifier: [
        { system: 'urn:oid:1.2.3', value: 'PL-1' },
        { system: REPORT_KEY_SYSTEM, value: 'k' },
      ],
    };
    expect(reportKeyOf(r)).toEqual({ system: REPORT_KEY_SYSTEM, value: 'k' });
    expect(reportKeyOf(report('final'))).toBeUndefined();
  });
});
