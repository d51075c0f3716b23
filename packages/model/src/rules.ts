/**
 * Rules across fields that the JSON Schemas cannot say. They run after the schema check, on
 * documents that already have the right shape, and report in the same { path, message } form.
 */
import type { BmaOrder, BodySiteInfo, InputError, ObservationResult, ResultUpdate } from './types';
import { got, pointer, showValue } from './errors';
import { instantRange } from './formats';

const PAIRED_BONES = new Set(['ilium', 'tibia']);
/** Observation statuses that may carry neither a value nor a dataAbsentReason. */
const NO_VALUE_STATUSES = new Set(['cancelled', 'entered-in-error']);
/** How many ids a message lists before it says "…". */
const MAX_LISTED_IDS = 10;

function listIds(ids: readonly string[]): string {
  const shown = ids.slice(0, MAX_LISTED_IDS).map((id) => showValue(id));
  return `${shown.join(', ')}${ids.length > MAX_LISTED_IDS ? ', …' : ''}`;
}

function checkBodySite(site: BodySiteInfo, path: string, errors: InputError[]): void {
  if (PAIRED_BONES.has(site.site) && site.laterality === undefined) {
    errors.push({
      path: pointer(path, 'laterality'),
      message: `is required for the ${site.site}, a paired bone: left, right or bilateral`,
    });
  }
  if (site.site === 'sternum' && site.laterality !== undefined) {
    errors.push({
      path: pointer(path, 'laterality'),
      message: `must not be given for the sternum, which is not a paired bone${got(pointer(path, 'laterality'), site.laterality)}`,
    });
  }
}

/** True when `a` is certainly before `b` (both valid date-like strings; a date alone covers its whole day). */
function certainlyBefore(a: string, b: string): boolean {
  const ra = instantRange(a);
  const rb = instantRange(b);
  return ra !== undefined && rb !== undefined && ra.max < rb.min;
}

/** Cross-field rules of an order that passed its schema. */
export function checkOrderRules(order: BmaOrder): InputError[] {
  const errors: InputError[] = [];
  const proc = order.procedure;
  checkBodySite(proc.bodySite, '/procedure/bodySite', errors);

  if (proc.status === 'not-done' && proc.notDoneReason === undefined) {
    errors.push({
      path: '/procedure/notDoneReason',
      message: 'is required when the procedure status is not-done: say why it was not done',
    });
  }
  if (proc.performedStart !== undefined && proc.performedEnd !== undefined) {
    if (certainlyBefore(proc.performedEnd, proc.performedStart)) {
      errors.push({
        path: '/procedure/performedEnd',
        message: `must not be before performedStart${got('/procedure/performedEnd', proc.performedEnd)}; performedStart is ${showValue(proc.performedStart)}`,
      });
    }
  }

  const firstIndexOfId = new Map<string, number>();
  order.specimens.forEach((spec, i) => {
    const path = `/specimens/${i}`;
    const first = firstIndexOfId.get(spec.id.value);
    if (first === undefined) {
      firstIndexOfId.set(spec.id.value, i);
    } else {
      errors.push({
        path: `${path}/id/value`,
        message: `repeats the id of /specimens/${first}; specimen ids must be unique within an order${got(`${path}/id/value`, spec.id.value)}`,
      });
    }
    if (spec.bodySite) checkBodySite(spec.bodySite, `${path}/bodySite`, errors);
    if (spec.kind === 'trephine-core' && proc.type !== 'aspiration-biopsy') {
      errors.push({
        path: `${path}/kind`,
        message: `trephine-core needs the procedure type aspiration-biopsy (the procedure type is ${proc.type})`,
      });
    }
  });

  const ids = [...firstIndexOfId.keys()];
  const parentOf = new Map<string, string>();
  order.specimens.forEach((spec, i) => {
    if (spec.parentId === undefined) return;
    const path = `/specimens/${i}/parentId`;
    if (spec.parentId === spec.id.value) {
      errors.push({ path, message: `must name another specimen, not the specimen itself${got(path, spec.parentId)}` });
    } else if (!firstIndexOfId.has(spec.parentId)) {
      errors.push({
        path,
        message: `must be the id of another specimen of this order${got(path, spec.parentId)}; the specimen ids are ${listIds(ids)}`,
      });
    } else if (!parentOf.has(spec.id.value)) {
      parentOf.set(spec.id.value, spec.parentId);
    }
  });
  // Parents must not form a cycle (A's parent is B, B's parent is A).
  const reported = new Set<string>();
  order.specimens.forEach((spec, i) => {
    const chain = [spec.id.value];
    for (let id = parentOf.get(spec.id.value); id !== undefined; id = parentOf.get(id)) {
      if (id === spec.id.value) {
        if (!chain.some((c) => reported.has(c))) {
          chain.forEach((c) => reported.add(c));
          errors.push({
            path: `/specimens/${i}/parentId`,
            message: `forms a cycle of parent specimens: ${[...chain, id].map((c) => showValue(c)).join(' → ')}`,
          });
        }
        break;
      }
      if (chain.includes(id) || chain.length > order.specimens.length) break;
      chain.push(id);
    }
  });
  return errors;
}

function checkNumbers(obs: ObservationResult, path: string, errors: InputError[]): void {
  const v = obs.value;
  if (v?.type === 'range') {
    if (v.low === undefined && v.high === undefined) {
      errors.push({ path: `${path}/value`, message: 'a range needs low, high or both' });
    } else if (v.low !== undefined && v.high !== undefined && v.low > v.high) {
      errors.push({ path: `${path}/value/low`, message: `must not be greater than high (got ${v.low} > ${v.high})` });
    }
  }
  if (v?.type === 'ratio' && v.denominator === 0) {
    errors.push({ path: `${path}/value/denominator`, message: 'must not be 0' });
  }
  const rr = obs.referenceRange;
  if (rr?.low !== undefined && rr.high !== undefined && rr.low > rr.high) {
    errors.push({
      path: `${path}/referenceRange/low`,
      message: `must not be greater than high (got ${rr.low} > ${rr.high})`,
    });
  }
}

/** Cross-field rules of a result update that passed its schema. */
export function checkResultRules(update: ResultUpdate): InputError[] {
  const errors: InputError[] = [];
  if (certainlyBefore(update.issued, update.effective)) {
    errors.push({
      path: '/issued',
      message: `must not be before effective${got('/issued', update.issued)}; effective is ${showValue(update.effective)}`,
    });
  }
  const specimenIds: string[] = [];
  update.specimenIds.forEach((id, i) => {
    const first = specimenIds.indexOf(id.value);
    if (first >= 0) {
      errors.push({
        path: `/specimenIds/${i}/value`,
        message: `repeats /specimenIds/${first}; each specimen may be listed once${got(`/specimenIds/${i}/value`, id.value)}`,
      });
    }
    specimenIds.push(id.value);
  });
  update.observations.forEach((obs, i) => {
    const path = `/observations/${i}`;
    if (obs.value === undefined && obs.dataAbsentReason === undefined && !NO_VALUE_STATUSES.has(obs.status)) {
      errors.push({
        path: `${path}/value`,
        message: `is required unless a dataAbsentReason is given (the result status is ${obs.status}; only cancelled or entered-in-error results may have neither)`,
      });
    }
    if (obs.value !== undefined && obs.dataAbsentReason !== undefined) {
      errors.push({
        path: `${path}/dataAbsentReason`,
        message: 'must not be given together with a value: a dataAbsentReason says why there is no value',
      });
    }
    if (obs.specimenId !== undefined && !specimenIds.includes(obs.specimenId)) {
      errors.push({
        path: `${path}/specimenId`,
        message:
          specimenIds.length === 0
            ? `must be one of the report's specimenIds, but the report lists none${got(`${path}/specimenId`, obs.specimenId)}`
            : `must be one of the report's specimenIds${got(`${path}/specimenId`, obs.specimenId)}; they are ${listIds(specimenIds)}`,
      });
    }
    checkNumbers(obs, path, errors);
  });
  return errors;
}
