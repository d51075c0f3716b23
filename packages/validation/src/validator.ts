import type { Bundle, OperationOutcome, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import type { BaseR4, StartupTimings } from './definitions';
import { loadBaseR4 } from './definitions';
import formatHints from './format-hints.json';
import type { RawIssue, Segments } from './issues';
import { outcomeOf } from './issues';
import type { FhirJsonSchema } from './json-schema';
import { sharedFhirJsonSchema } from './json-schema';
import { parseJsonText } from './json-text';
import { locate } from './location';
import { runMedplum, withoutNested } from './medplum';
import { quoteName, walk } from './walker';

const HINTS: Record<string, string> = formatHints;
const TEXT_KEYED: ReadonlySet<string> = new Set(['invariant', 'profile', 'reference', 'other']);
const BASE_PROFILE_PREFIX = 'http://hl7.org/fhir/StructureDefinition/';

export interface CreateValidatorOptions {
  /** Check codes against required bindings expanded from the R4 ValueSets (default true). */
  readonly requiredBindings?: boolean;
  /** Run the FHIR JSON Schema (ajv) next to @medplum/core (default true). */
  readonly jsonSchema?: boolean;
}

export interface ValidateOptions {
  /**
   * Canonical URLs of profiles to validate against as well as base R4. Base R4 definitions
   * (`http://hl7.org/fhir/StructureDefinition/<type>`) are accepted; project profiles are
   * enforced in a later step: until then an unknown profile is reported as an error.
   */
  readonly profiles?: readonly string[];
}

export interface Validator {
  /** Validate a resource or a Bundle (entries included) against base FHIR R4. Never throws. */
  validate(resource: Resource | Bundle, options?: ValidateOptions): OperationOutcome;
  /** Parse JSON text strictly (a parse error is a fatal issue) and validate the result. */
  validateJson(text: string, options?: ValidateOptions): OperationOutcome;
  /** What loading base R4 cost (shared by all validators of the process). */
  readonly startup: StartupTimings;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fatal(text: string, diagnostics: string, code: OperationOutcomeIssue['code'] = 'structure'): OperationOutcome {
  return outcomeOf([{ severity: 'fatal', code, details: { text }, diagnostics }]);
}

/** True when `path` lies strictly below `ancestor` (`A.b` is below `A`, `A.b[0]` too; `A.bc` is not). */
function isBelow(path: string, ancestor: string): boolean {
  return path.length > ancestor.length && path.startsWith(ancestor) && /[.[]/.test(path[ancestor.length]);
}

/**
 * Render, deduplicate and order raw issues from the sources (listed in order of preference):
 * one issue per (category, location); nothing reported below a location whose value has the
 * wrong shape or an unknown resource type.
 */
function merge(base: BaseR4, root: unknown, sources: RawIssue[][]): OperationOutcomeIssue[] {
  const seen = new Set<string>();
  const rendered: { issue: OperationOutcomeIssue; path: string; blocksBelow: boolean }[] = [];
  for (const source of sources) {
    for (const raw of source) {
      const loc = raw.segments ? locate(base.index, root, raw.segments) : undefined;
      if (raw.onlyIfRequiredBinding && loc?.element?.binding?.strength !== 'required') {
        continue;
      }
      if (raw.onlyIfUnknownElement && loc?.element) {
        continue;
      }
      const path = loc?.path ?? raw.expression ?? '';
      // Distinct rules of these kinds can fail at the same location; the others are one problem per location.
      const byText = raw.severity === 'warning' || raw.severity === 'information' || TEXT_KEYED.has(raw.category);
      const key = `${byText ? raw.text : ''}|${raw.category}|${path}`;
      if (seen.has(key)) {
        continue;
      }
      seen.add(key);
      const el = loc?.element;
      const fill = (s: string): string =>
        s
          .replace(/\{path\}/g, path || 'the root')
          .replace(/\{type\}/g, loc?.type ?? 'value')
          .replace(/\{format\}/g, HINTS[loc?.type ?? ''] ?? 'the value does not have the required format')
          .replace(/\{min\}/g, String(el?.min ?? 1))
          .replace(/\{max\}/g, el ? (Number.isFinite(el.max) ? String(el.max) : '*') : '*')
          .replace(/\{element\}/g, el?.path ?? path);
      const issue: OperationOutcomeIssue = {
        severity: raw.severity,
        code: raw.code,
        details: { text: fill(raw.text) },
        diagnostics: fill(raw.diagnostics),
      };
      if (path) {
        issue.expression = [path];
      }
      const blocksBelow =
        raw.category === 'resource-type' ||
        (raw.category === 'value' &&
          /^Wrong JSON type|must be a JSON array|must be a single value/.test(issue.details?.text ?? ''));
      rendered.push({ issue, path, blocksBelow });
    }
  }
  const blockers = rendered.filter((r) => r.blocksBelow && r.path).map((r) => r.path);
  return rendered.filter((r) => !blockers.some((b) => isBelow(r.path, b))).map((r) => r.issue);
}

class BaseValidator implements Validator {
  private readonly base: BaseR4;
  private readonly schema: FhirJsonSchema | undefined;
  private readonly requiredBindings: boolean;

  constructor(options: CreateValidatorOptions) {
    this.base = loadBaseR4();
    this.schema = options.jsonSchema === false ? undefined : sharedFhirJsonSchema();
    this.requiredBindings = options.requiredBindings !== false;
  }

  get startup(): StartupTimings {
    return this.base.timings;
  }

  validateJson(text: string, options?: ValidateOptions): OperationOutcome {
    const parsed = parseJsonText(text);
    if (!parsed.ok) {
      return outcomeOf([parsed.issue]);
    }
    const duplicates: RawIssue[] = parsed.duplicates.map((d) => ({
      severity: 'error',
      code: 'structure',
      category: 'other',
      segments: d.segments,
      text: `Property ${quoteName(d.name)} occurs more than once in the object at {path}; only the last occurrence would be kept`,
      diagnostics: 'FHIR JSON: a property SHALL NOT appear more than once in an object',
    }));
    return this.validate(parsed.value as Resource, options, duplicates);
  }

  validate(resource: Resource | Bundle, options?: ValidateOptions, extra: RawIssue[] = []): OperationOutcome {
    const input: unknown = resource;
    if (!isObject(input)) {
      return fatal(
        'The input is not a FHIR resource: expected a JSON object with a resourceType',
        `input is ${Array.isArray(input) ? 'an array' : input === null ? 'null' : `a ${typeof input}`}`,
        'invalid',
      );
    }
    const type = input.resourceType;
    if (typeof type !== 'string') {
      return fatal(
        'The input has no resourceType: every FHIR resource must state its resourceType',
        'resourceType is missing or not a string',
        'required',
      );
    }
    if (!this.base.index.isResourceType(type)) {
      return fatal(
        `Unknown resource type ${quoteName(type)}: not a FHIR R4 resource type`,
        'FHIR R4 resource types (profiles-resources.json)',
      );
    }
    try {
      return outcomeOf(this.check(input, options, extra));
    } catch (err) {
      return fatal(
        'Validation could not be completed because of an internal error; the resource was not judged',
        `internal error: ${err instanceof Error ? err.name : 'unknown'}`,
        'exception',
      );
    }
  }

  private check(
    input: Record<string, unknown>,
    options: ValidateOptions | undefined,
    extra: RawIssue[],
  ): OperationOutcomeIssue[] {
    const ctx = {
      index: this.base.index,
      requiredExpansions: this.requiredBindings ? this.base.requiredExpansions : new Map(),
      extensions: this.base.extensions,
    };
    let root = input;
    let walked = walk(ctx, root);
    if (walked.sawUndefined) {
      // Objects built in code may hold `undefined` properties, which JSON cannot express:
      // judge the JSON form (what would be sent), not the JavaScript object.
      root = JSON.parse(JSON.stringify(input)) as Record<string, unknown>;
      walked = walk(ctx, root);
    }
    const badNested: Segments[] = walked.issues
      .filter((i) => i.category === 'resource-type' && i.segments)
      .map((i) => i.segments as Segments);
    const medplumInput = badNested.length > 0 ? withoutNested(root, badNested) : root;
    const medplum = runMedplum(this.base.index, root, medplumInput as unknown as Resource);
    const schema: RawIssue[] = [];
    if (this.schema) {
      schema.push(...this.schema.validate(root, []));
      for (const n of walked.nested) {
        if (this.base.index.isResourceType(n.resource.resourceType as string)) {
          schema.push(...this.schema.validate(n.resource, n.segments));
        }
      }
    }
    const profiles: RawIssue[] = [];
    for (const url of options?.profiles ?? []) {
      if (url !== `${BASE_PROFILE_PREFIX}${root.resourceType as string}`) {
        profiles.push({
          severity: 'error',
          code: 'not-found',
          category: 'profile',
          segments: [],
          text: `Profile ${url} is not available to this validator, so the resource could not be checked against it`,
          diagnostics: 'profile lookup: only base FHIR R4 definitions are loaded',
        });
      }
    }
    return merge(this.base, root, [profiles, extra, medplum, walked.issues, schema]);
  }
}

/** Create a validator. Base R4 is loaded once per process (the first call pays the startup cost). */
export function createValidator(options: CreateValidatorOptions = {}): Validator {
  return new BaseValidator(options);
}

let shared: Validator | undefined;

/** The process-wide validator behind the module-level functions, created on first use. */
export function sharedValidator(): Validator {
  shared ??= createValidator();
  return shared;
}

/** Validate with the shared validator (created lazily on first call). */
export function validate(resource: Resource | Bundle, options?: ValidateOptions): OperationOutcome {
  return sharedValidator().validate(resource, options);
}

/** Parse JSON text strictly and validate it with the shared validator. */
export function validateJson(text: string, options?: ValidateOptions): OperationOutcome {
  return sharedValidator().validateJson(text, options);
}
