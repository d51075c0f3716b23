import type { ObservationResult, ObservationValue, ReferenceRange, ResultUpdate } from '@marrowbridge/model';
import type { Observation, ObservationReferenceRange, Quantity } from '@medplum/fhirtypes';
import { dataAbsentReasonCodes, interpretationCodes, observationCategory } from '../code-tables';
import {
  codeableConcept,
  fhirDateTime,
  fhirInstant,
  fhirTime,
  profileMeta,
  prune,
  tableConcept,
  ucumQuantity,
} from '../datatypes';
import { keyIdentifier, observationKey, reportKey } from '../identity';
import type { MappingOptions } from '../options';
import { PROFILE_IDS, UCUM } from '../systems';
import type { ResultLinks } from './links';

type ValueElements = Pick<
  Observation,
  'valueQuantity' | 'valueCodeableConcept' | 'valueString' | 'valueRatio' | 'valueRange' | 'valueDateTime' | 'valueTime'
>;

/** One discrete result of a report, keyed by report key + code (+ sub-id). */
export function mapObservation(
  update: ResultUpdate,
  result: ObservationResult,
  links: ResultLinks,
  options: MappingOptions,
): Observation {
  const codings = result.localCode ? [result.code, result.localCode] : [result.code];
  return prune<Observation>({
    resourceType: 'Observation',
    meta: profileMeta(PROFILE_IDS.resultObservation, options),
    identifier: [keyIdentifier(observationKey(reportKey(update), result))],
    basedOn: [links.serviceRequest],
    partOf: [links.procedure],
    status: result.status,
    category: [tableConcept([observationCategory])],
    // The standard code first, the sender's local code beside it, then what the code map adds.
    code: codeableConcept(codings, result.code.display ?? result.localCode?.display, options),
    subject: links.patient,
    effectiveDateTime: fhirDateTime(result.effective ?? update.effective),
    issued: fhirInstant(update.issued),
    ...(result.value ? observationValue(result.value, options) : {}),
    dataAbsentReason: result.value ? undefined : absentReason(result),
    interpretation: result.interpretation?.map((flag) => tableConcept([interpretationCodes[flag]])),
    note: result.notes?.map((text) => ({ text })),
    specimen: links.specimen(result.specimenId),
    referenceRange: result.referenceRange ? [referenceRange(result.referenceRange)] : undefined,
  });
}

/**
 * Why there is no value. A cancelled result with no stated reason was not performed: us-core-2
 * wants a value or a reason, and obs-6 forbids a reason beside a value.
 */
function absentReason(result: ObservationResult): Observation['dataAbsentReason'] {
  const reason = result.dataAbsentReason ?? (result.status === 'cancelled' ? 'not-performed' : undefined);
  return reason ? tableConcept([dataAbsentReasonCodes[reason]]) : undefined;
}

/** The value[x] element for each canonical value kind (v2 OBX-2 types, see the model). */
export function observationValue(value: ObservationValue, options: MappingOptions): ValueElements {
  switch (value.type) {
    case 'quantity':
      return { valueQuantity: quantity(value) };
    case 'coded':
      return { valueCodeableConcept: codeableConcept([value.coding], value.text, options) };
    case 'string':
      return { valueString: value.value };
    case 'ratio':
      return { valueRatio: { numerator: { value: value.numerator }, denominator: { value: value.denominator } } };
    case 'range':
      return {
        valueRange: {
          low: value.low === undefined ? undefined : ucumQuantity(value.low, value.unit),
          high: value.high === undefined ? undefined : ucumQuantity(value.high, value.unit),
        },
      };
    case 'dateTime':
      return { valueDateTime: fhirDateTime(value.value) };
    case 'time':
      return { valueTime: fhirTime(value.value) };
  }
}

/** NM or SN with a comparator; elements in FHIR order (value, comparator, unit, system, code). */
function quantity(value: Extract<ObservationValue, { type: 'quantity' }>): Quantity {
  const { value: number, unit, comparator } = value;
  if (!comparator) return ucumQuantity(number, unit);
  return unit === undefined
    ? { value: number, comparator }
    : { value: number, comparator, unit, system: UCUM, code: unit };
}

/** low/high as UCUM quantities (us-core-22) with the lab's own wording kept as text. */
function referenceRange(range: ReferenceRange): ObservationReferenceRange {
  return {
    low: range.low === undefined ? undefined : ucumQuantity(range.low, range.unit),
    high: range.high === undefined ? undefined : ucumQuantity(range.high, range.unit),
    text: range.text,
  };
}
