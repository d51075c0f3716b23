import { createHash } from 'node:crypto';
import type { Bundle, BundleEntry, DiagnosticReport, Resource } from '@medplum/fhirtypes';
import { REPORT_KEY_SYSTEM } from '../src/precedence';

/** Synthetic identifiers only (invented MRNs and order numbers). */
export const SYS = {
  mrn: 'urn:oid:2.16.840.1.113883.3.9999.1',
  npi: 'http://hl7.org/fhir/sid/us-npi',
  placer: 'urn:oid:2.16.840.1.113883.3.9999.2',
  specimen: 'urn:oid:2.16.840.1.113883.3.9999.3',
  procedureKey: 'http://marrowbridge.org/fhir/sid/procedure-key',
  reportKey: REPORT_KEY_SYSTEM,
  observationKey: 'http://marrowbridge.org/fhir/sid/observation-key',
};

export function urn(type: string, system: string, value: string): string {
  const h = createHash('sha1').update(`${type}|${system}|${value}`).digest('hex');
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function conditional(type: string, system: string, value: string): string {
  return `${type}?identifier=${encodeURIComponent(system)}|${encodeURIComponent(value)}`;
}

function entry(resource: Resource, system: string, value: string): BundleEntry {
  return {
    fullUrl: urn(resource.resourceType, system, value),
    resource,
    request: { method: 'PUT', url: conditional(resource.resourceType, system, value) },
  };
}

export interface OrderIds {
  mrn: string;
  placer: string;
  specimenId: string;
  npi?: string;
}

/** An order Bundle as the mapping contract describes it (note the ServiceRequest ↔ Specimen cycle). */
export function orderBundle(ids: OrderIds): Bundle {
  const npi = ids.npi ?? '1234567893';
  const u = {
    patient: urn('Patient', SYS.mrn, ids.mrn),
    practitioner: urn('Practitioner', SYS.npi, npi),
    sr: urn('ServiceRequest', SYS.placer, ids.placer),
    specimen: urn('Specimen', SYS.specimen, ids.specimenId),
    procedure: urn('Procedure', SYS.procedureKey, `${SYS.placer}::${ids.placer}`),
  };
  const reportKey = `${SYS.placer}::${ids.placer}::loinc:48807-2`;
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      entry(
        {
          resourceType: 'Patient',
          identifier: [{ system: SYS.mrn, value: ids.mrn, type: { coding: [{ code: 'MR' }] } }],
          name: [{ family: 'Testperson', given: ['Alex'] }],
          gender: 'unknown',
          birthDate: '1970-01-01',
        },
        SYS.mrn,
        ids.mrn,
      ),
      entry(
        { resourceType: 'Practitioner', identifier: [{ system: SYS.npi, value: npi }], name: [{ family: 'Doe' }] },
        SYS.npi,
        npi,
      ),
      entry(
        {
          resourceType: 'ServiceRequest',
          identifier: [{ system: SYS.placer, value: ids.placer }],
          status: 'active',
          intent: 'order',
          code: { coding: [{ system: 'http://snomed.info/sct', code: '49401003' }] },
          subject: { reference: u.patient },
          requester: { reference: u.practitioner },
          specimen: [{ reference: u.specimen }],
        },
        SYS.placer,
        ids.placer,
      ),
      entry(
        {
          resourceType: 'Specimen',
          identifier: [{ system: SYS.specimen, value: ids.specimenId }],
          type: { coding: [{ system: 'http://snomed.info/sct', code: '396997002' }] },
          subject: { reference: u.patient },
          request: [{ reference: u.sr }],
        },
        SYS.specimen,
        ids.specimenId,
      ),
      entry(
        {
          resourceType: 'Procedure',
          identifier: [{ system: SYS.procedureKey, value: `${SYS.placer}::${ids.placer}` }],
          status: 'preparation',
          subject: { reference: u.patient },
          basedOn: [{ reference: u.sr }],
        },
        SYS.procedureKey,
        `${SYS.placer}::${ids.placer}`,
      ),
      entry(
        {
          resourceType: 'DiagnosticReport',
          identifier: [{ system: SYS.reportKey, value: reportKey }],
          status: 'registered',
          code: { coding: [{ system: 'http://loinc.org', code: '48807-2' }] },
          subject: { reference: u.patient },
          basedOn: [{ reference: u.sr }],
          specimen: [{ reference: u.specimen }],
        },
        SYS.reportKey,
        reportKey,
      ),
    ],
  };
}

export interface ResultOptions extends OrderIds {
  status: DiagnosticReport['status'];
  issued: string;
  observations: { code: string; value: string }[];
  conclusion?: string;
}

/** A result-update Bundle: references to what the order created are conditional references. */
export function resultBundle(opts: ResultOptions): Bundle {
  const reportKey = `${SYS.placer}::${opts.placer}::loinc:48807-2`;
  const patientRef = { reference: conditional('Patient', SYS.mrn, opts.mrn) };
  const srRef = { reference: conditional('ServiceRequest', SYS.placer, opts.placer) };
  const specimenRef = { reference: conditional('Specimen', SYS.specimen, opts.specimenId) };
  const obsEntries = opts.observations.map((o) => {
    const key = `${reportKey}::loinc:${o.code}`;
    return entry(
      {
        resourceType: 'Observation',
        identifier: [{ system: SYS.observationKey, value: key }],
        status: opts.status === 'corrected' ? 'corrected' : opts.status === 'final' ? 'final' : 'preliminary',
        code: { coding: [{ system: 'http://loinc.org', code: o.code }] },
        subject: patientRef,
        basedOn: [srRef],
        specimen: specimenRef,
        valueString: o.value,
      },
      SYS.observationKey,
      key,
    );
  });
  const report = entry(
    {
      resourceType: 'DiagnosticReport',
      identifier: [{ system: SYS.reportKey, value: reportKey }],
      status: opts.status,
      issued: opts.issued,
      code: { coding: [{ system: 'http://loinc.org', code: '48807-2' }] },
      subject: patientRef,
      basedOn: [srRef],
      specimen: [specimenRef],
      result: obsEntries.map((e) => ({ reference: e.fullUrl as string })),
      ...(opts.conclusion ? { conclusion: opts.conclusion } : {}),
    },
    SYS.reportKey,
    reportKey,
  );
  return { resourceType: 'Bundle', type: 'transaction', entry: [report, ...obsEntries] };
}
