/** Synthetic documents for the model's tests (invented people, numbers and ids). */
import type { BmaOrder, ResultUpdate } from '../src';

const PLACER = 'urn:oid:2.16.840.1.113883.3.9999.1.2';
const FILLER = 'urn:oid:2.16.840.1.113883.3.9999.2.2';
const MRN = 'urn:oid:2.16.840.1.113883.3.9999.1.1';
const SPECIMEN = 'urn:oid:2.16.840.1.113883.3.9999.2.5';

export function minimalOrder(): BmaOrder {
  return {
    kind: 'order',
    placerOrderNumber: { system: PLACER, value: 'PLC-000101' },
    authoredOn: '2026-03-02T08:30:00-05:00',
    priority: 'routine',
    patient: { mrn: { system: MRN, value: 'MRN-TEST-0001' } },
    orderingProvider: { npi: '1234567893' },
    reasons: [],
    requestedStudies: ['morphology'],
    procedure: { type: 'aspiration', bodySite: { site: 'sternum' } },
    specimens: [{ id: { system: SPECIMEN, value: 'SP-1' }, kind: 'aspirate' }],
  };
}

export function fullOrder(): BmaOrder {
  return {
    kind: 'order',
    source: { system: 'TEST-EHR', messageId: 'MSG-0001' },
    placerOrderNumber: { system: PLACER, value: 'PLC-000102' },
    fillerOrderNumber: { system: FILLER, value: 'FIL-000102' },
    status: 'active',
    authoredOn: '2026-03-02T08:30:00.250Z',
    priority: 'urgent',
    patient: {
      mrn: { system: MRN, value: 'MRN-TEST-0002' },
      name: { family: 'Testperson', given: ['Alex', 'Q'], prefix: ['Mx'], suffix: ['III'] },
      birthDate: '1961-07',
      sex: 'other',
    },
    encounter: { identifier: { system: 'https://hospital.example/visits', value: 'V-77' }, class: 'outpatient' },
    orderingProvider: { npi: '1234567893', name: { family: 'Doctor', given: ['Dana'] } },
    reasons: [{ icd10: 'C92.00', text: 'AML, not in remission' }, { icd10: 'D46.9' }, { text: 'pancytopenia' }],
    requestedStudies: ['morphology', 'iron-stain', 'flow-cytometry', 'cytogenetics', 'fish', 'molecular'],
    procedure: {
      type: 'aspiration-biopsy',
      bodySite: { site: 'ilium', laterality: 'right', qualifier: 'posterior' },
      status: 'completed',
      performedStart: '2026-03-03T09:00:00-05:00',
      performedEnd: '2026-03-03T09:40-05:00',
      performer: { npi: '1234567893' },
      complications: [
        {
          code: { system: 'http://snomed.info/sct', code: '131148009', display: 'Bleeding' },
          text: 'minor bleeding at the needle site',
        },
      ],
      followUp: ['Keep the dressing dry for 24 hours'],
    },
    specimens: [
      {
        id: { system: SPECIMEN, value: 'SP-1' },
        accession: { system: FILLER, value: 'ACC-1' },
        kind: 'aspirate',
        container: { type: 'syringe', additive: 'EDTA' },
        volumeMl: 5,
        collectedAt: '2026-03-03T09:10:00-05:00',
        note: 'first pull',
      },
      {
        id: { system: SPECIMEN, value: 'SP-2' },
        kind: 'aspirate-aliquot',
        parentId: 'SP-1',
        container: { additive: 'heparin' },
        volumeMl: 2.5,
        bodySite: { site: 'ilium', laterality: 'right' },
      },
      { id: { system: SPECIMEN, value: 'SP-3' }, kind: 'trephine-core', collectedAt: '2026-03-03' },
    ],
    clinicalNotes: ['Previous aspirate was a dry tap.'],
  };
}

export function minimalResult(): ResultUpdate {
  return {
    kind: 'result',
    placerOrderNumber: { system: PLACER, value: 'PLC-000101' },
    patient: { mrn: { system: MRN, value: 'MRN-TEST-0001' } },
    reportCode: { system: 'http://loinc.org', code: '48807-2' },
    status: 'preliminary',
    issued: '2026-03-04T10:00:00Z',
    effective: '2026-03-03T09:10:00-05:00',
    specimenIds: [],
    observations: [],
  };
}

export function fullResult(): ResultUpdate {
  return {
    kind: 'result',
    source: { system: 'TEST-LIS', messageId: 'ORU-0002' },
    placerOrderNumber: { system: PLACER, value: 'PLC-000102' },
    fillerOrderNumber: { system: FILLER, value: 'FIL-000102' },
    patient: { mrn: { system: MRN, value: 'MRN-TEST-0002' } },
    reportCode: { system: 'http://loinc.org', code: '48807-2', display: 'Bone marrow aspiration report' },
    section: 'HM',
    status: 'final',
    issued: '2026-03-05T16:45:10.5+01:00',
    effective: '2026-03-03',
    performer: { name: 'Test Hematology Lab', identifier: { system: 'https://lab.example/ids', value: 'LAB-1' } },
    resultsInterpreter: { npi: '1234567893', name: { family: 'Pathologist' } },
    specimenIds: [
      { system: SPECIMEN, value: 'SP-1' },
      { system: SPECIMEN, value: 'SP-2' },
    ],
    observations: [
      {
        code: { system: 'http://loinc.org', code: '11150-3' },
        localCode: { system: 'https://lab.example/codes', code: 'BLAST%' },
        subId: '1',
        value: { type: 'quantity', value: 32.5, unit: '%', comparator: '>=' },
        referenceRange: { low: 0, high: 5, unit: '%' },
        interpretation: ['H', 'A'],
        status: 'final',
        effective: '2026-03-03T09:10:00-05:00',
        specimenId: 'SP-1',
        notes: ['Manual 500-cell count'],
      },
      {
        code: { system: 'http://loinc.org', code: '11138-5' },
        value: { type: 'ratio', numerator: 2, denominator: 1 },
        status: 'final',
      },
      {
        code: { system: 'http://loinc.org', code: '33893-9' },
        value: { type: 'string', value: '46,XY,t(8;21)(q22;q22.1)[20]' },
        status: 'final',
        specimenId: 'SP-2',
      },
      {
        code: { system: 'https://lab.example/codes', code: 'CELLULARITY' },
        value: { type: 'range', low: 40, high: 50, unit: '%' },
        referenceRange: { text: 'age dependent' },
        status: 'final',
      },
      {
        code: { system: 'https://lab.example/codes', code: 'IRON' },
        value: { type: 'coded', coding: { system: 'http://snomed.info/sct', code: '260385009' }, text: 'absent' },
        interpretation: ['NEG'],
        status: 'preliminary',
      },
      {
        code: { system: 'https://lab.example/codes', code: 'RECV' },
        value: { type: 'dateTime', value: '2026-03' },
        status: 'final',
      },
      {
        code: { system: 'https://lab.example/codes', code: 'TIME' },
        value: { type: 'time', value: '09:10' },
        status: 'final',
      },
      {
        code: { system: 'https://lab.example/codes', code: 'FISH' },
        dataAbsentReason: 'not-performed',
        status: 'final',
      },
      { code: { system: 'https://lab.example/codes', code: 'OLD' }, status: 'cancelled' },
    ],
    conclusion: 'Acute myeloid leukemia with t(8;21).',
    conclusionCodes: [{ system: 'http://snomed.info/sct', code: '91861009' }],
    presentedForm: {
      contentType: 'application/pdf',
      data: Buffer.from('%PDF-1.4 test').toString('base64'),
      title: 'Report',
    },
    notes: ['Report-level note'],
  };
}
