import type { BmaOrder, ResultUpdate } from '@marrowbridge/model';
import type { Bundle, DiagnosticReport, Observation, Reference } from '@medplum/fhirtypes';
import { mapOrder, mapResultUpdate } from '../src';
import { loadOrders, loadResults } from './support/samples';

/** Every Reference.reference string in a value, with the JSON path where it sits. */
function references(value: unknown, at = ''): { path: string; reference: string }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => references(v, `${at}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) =>
      k === 'reference' && typeof v === 'string' ? [{ path: at, reference: v }] : references(v, `${at}.${k}`),
    );
  }
  return [];
}

function entryUrls(bundle: Bundle, type: string): { fullUrl: string; url: string }[] {
  return (bundle.entry ?? [])
    .filter((e) => e.resource?.resourceType === type)
    .map((e) => ({ fullUrl: e.fullUrl!, url: e.request!.url }));
}

function typeOfEntry(bundle: Bundle, fullUrl: string): string | undefined {
  return bundle.entry?.find((e) => e.fullUrl === fullUrl)?.resource?.resourceType;
}

function orderFor(update: ResultUpdate, orders: BmaOrder[]): BmaOrder {
  const order = orders.find(
    (o) =>
      o.placerOrderNumber.system === update.placerOrderNumber.system &&
      o.placerOrderNumber.value === update.placerOrderNumber.value,
  );
  if (!order) throw new Error(`no sample order for ${update.placerOrderNumber.value}`);
  return order;
}

const orders = loadOrders();
const results = loadResults();

describe('links inside order Bundles', () => {
  it.each(orders.map((o) => [o.placerOrderNumber.value, o] as const))(
    '%s: every urn:uuid reference resolves to an entry',
    (_id, order) => {
      const bundle = mapOrder(order);
      const fullUrls = new Set(bundle.entry!.map((e) => e.fullUrl));
      const refs = references(bundle);
      expect(refs.length).toBeGreaterThan(0);
      for (const ref of refs) {
        expect(ref.reference).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
        expect(fullUrls.has(ref.reference)).toBe(true);
      }
    },
  );

  it.each(orders.map((o) => [o.placerOrderNumber.value, o] as const))(
    '%s: links point at resources of the right type',
    (_id, order) => {
      const bundle = mapOrder(order);
      const sr = bundle.entry!.find((e) => e.resource?.resourceType === 'ServiceRequest')!.fullUrl!;
      const proc = bundle.entry!.find((e) => e.resource?.resourceType === 'Procedure')!.fullUrl!;
      for (const e of bundle.entry!) {
        const r = e.resource as unknown as Record<string, unknown>;
        if (r.subject) expect(typeOfEntry(bundle, (r.subject as Reference).reference!)).toBe('Patient');
        for (const ref of (r.basedOn as Reference[] | undefined) ?? []) expect(ref.reference).toBe(sr);
        for (const ref of (r.request as Reference[] | undefined) ?? []) expect(ref.reference).toBe(sr);
        for (const ref of (r.specimen as Reference[] | undefined) ?? []) {
          expect(typeOfEntry(bundle, ref.reference!)).toBe('Specimen');
        }
        if (e.resource?.resourceType === 'Specimen') {
          const ext = e.resource.collection?.extension?.[0];
          expect(ext?.valueReference?.reference).toBe(proc);
          for (const p of e.resource.parent ?? []) expect(typeOfEntry(bundle, p.reference!)).toBe('Specimen');
        }
      }
    },
  );

  it('ServiceRequest.specimen lists every Specimen of the order, in order', () => {
    for (const order of orders) {
      const bundle = mapOrder(order);
      const sr = bundle.entry!.find((e) => e.resource?.resourceType === 'ServiceRequest')!.resource!;
      const specimens = entryUrls(bundle, 'Specimen').map((s) => s.fullUrl);
      expect((sr as { specimen?: Reference[] }).specimen?.map((r) => r.reference)).toEqual(specimens);
      expect(specimens).toHaveLength(order.specimens.length);
    }
  });

  it('an aliquot points at its parent aspirate', () => {
    const order = orders.find((o) => o.specimens.some((s) => s.parentId))!;
    const bundle = mapOrder(order);
    const aliquot = order.specimens.find((s) => s.parentId)!;
    const entry = bundle.entry!.find((e) => e.request!.url.endsWith(encodeURIComponent(aliquot.id.value)))!;
    const parentEntry = bundle.entry!.find((e) => e.request!.url.endsWith(encodeURIComponent(aliquot.parentId!)))!;
    expect((entry.resource as { parent?: Reference[] }).parent).toEqual([{ reference: parentEntry.fullUrl }]);
  });
});

describe('links from result Bundles to their order', () => {
  it.each(results.map((r) => [`${r.reportCode.code} ${r.status}`, r] as const))(
    '%s: in-Bundle references resolve; the others are conditional references to the order entries',
    (_name, update) => {
      const bundle = mapResultUpdate(update);
      const orderBundle = mapOrder(orderFor(update, orders));
      const orderUrls = new Set(orderBundle.entry!.map((e) => e.request!.url));
      const fullUrls = new Set(bundle.entry!.map((e) => e.fullUrl));
      for (const ref of references(bundle)) {
        if (ref.reference.startsWith('urn:uuid:')) {
          expect(fullUrls.has(ref.reference)).toBe(true);
        } else {
          expect(ref.reference).toMatch(/^(Patient|ServiceRequest|Specimen|Procedure)\?identifier=[^|]+\|.+$/);
          expect(orderUrls.has(ref.reference)).toBe(true);
        }
      }
    },
  );

  it.each(results.map((r) => [`${r.reportCode.code} ${r.status}`, r] as const))(
    '%s: refers to the same Patient, ServiceRequest, Procedure and Specimens as its order',
    (_name, update) => {
      const bundle = mapResultUpdate(update);
      const orderBundle = mapOrder(orderFor(update, orders));
      const url = (type: string) => entryUrls(orderBundle, type).map((e) => e.url);
      const report = bundle.entry!.find((e) => e.resource?.resourceType === 'DiagnosticReport')!
        .resource as DiagnosticReport;
      expect([report.subject!.reference]).toEqual(url('Patient'));
      expect(report.basedOn!.map((r) => r.reference)).toEqual(url('ServiceRequest'));
      for (const s of report.specimen ?? []) expect(url('Specimen')).toContain(s.reference);
      const observations = bundle
        .entry!.filter((e) => e.resource?.resourceType === 'Observation')
        .map((e) => e.resource as Observation);
      expect(observations).toHaveLength(update.observations.length);
      for (const o of observations) {
        expect([o.subject!.reference]).toEqual(url('Patient'));
        expect(o.basedOn!.map((r) => r.reference)).toEqual(url('ServiceRequest'));
        expect(o.partOf!.map((r) => r.reference)).toEqual(url('Procedure'));
        expect(url('Specimen')).toContain(o.specimen!.reference);
      }
      expect(report.result!.map((r) => r.reference)).toEqual(
        bundle.entry!.filter((e) => e.resource?.resourceType === 'Observation').map((e) => e.fullUrl),
      );
    },
  );

  it('every version of the aspirate report updates the report the order registered', () => {
    const aspirate = results.filter((r) => r.reportCode.code === '48807-2');
    expect(aspirate.length).toBeGreaterThanOrEqual(4);
    for (const update of aspirate) {
      const orderBundle = mapOrder(orderFor(update, orders));
      const registered = entryUrls(orderBundle, 'DiagnosticReport')[0];
      const version = entryUrls(mapResultUpdate(update), 'DiagnosticReport')[0];
      expect(version).toEqual(registered);
    }
  });

  it('the flow cytometry report of the same order is another report (another key)', () => {
    const flow = results.find((r) => r.reportCode.code === '101119-6')!;
    const orderBundle = mapOrder(orderFor(flow, orders));
    const flowReport = entryUrls(mapResultUpdate(flow), 'DiagnosticReport')[0];
    expect(flowReport.url).not.toBe(entryUrls(orderBundle, 'DiagnosticReport')[0].url);
    expect(flowReport.url).toContain(encodeURIComponent('::loinc:101119-6'));
  });
});
