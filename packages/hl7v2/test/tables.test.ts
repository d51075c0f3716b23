import fs from 'node:fs';
import path from 'node:path';
import { describeExternal } from '../../../test/support/paths';
import {
  administrativeSex,
  lookupPriority,
  observationStatus,
  orderControl,
  orderStatus,
  patientClass,
  reportCodes,
  resultStatus,
} from '../src/tables';

/** Minimal RFC 4180 reader (quoted fields with commas and newlines). */
function readCsv(file: string): string[][] {
  const text = fs.readFileSync(file, 'utf8');
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell || row.length) rows.push([...row, cell]);
  return rows;
}

/** [v2 code, FHIR code] pairs of an IG concept map CSV (code in column 0, target in column 6). */
function igPairs(dir: string, name: string): [string, string][] {
  const rows = readCsv(path.join(dir, 'csv', 'codesystems', `HL7 Concept Map_ ${name} - Sheet1.csv`)).slice(2);
  return rows.filter((r) => r[0]?.trim()).map((r) => [r[0].trim(), (r[6] ?? '').trim()]);
}

describeExternal('v2-to-fhir', 'code tables agree with the HL7 v2-to-FHIR IG concept maps', (dir) => {
  it('ORC-1 (OrderControlCode): every code the IG maps maps the same; every other code is a recorded decision', () => {
    const pairs = igPairs(dir, 'OrderControlCode[ServiceRequest.status]');
    expect(pairs.length).toBeGreaterThan(40);
    for (const [code, target] of pairs) {
      const ours = orderControl.get(code);
      if (target) expect([code, ours && !ours.reject ? ours.status : 'missing']).toEqual([code, target]);
    }
    // our table carries a decision for the IG's unmapped codes we may meet in orders and results
    for (const code of ['XO', 'XX', 'XR', 'SC', 'RE', 'UA', 'UC', 'UX']) expect(orderControl.has(code)).toBe(true);
  });

  it('ORC-5 (OrderStatus): identical to the IG', () => {
    const pairs = igPairs(dir, 'OrderStatus');
    expect(pairs.length).toBe(8);
    for (const [code, target] of pairs) {
      const ours = orderStatus.get(code);
      expect([code, ours && !ours.reject ? ours.status : 'missing']).toEqual([code, target]);
    }
  });

  it('OBR-25 (ResultStatus): IG-mapped codes identical; A, M, N decided; Y, Z rejected', () => {
    const pairs = igPairs(dir, 'ResultStatus[Non-Queries]');
    expect(pairs.filter(([, target]) => target).length).toBeGreaterThanOrEqual(8);
    for (const [code, target] of pairs) {
      const ours = resultStatus.get(code);
      if (target) expect([code, ours && !ours.reject ? ours.status : 'missing']).toEqual([code, target]);
      else expect([code, ours !== undefined]).toEqual([code, true]);
    }
    expect(resultStatus.get('Y')).toEqual({ reject: true });
    expect(resultStatus.get('Z')).toEqual({ reject: true });
  });

  it('OBX-11 (ObservationResultStatusCodesInterpretation): IG-mapped codes identical; the rest decided', () => {
    const pairs = igPairs(dir, 'ObservationResultStatusCodesInterpretation');
    expect(pairs.length).toBeGreaterThanOrEqual(15);
    for (const [code, target] of pairs) {
      const ours = observationStatus.get(code);
      expect(ours).toBeDefined();
      if (target) expect([code, ours?.status]).toEqual([code, target]);
    }
  });

  it('PID-8 (AdministrativeSex) and the IG-mapped priorities are identical', () => {
    const sexes = igPairs(dir, 'AdministrativeSex');
    expect(sexes.length).toBeGreaterThanOrEqual(4);
    for (const [code, target] of sexes) expect(administrativeSex.get(code)).toBe(target);
    const priorities = igPairs(dir, 'ExtendedPriorityCodes').filter(([, target]) => target);
    expect(priorities.length).toBeGreaterThanOrEqual(3);
    for (const [code, target] of priorities) expect(lookupPriority(code)).toBe(target);
  });

  it('PV1-2 (PatientClass): I, O, E follow the IG class codes', () => {
    const ig = new Map(igPairs(dir, 'PatientClass[EncounterClass]'));
    const fhirToOurs: Record<string, string> = { IMP: 'inpatient', AMB: 'outpatient', EMER: 'emergency' };
    for (const [code, ours] of patientClass) expect(fhirToOurs[ig.get(code) ?? '']).toBe(ours);
  });
});

describe('report codes', () => {
  it('are the codes of the compiled bma-report-codes value set (fhir-profiles/build)', () => {
    const file = path.resolve(__dirname, '..', '..', '..', 'fhir-profiles', 'build', 'ValueSet-bma-report-codes.json');
    const vs = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      compose: { include: { system: string; concept: { code: string }[] }[] };
    };
    const fromVs = vs.compose.include.flatMap((i) => i.concept.map((c) => `${i.system}|${c.code}`)).sort();
    expect([...reportCodes.codes].map((c) => `${reportCodes.system}|${c}`).sort()).toEqual(fromVs);
  });
});
