import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { EhrSandbox } from '../src';
import { startEhrSandbox } from '../src';
import { fhir, isOutcome, putEntry, txBundle } from './helpers';

// Synthetic identifiers, shaped like the mapping contract's.
const MRN_SYS = 'urn:oid:1.2.3.4.5';
const NPI_SYS = 'http://hl7.org/fhir/sid/us-npi';
const PLAC_SYS = 'urn:oid:1.2.3.4.6';
const SID_SYS = 'urn:oid:1.2.3.4.7';
const PROC_KEY = 'http://marrowbridge.org/fhir/sid/procedure-key';
const REPORT_KEY = 'http://marrowbridge.org/fhir/sid/report-key';
const OBS_KEY = 'http://marrowbridge.org/fhir/sid/observation-key';

const U = (n: number): string => `urn:uuid:00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const cond = (type: string, system: string, value: string): string =>
  `${type}?identifier=${encodeURIComponent(system)}|${encodeURIComponent(value)}`;

/** What orderBundle() stores: one resource of each type. */
const ONE_ORDER = {
  Patient: 1,
  Practitioner: 1,
  ServiceRequest: 1,
  Specimen: 1,
  Procedure: 1,
  DiagnosticReport: 1,
};

function orderBundle(placer = 'PL-1', mrn = 'MRN-T1'): Bundle {
  const procKey = `${PLAC_SYS}::${placer}`;
  return txBundle([
    putEntry(U(1), {
      resourceType: 'Patient',
      identifier: [{ system: MRN_SYS, value: mrn }],
      name: [{ family: 'Synthetic', given: ['Pat'] }],
    } as Resource),
    putEntry(U(2), {
      resourceType: 'Practitioner',
      identifier: [{ system: NPI_SYS, value: '1234567893' }],
      name: [{ family: 'Doctor' }],
    } as Resource),
    putEntry(U(3), {
      resourceType: 'ServiceRequest',
      identifier: [{ system: PLAC_SYS, value: placer }],
      status: 'active',
      intent: 'order',
      code: { coding: [{ system: 'http://snomed.info/sct', code: '49401003' }] },
      subject: { reference: U(1) },
      requester: { reference: U(2) },
      specimen: [{ reference: U(4) }],
    } as Resource),
    putEntry(U(4), {
      resourceType: 'Specimen',
      identifier: [{ system: SID_SYS, value: `${placer}-S1` }],
      subject: { reference: U(1) },
      request: [{ reference: U(3) }],
    } as Resource),
    putEntry(U(5), {
      resourceType: 'Procedure',
      identifier: [{ system: PROC_KEY, value: procKey }],
      status: 'preparation',
      subject: { reference: U(1) },
      basedOn: [{ reference: U(3) }],
    } as Resource),
    putEntry(U(6), {
      resourceType: 'DiagnosticReport',
      identifier: [{ system: REPORT_KEY, value: `${procKey}::loinc:48807-2` }],
      status: 'registered',
      code: { coding: [{ system: 'http://loinc.org', code: '48807-2' }] },
      subject: { reference: U(1) },
      basedOn: [{ reference: U(3) }],
      specimen: [{ reference: U(4) }],
    } as Resource),
  ]);
}

/** A result update: conditional references to what the order created, and `n` Observations. */
function resultBundle(n: number, placer = 'PL-1', mrn = 'MRN-T1', status = 'preliminary'): Bundle {
  const reportKey = `${PLAC_SYS}::${placer}::loinc:48807-2`;
  const patientRef = { reference: cond('Patient', MRN_SYS, mrn) };
  const srRef = { reference: cond('ServiceRequest', PLAC_SYS, placer) };
  const obs: BundleEntry[] = [];
  for (let i = 0; i < n; i++) {
    obs.push(
      putEntry(U(100 + i), {
        resourceType: 'Observation',
        identifier: [{ system: OBS_KEY, value: `${reportKey}::local:R${i}` }],
        status,
        code: { text: `result ${i}` },
        subject: patientRef,
        basedOn: [srRef],
        partOf: [{ reference: cond('Procedure', PROC_KEY, `${PLAC_SYS}::${placer}`) }],
        specimen: { reference: cond('Specimen', SID_SYS, `${placer}-S1`) },
        valueQuantity: { value: i },
      } as Resource),
    );
  }
  return txBundle([
    putEntry(U(90), {
      resourceType: 'DiagnosticReport',
      identifier: [{ system: REPORT_KEY, value: reportKey }],
      status,
      code: { coding: [{ system: 'http://loinc.org', code: '48807-2' }] },
      subject: patientRef,
      basedOn: [srRef],
      result: obs.map((e) => ({ reference: e.fullUrl as string })),
    } as Resource),
    ...obs,
  ]);
}

describe('ehr-sandbox transactions and batches', () => {
  let sb: EhrSandbox;

  beforeAll(async () => {
    sb = await startEhrSandbox({ auth: 'off' });
  });
  afterAll(async () => {
    await sb.stop();
  });
  beforeEach(async () => {
    await sb.resetData();
  });

  test('an order transaction: urn:uuid references are rewritten; the response has status, location, etag per entry', async () => {
    const r = await fhir(sb, '', { method: 'POST', body: orderBundle() });
    expect(r.status).toBe(200);
    expect(r.body.type).toBe('transaction-response');
    expect(r.body.entry).toHaveLength(6);
    for (const e of r.body.entry) {
      expect(e.response.status).toBe('201 Created');
      expect(e.response.location).toMatch(/^[A-Za-z]+\/[\w-]+\/_history\/[\w-]+$/);
      expect(e.response.etag).toMatch(/^W\/"[\w-]+"$/);
    }
    const [patientLoc, practitionerLoc, srLoc, specimenLoc] = r.body.entry.map(
      (e: BundleEntry) => (e.response?.location as string).split('/_history')[0],
    );
    const sr = (await fhir(sb, srLoc)).body;
    expect(sr.subject.reference).toBe(patientLoc);
    expect(sr.requester.reference).toBe(practitionerLoc);
    expect(sr.specimen[0].reference).toBe(specimenLoc);
    const specimen = (await fhir(sb, specimenLoc)).body;
    expect(specimen.request[0].reference).toBe(srLoc);
  });

  test('the same transaction twice: the second creates nothing new and changes no version', async () => {
    const first = await fhir(sb, '', { method: 'POST', body: orderBundle() });
    const counts = await sb.countResources();
    expect(counts).toEqual(ONE_ORDER);
    const second = await fhir(sb, '', { method: 'POST', body: orderBundle() });
    expect(second.status).toBe(200);
    expect(await sb.countResources()).toEqual(counts);
    expect(second.body.entry.map((e: BundleEntry) => e.response?.status)).toEqual(Array(6).fill('200 OK'));
    expect(second.body.entry.map((e: BundleEntry) => e.response?.etag)).toEqual(
      first.body.entry.map((e: BundleEntry) => e.response?.etag),
    );
  });

  test('conditional references are resolved to the one matching resource; more than 8 conditional entries are fine', async () => {
    const order = await fhir(sb, '', { method: 'POST', body: orderBundle() });
    const patientRef = order.body.entry[0].response.location.split('/_history')[0];
    const procedureRef = order.body.entry[4].response.location.split('/_history')[0];
    const r = await fhir(sb, '', { method: 'POST', body: resultBundle(12) });
    expect(r.status).toBe(200);
    expect(r.body.entry).toHaveLength(13);
    const obsRef = r.body.entry[1].response.location.split('/_history')[0];
    const obs = (await fhir(sb, obsRef)).body;
    expect(obs.subject.reference).toBe(patientRef);
    expect(obs.partOf[0].reference).toBe(procedureRef);
    const report = (await fhir(sb, r.body.entry[0].response.location.split('/_history')[0])).body;
    expect(report.result).toHaveLength(12);
    expect(report.result[0].reference).toBe(obsRef);

    // Idempotent as well.
    const counts = await sb.countResources();
    await fhir(sb, '', { method: 'POST', body: resultBundle(12) });
    expect(await sb.countResources()).toEqual(counts);
    expect(counts.Observation).toBe(12);
  });

  test('a conditional reference matching nothing → 400, matching several → 412; nothing is stored', async () => {
    const none = await fhir(sb, '', { method: 'POST', body: resultBundle(2) });
    expect(none.status).toBe(400);
    expect(isOutcome(none.body)).toBe(true);
    expect(none.body.issue[0].diagnostics).toMatch(/matches no resource/);
    expect(await sb.countResources()).toEqual({});

    await fhir(sb, '', { method: 'POST', body: orderBundle() });
    // A second patient with the same MRN makes the conditional reference ambiguous.
    await sb.repo.createResource({ resourceType: 'Patient', identifier: [{ system: MRN_SYS, value: 'MRN-T1' }] });
    const before = await sb.countResources();
    const several = await fhir(sb, '', { method: 'POST', body: resultBundle(2) });
    expect(several.status).toBe(412);
    expect(isOutcome(several.body)).toBe(true);
    expect(await sb.countResources()).toEqual(before);
  });

  test('a conditional reference may point at a resource created by the same transaction', async () => {
    const bundle = orderBundle();
    const entries = bundle.entry as BundleEntry[];
    (entries[4].resource as { subject: { reference: string } }).subject.reference = cond('Patient', MRN_SYS, 'MRN-T1');
    const r = await fhir(sb, '', { method: 'POST', body: bundle });
    expect(r.status).toBe(200);
    const proc = (await fhir(sb, r.body.entry[4].response.location.split('/_history')[0])).body;
    expect(proc.subject.reference).toBe(r.body.entry[0].response.location.split('/_history')[0]);
  });

  test('rollback: a failing entry (stale If-Match) undoes every earlier write of the transaction', async () => {
    const order = await fhir(sb, '', { method: 'POST', body: orderBundle() });
    const reportLoc: string = order.body.entry[5].response.location.split('/_history')[0];
    const report = (await fhir(sb, reportLoc)).body;
    const practitionerLoc: string = order.body.entry[1].response.location.split('/_history')[0];
    const practitioner = (await fhir(sb, practitionerLoc)).body;
    const before = await sb.countResources();

    const bad = txBundle([
      {
        resource: { resourceType: 'Patient', name: [{ family: 'New' }] } as Resource,
        request: { method: 'POST', url: 'Patient' },
      },
      {
        resource: { ...practitioner, name: [{ family: 'Changed' }] },
        request: { method: 'PUT', url: practitionerLoc, ifMatch: `W/"${practitioner.meta.versionId}"` },
      },
      {
        resource: { ...report, status: 'final' },
        request: { method: 'PUT', url: reportLoc, ifMatch: 'W/"not-the-current-version"' },
      },
    ]);
    const r = await fhir(sb, '', { method: 'POST', body: bad });
    expect(r.status).toBe(412);
    expect(isOutcome(r.body)).toBe(true);
    expect(r.body.issue.map((i: { diagnostics?: string }) => i.diagnostics).join(' ')).toContain('Bundle.entry[2]');
    expect(await sb.countResources()).toEqual(before);
    const after = (await fhir(sb, practitionerLoc)).body;
    expect(after.name[0].family).toBe('Doctor');
    expect(after.meta.versionId).toBe(practitioner.meta.versionId);
    expect((await fhir(sb, `${practitionerLoc}/_history`)).body.total).toBe(1);
  });

  test('rollback: a failing PATCH entry undoes the creates before it', async () => {
    const order = await fhir(sb, '', { method: 'POST', body: orderBundle() });
    const patientLoc: string = order.body.entry[0].response.location.split('/_history')[0];
    const before = await sb.countResources();
    const failingPatch = [{ op: 'test', path: '/active', value: true }];
    const r = await fhir(sb, '', {
      method: 'POST',
      body: txBundle([
        {
          resource: { resourceType: 'Practitioner', name: [{ family: 'Extra' }] } as Resource,
          request: { method: 'POST', url: 'Practitioner' },
        },
        {
          resource: {
            resourceType: 'Binary',
            contentType: 'application/json-patch+json',
            data: Buffer.from(JSON.stringify(failingPatch)).toString('base64'),
          } as Resource,
          request: { method: 'PATCH', url: patientLoc },
        },
      ]),
    });
    expect(r.status).toBe(400);
    expect(await sb.countResources()).toEqual(before);
  });

  test('two entries acting on the same resource are refused', async () => {
    const bundle = orderBundle();
    bundle.entry?.push({ ...(bundle.entry[0] as BundleEntry), fullUrl: U(77) });
    const r = await fhir(sb, '', { method: 'POST', body: bundle });
    expect(r.status).toBe(400);
    expect(await sb.countResources()).toEqual({});
  });

  test('transactions are serialized: the same order sent 5 times at once is stored once', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () => fhir(sb, '', { method: 'POST', body: orderBundle() })),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(await sb.countResources()).toEqual(ONE_ORDER);
  });

  test('GET entries run after the writes and return their result', async () => {
    const bundle = orderBundle();
    bundle.entry?.push({ request: { method: 'GET', url: cond('Patient', MRN_SYS, 'MRN-T1') } });
    const r = await fhir(sb, '', { method: 'POST', body: bundle });
    expect(r.status).toBe(200);
    expect(r.body.entry[6].resource.type).toBe('searchset');
    expect(r.body.entry[6].resource.total).toBe(1);
  });

  test('a batch runs each entry on its own and reports failures per entry', async () => {
    const r = await fhir(sb, '', {
      method: 'POST',
      body: txBundle(
        [
          {
            resource: { resourceType: 'Patient', name: [{ family: 'B1' }] } as Resource,
            request: { method: 'POST', url: 'Patient' },
          },
          { request: { method: 'GET', url: 'Patient/does-not-exist' } },
          {
            resource: {
              resourceType: 'Observation',
              status: 'final',
              code: { text: 'x' },
              subject: { reference: 'Patient/nope' },
            } as Resource,
            request: { method: 'POST', url: 'Observation' },
          },
        ],
        'batch',
      ),
    });
    expect(r.status).toBe(200);
    expect(r.body.type).toBe('batch-response');
    expect(r.body.entry.map((e: BundleEntry) => e.response?.status)).toEqual(['201 Created', '404', '400']);
    expect(isOutcome(r.body.entry[1].response.outcome)).toBe(true);
    expect(await sb.countResources()).toEqual({ Patient: 1 });
  });

  test('a Bundle that is neither transaction nor batch is refused', async () => {
    const r = await fhir(sb, '', { method: 'POST', body: { resourceType: 'Bundle', type: 'collection', entry: [] } });
    expect(r.status).toBe(400);
    expect(isOutcome(r.body)).toBe(true);
  });
});

describe('ehr-sandbox transactions with validation', () => {
  let sb: EhrSandbox;
  beforeAll(async () => {
    sb = await startEhrSandbox({
      auth: 'off',
      validate: (r) =>
        r.resourceType === 'Observation' && (r as { valueQuantity?: { value?: number } }).valueQuantity?.value === 3
          ? {
              resourceType: 'OperationOutcome',
              issue: [{ severity: 'error', code: 'value', diagnostics: 'value 3 is not allowed' }],
            }
          : undefined,
    });
  });
  afterAll(async () => {
    await sb.stop();
  });

  test('one invalid entry → 422 with the validator outcome; nothing of the transaction is stored', async () => {
    await fhir(sb, '', { method: 'POST', body: orderBundle() });
    const before = await sb.countResources();
    const r = await fhir(sb, '', { method: 'POST', body: resultBundle(5) });
    expect(r.status).toBe(422);
    expect(r.body.issue[0].diagnostics).toBe('value 3 is not allowed');
    expect(await sb.countResources()).toEqual(before);
  });
});
