/**
 * The checking boundary of the canonical model: untrusted input in, a typed order or result update
 * (or a list of problems for a person) out. Order of checks: size and syntax (JSON text only),
 * structure guard, JSON Schema, cross-field rules.
 */
import type { BmaOrder, CanonicalMessage, InputError, ResultUpdate } from './types';
import { capErrors, describeType, got, pointer, translateAllAjvErrors } from './errors';
import { parseJsonText } from './json-text';
import { checkOrderRules, checkResultRules } from './rules';
import { firstErrorValidators, validators } from './validator';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: InputError[] };

export interface ParseJsonOptions {
  /** Largest accepted document in bytes (UTF-8); default 25 MiB. */
  maxBytes?: number;
}

/**
 * Limits on the shape of any input, far above what a valid document has, checked before the schema
 * so that a hostile document (millions of items or fields) cannot make the schema check produce
 * millions of errors.
 */
export const STRUCTURE_LIMITS = {
  /** Deepest nesting of objects and arrays (a valid document needs 5). */
  maxDepth: 16,
  /** Longest array (the schemas allow at most 2,000 observations). */
  maxArrayLength: 5000,
  /** Most fields in one object (the largest object in the schemas has 17). */
  maxObjectFields: 100,
  /** Most values in the whole document. */
  maxValues: 200_000,
  /**
   * Up to this many values, every schema error is collected (then the first 50 are listed); above it,
   * the check stops at the first error, so that the cost stays bounded whatever the document holds.
   */
  maxValuesForFullList: 10_000,
} as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Walks the input once; reports the first structural excesses, and counts the values. */
function checkStructure(input: unknown): { errors: InputError[]; values: number } {
  const errors: InputError[] = [];
  let values = 0;
  // `key` in `parent`: the pointer is built only for objects and arrays (most values are leaves).
  const walk = (v: unknown, parent: string, key: string | number | undefined, depth: number): void => {
    if (errors.length >= 5) return;
    values++;
    if (values > STRUCTURE_LIMITS.maxValues) {
      if (values === STRUCTURE_LIMITS.maxValues + 1) {
        errors.push({
          path: '',
          message: `has more than ${STRUCTURE_LIMITS.maxValues.toLocaleString('en-US')} values, far more than an order or a result update can have`,
        });
      }
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const path = key === undefined ? parent : pointer(parent, key);
    if (depth >= STRUCTURE_LIMITS.maxDepth) {
      errors.push({ path, message: `is nested too deeply (more than ${STRUCTURE_LIMITS.maxDepth} levels)` });
      return;
    }
    if (Array.isArray(v)) {
      if (v.length > STRUCTURE_LIMITS.maxArrayLength) {
        errors.push({
          path,
          message: `is a list of ${v.length.toLocaleString('en-US')} items, far more than any list here may have`,
        });
        return;
      }
      for (let i = 0; i < v.length && errors.length < 5; i++) walk(v[i], path, i, depth + 1);
      return;
    }
    const keys = Object.keys(v);
    if (keys.length > STRUCTURE_LIMITS.maxObjectFields) {
      errors.push({
        path,
        message: `has ${keys.length.toLocaleString('en-US')} fields, far more than any object here may have`,
      });
      return;
    }
    for (const k of keys) {
      if (errors.length >= 5) return;
      walk((v as Record<string, unknown>)[k], path, k, depth + 1);
    }
  };
  walk(input, '', undefined, 0);
  return { errors, values };
}

function failed<T>(errors: InputError[]): ParseResult<T> {
  return { ok: false, errors: capErrors(errors) };
}

function check<T>(input: unknown, kind: 'order' | 'result', rules: (v: T) => InputError[]): ParseResult<T> {
  if (!isPlainObject(input)) {
    const what = kind === 'order' ? 'an order' : 'a result update';
    return failed([{ path: '', message: `must be a JSON object (${what}) (got ${describeType(input)})` }]);
  }
  const structure = checkStructure(input);
  if (structure.errors.length > 0) return failed(structure.errors);
  if (structure.values <= STRUCTURE_LIMITS.maxValuesForFullList) {
    const validate = validators()[kind];
    if (!validate(input)) return failed(translateAllAjvErrors(validate.errors));
  } else {
    const validate = firstErrorValidators()[kind];
    if (!validate(input)) {
      return failed([
        ...translateAllAjvErrors(validate.errors),
        {
          path: '',
          message: `…the document is large (${structure.values.toLocaleString('en-US')} values), so only its first problem is listed`,
        },
      ]);
    }
  }
  const ruleErrors = rules(input as T);
  return ruleErrors.length > 0 ? failed(ruleErrors) : { ok: true, value: input as T };
}

/** Checks an order (already parsed from JSON, or built by a converter) against the schema and the cross-field rules. */
export function parseOrder(input: unknown): ParseResult<BmaOrder> {
  return check<BmaOrder>(input, 'order', checkOrderRules);
}

/** Checks a result update against the schema and the cross-field rules. */
export function parseResultUpdate(input: unknown): ParseResult<ResultUpdate> {
  return check<ResultUpdate>(input, 'result', checkResultRules);
}

/** Checks an order or a result update, chosen by its `kind`. */
export function parseCanonical(input: unknown): ParseResult<CanonicalMessage> {
  if (!isPlainObject(input)) {
    return failed([
      {
        path: '',
        message: `must be a JSON object with kind "order" or "result" (got ${describeType(input)})`,
      },
    ]);
  }
  const kind = input.kind;
  if (kind === 'order') return parseOrder(input);
  if (kind === 'result') return parseResultUpdate(input);
  if (kind === undefined) {
    return failed([
      {
        path: '/kind',
        message: 'is required: "order" for a bone marrow aspiration order or "result" for a result update',
      },
    ]);
  }
  return failed([{ path: '/kind', message: `must be "order" or "result"${got('/kind', kind)}` }]);
}

/**
 * Parses a JSON document (text or UTF-8 bytes) and checks it as an order or a result update.
 * The size limit is checked before anything else; syntax errors come with their line and column.
 */
export function parseCanonicalJson(text: string | Buffer, opts: ParseJsonOptions = {}): ParseResult<CanonicalMessage> {
  const parsed = parseJsonText(text, opts.maxBytes, STRUCTURE_LIMITS.maxDepth, true);
  if (!parsed.ok) return parsed;
  return parseCanonical(parsed.value);
}
