/**
 * A preliminary, a final and a corrected version of one report, in each of the 6 possible arrival orders, always
 * leave the EHR with the corrected report and its Observations, with no duplicate of anything; a second report of
 * the same order (flow cytometry) arriving in between ends beside it with its own status, untouched.
 */
import type { DiagnosticReport, Observation } from '@medplum/fhirtypes';
import { withTestRedis } from '../harness/redis';
import { sample, startStack, type TestStack } from '../support/stack';

const redis = withTestRedis();
const versions = ['result-aspirate-1-preliminary', 'result-aspirate-2-final', 'result-aspirate-3-corrected'];
const permutations = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];

describe('report versions in every arrival order', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ redisUrl: redis().url, workers: 2 });
  });
  afterAll(async () => stack?.stop());

  it.each(permutations)(
    'arrival order %i, %i, %i ends corrected, flow report untouched, no duplicates',
    async (...order) => {
      await stack.sandbox.resetData();
      await stack.enqueue(sample('order-aspiration-trephine-biopsy'));
      await stack.waitIdle();
      // The three versions and the flow report are queued together: workers race for them, the order lock
      // serializes them, and precedence decides.
      const files = [...order.map((i) => versions[i]), 'result-flow-cytometry-pdf'];
      files.splice(1, 0, files.pop()!); // flow cytometry arrives in between
      for (const f of files) await stack.enqueue(sample(f));
      await stack.waitIdle();

      const reports = await stack.sandbox.repo.searchResources<DiagnosticReport>({ resourceType: 'DiagnosticReport' });
      const byCode = new Map<string, DiagnosticReport[]>();
      for (const r of reports) {
        const code = r.code.coding?.[0]?.code ?? '?';
        byCode.set(code, [...(byCode.get(code) ?? []), r]);
      }
      expect(byCode.get('48807-2')).toHaveLength(1);
      expect(byCode.get('48807-2')![0].status).toBe('corrected');
      expect(byCode.get('101119-6')).toHaveLength(1);
      expect(byCode.get('101119-6')![0].status).toBe('final');

      // One Observation per report and result code; the aspirate report's results are the corrected ones.
      const observations = await stack.sandbox.repo.searchResources<Observation>({ resourceType: 'Observation' });
      const keys = observations.map((o) => o.identifier?.find((i) => i.system?.endsWith('/observation-key'))?.value);
      expect(new Set(keys).size).toBe(keys.length);
      const aspirate = byCode.get('48807-2')![0];
      for (const ref of aspirate.result ?? []) {
        const obs = observations.find((o) => `Observation/${o.id}` === ref.reference);
        expect(obs).toBeDefined();
      }
      const counts = await stack.sandbox.countResources();
      expect(counts.Patient).toBe(1);
      expect(counts.ServiceRequest).toBe(1);
      expect(counts.Procedure).toBe(1);
    },
    120_000,
  );
});
