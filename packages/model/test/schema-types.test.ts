/**
 * The JSON Schemas must say what src/types.ts says. The tables below are checked against the types
 * by the compiler (`pnpm typecheck`: a missing or extra key fails), and against the schemas here.
 */
import type {
  AdministrativeSex,
  AttachedDocument,
  BmaOrder,
  BodySite,
  BodySiteInfo,
  BusinessIdentifier,
  Coding,
  EncounterInfo,
  Interpretation,
  Laterality,
  ObservationResult,
  ObservationStatus,
  ObservationValue,
  OrderPriority,
  OrderReason,
  OrderStatus,
  PatientInfo,
  PatientRef,
  PersonName,
  PlannedProcedure,
  ProcedureInfo,
  ProcedureStatus,
  ProviderInfo,
  ReferenceRange,
  ReportStatus,
  RequestedStudy,
  ResultUpdate,
  SiteQualifier,
  SpecimenAdditive,
  SpecimenInfo,
  SpecimenKind,
} from '../src';
import { commonSchema, orderSchema, resultUpdateSchema } from '../src';

type Schema = Record<string, unknown>;
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
/** Every key of T, each marked required (true) or optional (false); the compiler checks the list is complete. */
type KeyTable<T> = { [K in keyof T]-?: K extends RequiredKeys<T> ? true : false };
/** Every member of a union of strings. */
type Members<U extends string> = { [K in U]: true };

const files: Record<string, Schema> = {
  'common.schema.json': commonSchema as Schema,
  'bma-order.schema.json': orderSchema as Schema,
  'result-update.schema.json': resultUpdateSchema as Schema,
};

/** Resolves a `$ref` (same file or another of our files). */
function deref(s: Schema, file: string): [Schema, string] {
  const ref = s.$ref as string | undefined;
  if (!ref) return [s, file];
  const [target, fragment] = ref.split('#');
  const f = target || file;
  let node: unknown = files[f];
  for (const part of fragment.split('/').filter(Boolean)) node = (node as Schema)[part];
  return deref(node as Schema, f);
}

function at(file: string, ...path: string[]): [Schema, string] {
  let [node, f] = deref(files[file], file);
  for (const p of path) [node, f] = deref((node as Record<string, Schema>)[p], f);
  return [node, f];
}

function expectMatches<T>(name: string, [schema]: [Schema, string], table: KeyTable<T>): void {
  const props = Object.keys((schema.properties as Schema) ?? {}).sort();
  expect({ name, props }).toEqual({ name, props: Object.keys(table).sort() });
  const required = [...((schema.required as string[]) ?? [])].sort();
  const requiredInType = Object.entries(table as Record<string, boolean>)
    .filter(([, r]) => r)
    .map(([k]) => k)
    .sort();
  expect({ name, required }).toEqual({ name, required: requiredInType });
  expect({ name, additionalProperties: schema.additionalProperties }).toEqual({ name, additionalProperties: false });
}

function expectEnum<U extends string>([schema]: [Schema, string], members: Members<U>): void {
  const values = (schema.enum ?? (schema.items as Schema | undefined)?.enum) as string[];
  expect([...values].sort()).toEqual(Object.keys(members).sort());
}

const O = 'bma-order.schema.json';
const R = 'result-update.schema.json';

describe('the schemas match src/types.ts', () => {
  it('BmaOrder and its parts', () => {
    expectMatches<BmaOrder>('BmaOrder', at(O), {
      kind: true,
      source: false,
      placerOrderNumber: true,
      fillerOrderNumber: false,
      status: false,
      authoredOn: true,
      priority: true,
      patient: true,
      encounter: false,
      orderingProvider: true,
      reasons: true,
      requestedStudies: true,
      procedure: true,
      specimens: true,
      clinicalNotes: false,
    });
    expectMatches<NonNullable<BmaOrder['source']>>('source', at(O, 'properties', 'source'), {
      system: true,
      messageId: true,
    });
    expectMatches<PatientInfo>('PatientInfo', at(O, 'properties', 'patient'), {
      mrn: true,
      name: false,
      birthDate: false,
      sex: false,
    });
    expectMatches<BusinessIdentifier>('BusinessIdentifier', at(O, 'properties', 'placerOrderNumber'), {
      system: true,
      value: true,
    });
    expectMatches<PersonName>('PersonName', at(O, 'properties', 'patient', 'properties', 'name'), {
      family: true,
      given: false,
      prefix: false,
      suffix: false,
    });
    expectMatches<EncounterInfo>('EncounterInfo', at(O, 'properties', 'encounter'), {
      identifier: false,
      class: false,
    });
    expectMatches<ProviderInfo>('ProviderInfo', at(O, 'properties', 'orderingProvider'), { npi: true, name: false });
    expectMatches<OrderReason>('OrderReason', at(O, 'properties', 'reasons', 'items'), { icd10: false, text: false });
    expectMatches<ProcedureInfo>('ProcedureInfo', at(O, 'properties', 'procedure'), {
      type: true,
      bodySite: true,
      status: false,
      performedStart: false,
      performedEnd: false,
      performer: false,
      complications: false,
      followUp: false,
      notDoneReason: false,
    });
    expectMatches<NonNullable<ProcedureInfo['complications']>[number]>(
      'complication',
      at(O, 'properties', 'procedure', 'properties', 'complications', 'items'),
      { code: false, text: true },
    );
    expectMatches<BodySiteInfo>('BodySiteInfo', at(O, 'properties', 'procedure', 'properties', 'bodySite'), {
      site: true,
      laterality: false,
      qualifier: false,
    });
    expectMatches<SpecimenInfo>('SpecimenInfo', at(O, 'properties', 'specimens', 'items'), {
      id: true,
      accession: false,
      kind: true,
      parentId: false,
      container: false,
      volumeMl: false,
      collectedAt: false,
      bodySite: false,
      note: false,
    });
    expectMatches<NonNullable<SpecimenInfo['container']>>(
      'container',
      at(O, 'properties', 'specimens', 'items', 'properties', 'container'),
      { type: false, additive: false },
    );
  });

  it('ResultUpdate and its parts', () => {
    expectMatches<ResultUpdate>('ResultUpdate', at(R), {
      kind: true,
      source: false,
      placerOrderNumber: true,
      fillerOrderNumber: false,
      patient: true,
      reportCode: true,
      section: false,
      status: true,
      issued: true,
      effective: true,
      performer: false,
      resultsInterpreter: false,
      specimenIds: true,
      observations: true,
      conclusion: false,
      conclusionCodes: false,
      presentedForm: false,
      notes: false,
    });
    expectMatches<PatientRef>('PatientRef', at(R, 'properties', 'patient'), { mrn: true });
    expectMatches<Coding>('Coding', at(R, 'properties', 'reportCode'), { system: true, code: true, display: false });
    expectMatches<NonNullable<ResultUpdate['performer']>>('performer', at(R, 'properties', 'performer'), {
      name: true,
      identifier: false,
    });
    expectMatches<AttachedDocument>('AttachedDocument', at(R, 'properties', 'presentedForm'), {
      contentType: true,
      data: true,
      title: false,
    });
    expectMatches<ObservationResult>('ObservationResult', at(R, 'properties', 'observations', 'items'), {
      code: true,
      localCode: false,
      subId: false,
      value: false,
      dataAbsentReason: false,
      referenceRange: false,
      interpretation: false,
      status: true,
      effective: false,
      specimenId: false,
      notes: false,
    });
    expectMatches<ReferenceRange>(
      'ReferenceRange',
      at(R, 'properties', 'observations', 'items', 'properties', 'referenceRange'),
      { low: false, high: false, unit: false, text: false },
    );
  });

  it('ObservationValue: one branch per type, each matching its member of the union', () => {
    const [union] = at(R, '$defs', 'observationValue');
    const branches = union.oneOf as Schema[];
    const byType = Object.fromEntries(
      branches.map((b) => [((b.properties as Record<string, Schema>).type as Schema).const as string, b]),
    );
    const types: Members<ObservationValue['type']> = {
      quantity: true,
      coded: true,
      string: true,
      ratio: true,
      range: true,
      dateTime: true,
      time: true,
    };
    expect(Object.keys(byType).sort()).toEqual(Object.keys(types).sort());
    type V<T extends ObservationValue['type']> = Extract<ObservationValue, { type: T }>;
    const b = (t: string): [Schema, string] => [byType[t], R];
    expectMatches<V<'quantity'>>('quantity', b('quantity'), {
      type: true,
      value: true,
      unit: false,
      comparator: false,
    });
    expectMatches<V<'coded'>>('coded', b('coded'), { type: true, coding: true, text: false });
    expectMatches<V<'string'>>('string', b('string'), { type: true, value: true });
    expectMatches<V<'ratio'>>('ratio', b('ratio'), { type: true, numerator: true, denominator: true });
    expectMatches<V<'range'>>('range', b('range'), { type: true, low: false, high: false, unit: false });
    expectMatches<V<'dateTime'>>('dateTime', b('dateTime'), { type: true, value: true });
    expectMatches<V<'time'>>('time', b('time'), { type: true, value: true });
    expectEnum<NonNullable<V<'quantity'>['comparator']>>(
      [(byType.quantity.properties as Record<string, Schema>).comparator, R],
      { '<': true, '<=': true, '>=': true, '>': true },
    );
  });

  it('every enum has exactly the members of its type', () => {
    expectEnum<OrderStatus>(at(O, 'properties', 'status'), {
      active: true,
      'on-hold': true,
      revoked: true,
      completed: true,
      'entered-in-error': true,
    });
    expectEnum<OrderPriority>(at(O, 'properties', 'priority'), { routine: true, urgent: true, asap: true, stat: true });
    expectEnum<AdministrativeSex>(at(O, 'properties', 'patient', 'properties', 'sex'), {
      male: true,
      female: true,
      other: true,
      unknown: true,
    });
    expectEnum<NonNullable<EncounterInfo['class']>>(at(O, 'properties', 'encounter', 'properties', 'class'), {
      inpatient: true,
      outpatient: true,
      emergency: true,
    });
    expectEnum<RequestedStudy>(at(O, 'properties', 'requestedStudies'), {
      morphology: true,
      'iron-stain': true,
      'flow-cytometry': true,
      cytogenetics: true,
      fish: true,
      molecular: true,
    });
    const proc = (...p: string[]) => at(O, 'properties', 'procedure', 'properties', ...p);
    expectEnum<PlannedProcedure>(proc('type'), { aspiration: true, 'aspiration-biopsy': true });
    expectEnum<ProcedureStatus>(proc('status'), {
      preparation: true,
      'in-progress': true,
      completed: true,
      'not-done': true,
    });
    expectEnum<BodySite>(proc('bodySite', 'properties', 'site'), { ilium: true, sternum: true, tibia: true });
    expectEnum<Laterality>(proc('bodySite', 'properties', 'laterality'), { left: true, right: true, bilateral: true });
    expectEnum<SiteQualifier>(proc('bodySite', 'properties', 'qualifier'), { anterior: true, posterior: true });
    const spec = (...p: string[]) => at(O, 'properties', 'specimens', 'items', 'properties', ...p);
    expectEnum<SpecimenKind>(spec('kind'), { aspirate: true, 'trephine-core': true, 'aspirate-aliquot': true });
    expectEnum<SpecimenAdditive>(spec('container', 'properties', 'additive'), {
      EDTA: true,
      heparin: true,
      citrate: true,
      none: true,
    });
    expectEnum<ReportStatus>(at(R, 'properties', 'status'), {
      registered: true,
      partial: true,
      preliminary: true,
      final: true,
      amended: true,
      corrected: true,
      appended: true,
      cancelled: true,
      'entered-in-error': true,
    });
    const obs = (...p: string[]) => at(R, 'properties', 'observations', 'items', 'properties', ...p);
    expectEnum<ObservationStatus>(obs('status'), {
      registered: true,
      preliminary: true,
      final: true,
      amended: true,
      corrected: true,
      cancelled: true,
      'entered-in-error': true,
    });
    expectEnum<Interpretation>(obs('interpretation'), {
      N: true,
      L: true,
      H: true,
      LL: true,
      HH: true,
      A: true,
      AA: true,
      POS: true,
      NEG: true,
      IND: true,
    });
    expectEnum<NonNullable<ObservationResult['dataAbsentReason']>>(obs('dataAbsentReason'), {
      'not-performed': true,
      unknown: true,
      error: true,
      'not-asked': true,
      'asked-declined': true,
    });
  });

  it('every property has a description (it completes "is required: …")', () => {
    const missing: string[] = [];
    const visit = (node: unknown, where: string): void => {
      if (Array.isArray(node)) return node.forEach((n, i) => visit(n, `${where}/${i}`));
      if (typeof node !== 'object' || node === null) return;
      const s = node as Schema;
      if (s.properties) {
        for (const [k, v] of Object.entries(s.properties as Record<string, Schema>)) {
          if (typeof v.description !== 'string') missing.push(`${where}/properties/${k}`);
        }
      }
      for (const [k, v] of Object.entries(s)) visit(v, `${where}/${k}`);
    };
    for (const [name, schema] of Object.entries(files)) visit(schema, name);
    expect(missing).toEqual([]);
  });
});
