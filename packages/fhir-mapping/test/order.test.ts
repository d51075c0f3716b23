import type { BmaOrder } from '@marrowbridge/model';
import type {
  Bundle,
  DiagnosticReport,
  Patient,
  Procedure,
  Resource,
  ServiceRequest,
  Specimen,
} from '@medplum/fhirtypes';
import {
  LATERALITY_EXTENSION,
  mapOrder,
  MappingError,
  profileUrl,
  QUALIFIER_EXTENSION,
  SPECIMEN_COLLECTION_PROCEDURE_EXTENSION,
} from '../src';
import { sampleInput } from './support/samples';

function resources<T extends Resource>(bundle: Bundle, type: T['resourceType']): T[] {
  return bundle.entry!.filter((e) => e.resource?.resourceType === type).map((e) => e.resource as T);
}
function one<T extends Resource>(bundle: Bundle, type: T['resourceType']): T {
  const found = resources<T>(bundle, type);
  expect(found).toHaveLength(1);
  return found[0];
}
const order = (name: string): BmaOrder => sampleInput<BmaOrder>(name);

describe('order Bundle', () => {
  it('is a transaction of conditional PUTs in the contract order', () => {
    const bundle = mapOrder(order('order-aspiration-trephine-biopsy'));
    expect(bundle.type).toBe('transaction');
    expect(bundle.entry!.map((e) => e.resource!.resourceType)).toEqual([
      'Patient',
      'Practitioner',
      'Practitioner',
      'ServiceRequest',
      'Specimen',
      'Specimen',
      'Procedure',
      'DiagnosticReport',
    ]);
    for (const e of bundle.entry!) {
      expect(e.request!.method).toBe('PUT');
      expect(e.request!.url).toMatch(new RegExp(`^${e.resource!.resourceType}\\?identifier=[^|]+\\|[^|]+$`));
      expect(e.fullUrl).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });

  it('writes the performer once when they are also the ordering provider', () => {
    const bundle = mapOrder(order('order-sternum'));
    expect(resources(bundle, 'Practitioner')).toHaveLength(1);
    const procedure = one<Procedure>(bundle, 'Procedure');
    const requester = one<ServiceRequest>(bundle, 'ServiceRequest').requester!;
    expect(procedure.performer![0].actor).toEqual(requester);
  });

  it('Patient carries the MRN (type MR), name, birth date and gender', () => {
    const patient = one<Patient>(mapOrder(order('order-pediatric-tibia')), 'Patient');
    expect(patient.identifier![0].type!.coding![0].code).toBe('MR');
    expect(patient.identifier![0].system).toBe('urn:oid:2.16.840.1.113883.3.9999.1');
    expect(patient.birthDate).toBe('2025-05-09');
    expect(patient.gender).toBe('male');
    expect(patient.name![0].family).toBe('Adeyemi');
  });

  it('ServiceRequest: codes, studies, priority, reasons, encounter by identifier, notes', () => {
    const sr = one<ServiceRequest>(mapOrder(order('order-urgent')), 'ServiceRequest');
    expect(sr.status).toBe('active');
    expect(sr.intent).toBe('order');
    expect(sr.priority).toBe('urgent');
    expect(sr.category![0].coding![0].code).toBe('108252007');
    expect(sr.code!.coding!.map((c) => c.code)).toEqual(['49401003', '38220']);
    expect(sr.orderDetail!.map((d) => d.coding![0].code)).toEqual([
      'morphology',
      'flow-cytometry',
      'cytogenetics',
      'fish',
      'molecular',
    ]);
    expect(sr.reasonCode![0].coding).toEqual([{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'D65' }]);
    expect(sr.encounter).toEqual({
      type: 'Encounter',
      identifier: { system: 'urn:oid:2.16.840.1.113883.3.9999.6', value: 'V-26-91502' },
    });
    expect(sr.note).toHaveLength(2);
    expect(sr.occurrenceDateTime).toBe('2026-03-09T22:40:00-04:00');
  });

  it('CPT 38222 with a trephine biopsy; several reasons keep their text', () => {
    const sr = one<ServiceRequest>(mapOrder(order('order-aspiration-trephine-biopsy')), 'ServiceRequest');
    expect(sr.code!.coding!.map((c) => c.code)).toEqual(['49401003', '38222']);
    const several = one<ServiceRequest>(mapOrder(order('order-several-reasons')), 'ServiceRequest');
    expect(several.reasonCode!.map((r) => r.coding?.[0].code ?? null)).toEqual(['D64.9', 'D69.6', 'D70.9', null]);
    expect(several.reasonCode![3]).toEqual({ text: 'Evaluate for myelodysplastic syndrome' });
  });

  it('body site: laterality and qualifier extensions, none for the sternum', () => {
    const ilium = one<Procedure>(mapOrder(order('order-aspiration-left-ilium')), 'Procedure').bodySite![0];
    expect(ilium.coding![0].code).toBe('22356005');
    expect(ilium.extension).toEqual([
      { url: LATERALITY_EXTENSION, valueCodeableConcept: { coding: [expect.objectContaining({ code: '7771000' })] } },
      { url: QUALIFIER_EXTENSION, valueCodeableConcept: { coding: [expect.objectContaining({ code: '255551008' })] } },
    ]);
    expect(ilium.text).toBe('Posterior left ilium');
    const sternum = one<Procedure>(mapOrder(order('order-sternum')), 'Procedure').bodySite![0];
    expect(sternum).toEqual({
      coding: [{ system: 'http://snomed.info/sct', code: '56873002', display: 'Bone structure of sternum' }],
      text: 'Sternum',
    });
    const tibia = one<ServiceRequest>(mapOrder(order('order-pediatric-tibia')), 'ServiceRequest').bodySite![0];
    expect(tibia.coding![0].code).toBe('12611008');
    expect(tibia.text).toBe('Anterior right tibia');
  });
});

describe('Procedure status and performed[x]', () => {
  it('a new order without collection is in preparation, with no performed time', () => {
    const p = one<Procedure>(mapOrder(order('order-aspiration-left-ilium')), 'Procedure');
    expect(p.status).toBe('preparation');
    expect(p.performedDateTime).toBeUndefined();
    expect(p.performedPeriod).toBeUndefined();
  });

  it('a collected specimen makes it completed at the earliest collection', () => {
    const o = order('order-aspiration-trephine-biopsy');
    o.specimens[1].collectedAt = '2026-03-03T10:05:00-05:00';
    const p = one<Procedure>(mapOrder(o), 'Procedure');
    expect(p.status).toBe('completed');
    expect(p.performedDateTime).toBe('2026-03-03T10:05:00-05:00');
  });

  it('the earliest collection is compared as an instant, across offsets', () => {
    const o = order('order-aspiration-trephine-biopsy');
    o.specimens[0].collectedAt = '2026-03-03T10:20:00-05:00'; // 15:20Z
    o.specimens[1].collectedAt = '2026-03-03T15:10:00Z';
    expect(one<Procedure>(mapOrder(o), 'Procedure').performedDateTime).toBe('2026-03-03T15:10:00Z');
  });

  it('procedure times give a performed period; explicit status and hh:mm times are kept', () => {
    const p = one<Procedure>(mapOrder(order('order-sternum')), 'Procedure');
    expect(p.status).toBe('completed');
    expect(p.performedPeriod).toEqual({ start: '2026-02-26T14:05:00-05:00', end: '2026-02-26T14:25:00-05:00' });
    expect(p.complication![0].text).toMatch(/bleeding/);
    expect(p.followUp).toHaveLength(2);
    const derived = one<Procedure>(mapOrder(order('order-several-reasons')), 'Procedure');
    expect(derived.status).toBe('completed');
    expect(derived.performedPeriod!.start).toBe('2026-02-17T09:20:00-05:00');
  });

  it('in-progress has a start only', () => {
    const p = one<Procedure>(mapOrder(order('order-urgent')), 'Procedure');
    expect(p.status).toBe('in-progress');
    expect(p.performedPeriod).toEqual({ start: '2026-03-09T22:40:00-04:00' });
  });

  it('a revoked order: not-done with the reason, no performed time', () => {
    const o = order('order-aspiration-left-ilium');
    o.status = 'revoked';
    o.procedure.notDoneReason = 'Patient declined the procedure';
    const bundle = mapOrder(o);
    const p = one<Procedure>(bundle, 'Procedure');
    expect(p.status).toBe('not-done');
    expect(p.statusReason).toEqual({ text: 'Patient declined the procedure' });
    expect(p.performedDateTime ?? p.performedPeriod).toBeUndefined();
    expect(one<ServiceRequest>(bundle, 'ServiceRequest').status).toBe('revoked');
  });

  it('an explicit preparation status wins over a collection time, and drops performed[x]', () => {
    const o = order('order-aspiration-trephine-biopsy');
    o.procedure.status = 'preparation';
    const p = one<Procedure>(mapOrder(o), 'Procedure');
    expect(p.status).toBe('preparation');
    expect(p.performedDateTime).toBeUndefined();
  });
});

describe('Specimens', () => {
  it('aspirate: types, method, volume, additive, accession, collection procedure', () => {
    const bundle = mapOrder(order('order-aspiration-trephine-biopsy'));
    const [aspirate, core] = resources<Specimen>(bundle, 'Specimen');
    const procedureUrl = bundle.entry!.find((e) => e.resource?.resourceType === 'Procedure')!.fullUrl;
    expect(aspirate.type!.coding!.map((c) => c.code)).toEqual(['396997002', 'MAR']);
    expect(aspirate.collection!.method!.coding![0].code).toBe('129316008');
    expect(aspirate.collection!.quantity).toEqual({
      value: 4,
      unit: 'mL',
      system: 'http://unitsofmeasure.org',
      code: 'mL',
    });
    expect(aspirate.container![0].additiveCodeableConcept!.coding![0]).toMatchObject({
      system: 'http://terminology.hl7.org/CodeSystem/v2-0371',
      code: 'EDTK',
    });
    expect(aspirate.accessionIdentifier!.type!.coding![0].code).toBe('ACSN');
    expect(aspirate.identifier![0].type!.coding![0].code).toBe('SID');
    expect(aspirate.collection!.extension).toEqual([
      { url: SPECIMEN_COLLECTION_PROCEDURE_EXTENSION, valueReference: { reference: procedureUrl } },
    ]);
    expect(aspirate.meta!.profile).toEqual([profileUrl('bma-aspirate-specimen')]);
    expect(core.type!.coding!.map((c) => c.code)).toEqual(['258415003', 'BX']);
    expect(core.collection!.method!.coding![0].code).toBe('129314006');
    expect(core.meta!.profile).toEqual([profileUrl('bma-trephine-specimen')]);
  });

  it('the registered aspirate report lists the aspirate but not the trephine core', () => {
    const bundle = mapOrder(order('order-aspiration-trephine-biopsy'));
    const report = one<DiagnosticReport>(bundle, 'DiagnosticReport');
    const specimens = bundle.entry!.filter((e) => e.resource?.resourceType === 'Specimen');
    expect(report.status).toBe('registered');
    expect(report.code.coding![0].code).toBe('48807-2');
    expect(report.category!.map((c) => c.coding![0].code)).toEqual(['LAB', 'HM']);
    expect(report.specimen).toEqual([{ reference: specimens[0].fullUrl }]);
  });

  it('an aliquot whose parent came in an earlier order is referred to by identifier', () => {
    const o = order('order-pediatric-tibia');
    o.specimens = [o.specimens[1]];
    o.specimens[0].parentId = 'SP-EARLIER-1';
    const [aliquot] = resources<Specimen>(mapOrder(o), 'Specimen');
    expect(aliquot.parent).toEqual([
      { reference: 'Specimen?identifier=urn%3Aoid%3A2.16.840.1.113883.3.9999.4|SP-EARLIER-1' },
    ]);
  });

  it('two specimens with one id are rejected', () => {
    const o = order('order-aspiration-trephine-biopsy');
    o.specimens[1].id = { ...o.specimens[0].id };
    expect(() => mapOrder(o)).toThrow(MappingError);
  });
});

describe('profiles option', () => {
  it('sets meta.profile by default and leaves it out with profiles: false', () => {
    const o = order('order-aspiration-trephine-biopsy');
    const withProfiles = mapOrder(o);
    const profiles = withProfiles.entry!.map((e) => e.resource!.meta?.profile?.[0]);
    expect(profiles).toEqual([
      undefined,
      undefined,
      undefined,
      profileUrl('bma-service-request'),
      profileUrl('bma-aspirate-specimen'),
      profileUrl('bma-trephine-specimen'),
      profileUrl('bma-procedure'),
      profileUrl('bma-diagnostic-report'),
    ]);
    const without = mapOrder(o, { profiles: false });
    expect(without.entry!.every((e) => e.resource!.meta === undefined)).toBe(true);
    expect(without.entry!.map((e) => e.fullUrl)).toEqual(withProfiles.entry!.map((e) => e.fullUrl));
  });
});
