import { loadConformanceBundle } from '@marrowbridge/fhir-profiles';
import type {
  Bundle,
  OperationOutcome,
  OperationOutcomeIssue,
  Resource,
  StructureDefinition,
} from '@medplum/fhirtypes';
import type { ConformanceProblem } from './conformance';
import { ConformanceSet } from './conformance';
import type { BaseR4, StartupTimings } from './definitions';
import { loadBaseR4 } from './definitions';
import formatHints from './format-hints.json';
import type { RawIssue, Segments } from './issues';
import { outcomeOf } from './issues';
import type { FhirJsonSchema } from './json-schema';
import { sharedFhirJsonSchema } from './json-schema';
import { parseJsonText } from './json-text';
import type { Location } from './location';
import { locate } from './location';
import { runMedplum, withoutNested } from './medplum';
import type { ProfileWalkContext } from './profile-walker';
import { checkExtensionProfile, checkProfile } from './profile-walker';
import type { WalkerContext } from './walker';
import { bundleIndex, quoteName, rootInvariantIssues, walk } from './walker';
import { BASE_SD, isObject, stripVersion } from './common';

const HINTS: Record<string, string> = formatHints;
const TEXT_KEYED: ReadonlySet<string> = new Set(['invariant', 'profile', 'reference', 'other']);

export interface CreateValidatorOptions {
  /** Check codes against required bindings expanded from the R4 ValueSets (default true). */
  readonly requiredBindings?: boolean;
  /** Run the FHIR JSON Schema (ajv) next to @medplum/core (default true). */
  readonly jsonSchema?: boolean;
  /**
   * Load the project's compiled profiles, extensions, value sets and code systems
   * (`fhir-profiles/build/bundle.json`; default true).
   */
  readonly projectProfiles?: boolean;
  /**
   * More conformance resources: StructureDefinitions (with or without a snapshot; a missing one
   * is generated), ValueSets, CodeSystems, or Bundles of them (see `loadIg`). They take
   * precedence over the project's resources with the same URL.
   */
  readonly conformance?: readonly Resource[];
}

export interface ValidateOptions {
  /**
   * Canonical URLs of profiles to validate the root resource against, in addition to base R4 and
   * the profiles its `meta.profile` names. An unknown profile here is an error (one named only
   * in `meta.profile` is a warning).
   */
  readonly profiles?: readonly string[];
}

export interface Validator {
  /**
   * Validate a resource or a Bundle (entries included) against base FHIR R4 and the profiles in
   * `meta.profile` (of the root and of every nested resource) and `options.profiles`. Never throws.
   */
  validate(resource: Resource | Bundle, options?: ValidateOptions): OperationOutcome;
  /** Parse JSON text strictly (a parse error is a fatal issue) and validate the result. */
  validateJson(text: string, options?: ValidateOptions): OperationOutcome;
  /** What loading base R4 cost (shared by all validators of the process). */
  readonly startup: StartupTimings;
}

/** What `createValidator` returns: a validator that also tells what conformance resources it holds. */
export interface ProfileValidator extends Validator {
  /** Canonical URLs of the StructureDefinitions loaded on top of base R4 (profiles and extensions). */
  readonly profileUrls: readonly string[];
  /**
   * Problems met while preparing the conformance resources (snapshot generation, compilation);
   * grows as profiles are compiled on first use.
   */
  readonly conformanceProblems: readonly ConformanceProblem[];
  /** True when `url` names a profile this validator can apply (loaded, core, or a base R4 definition). */
  hasProfile(url: string): boolean;
}

function fatal(text: string, diagnostics: string, code: OperationOutcomeIssue['code'] = 'structure'): OperationOutcome {
  return outcomeOf([{ severity: 'fatal', code, details: { text }, diagnostics }]);
}

/** True when `path` lies strictly below `ancestor` (`A.b` is below `A`, `A.b[0]` too; `A.bc` is not). */
function isBelow(path: string, ancestor: string): boolean {
  return path.length > ancestor.length && path.startsWith(ancestor) && /[.[]/.test(path[ancestor.length]);
}

/** Fill the placeholders of a message template for one location. */
function fill(s: string, path: string, loc: Location | undefined): string {
  if (!s.includes('{')) {
    return s;
  }
  const el = loc?.element;
  return s
    .replace(/\{path\}/g, path || 'the root')
    .replace(/\{type\}/g, loc?.type ?? 'value')
    .replace(/\{format\}/g, HINTS[loc?.type ?? ''] ?? 'the value does not have the required format')
    .replace(/\{min\}/g, String(el?.min ?? 1))
    .replace(/\{max\}/g, el ? (Number.isFinite(el.max) ? String(el.max) : '*') : '*')
    .replace(/\{element\}/g, el?.path ?? path);
}

/**
 * Render, deduplicate and order raw issues from the sources (listed in order of preference):
 * one issue per (category, location); nothing reported below a location whose value has the
 * wrong shape or an unknown resource type.
 */
function merge(base: BaseR4, root: unknown, sources: RawIssue[][]): OperationOutcomeIssue[] {
  const seen = new Set<string>();
  const rendered: { issue: OperationOutcomeIssue; path: string; blocksBelow: boolean; category: string }[] = [];
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
      const issue: OperationOutcomeIssue = {
        severity: raw.severity,
        code: raw.code,
        details: { text: fill(raw.text, path, loc) },
        diagnostics: fill(raw.diagnostics, path, loc),
      };
      if (path) {
        issue.expression = [path];
      }
      const blocksBelow = raw.category === 'resource-type' || raw.wrongShape === true;
      rendered.push({ issue, path, blocksBelow, category: raw.category });
    }
  }
  const blockers = rendered.filter((r) => r.blocksBelow && r.path).map((r) => r.path);
  // A profile's reference-target error supersedes the base R4 warning about the same reference.
  const referenceErrors = new Set(
    rendered.filter((r) => r.category === 'reference' && r.issue.severity === 'error').map((r) => r.path),
  );
  return rendered
    .filter((r) => !blockers.some((b) => isBelow(r.path, b)))
    .filter((r) => !(r.category === 'reference' && r.issue.severity === 'warning' && referenceErrors.has(r.path)))
    .map((r) => r.issue);
}

let projectResources: Resource[] | undefined;
let projectSet: ConformanceSet | undefined;

/** The project's conformance resources (read once per process). */
function projectConformance(): Resource[] {
  projectResources ??= (loadConformanceBundle().entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
  return projectResources;
}

/** The conformance set of a validator: shared for the project-only configuration (profiles compiled once per process). */
function conformanceFor(base: BaseR4, options: CreateValidatorOptions): ConformanceSet {
  const project = options.projectProfiles === false ? [] : projectConformance();
  if (!options.conformance?.length && options.projectProfiles !== false) {
    projectSet ??= new ConformanceSet(base, project);
    return projectSet;
  }
  return new ConformanceSet(base, [...(options.conformance ?? []), ...project]);
}

interface ProfileTarget {
  readonly url: string;
  readonly resource: Record<string, unknown>;
  readonly segments: Segments;
  readonly explicit: boolean;
}

class BaseValidator implements ProfileValidator {
  private readonly base: BaseR4;
  private readonly schema: FhirJsonSchema | undefined;
  private readonly requiredBindings: boolean;
  private readonly conformance: ConformanceSet;
  private readonly walkerContext: WalkerContext;
  private readonly profileWalkContext: ProfileWalkContext;
  /** Issues of the extensions met by the walker during the current validation. */
  private extensionIssues: RawIssue[] = [];

  constructor(options: CreateValidatorOptions) {
    this.base = loadBaseR4();
    this.schema = options.jsonSchema === false ? undefined : sharedFhirJsonSchema();
    this.requiredBindings = options.requiredBindings !== false;
    this.conformance = conformanceFor(this.base, options);
    const conformance = this.conformance;
    this.profileWalkContext = {
      terminology: conformance.terminology,
      profile(url: string) {
        return conformance.profile(url);
      },
    };
    this.walkerContext = {
      index: this.base.index,
      requiredExpansions: this.requiredBindings ? this.base.requiredExpansions : new Map(),
      extensions: conformance.extensions,
      onExtension: this.onExtension.bind(this),
    };
  }

  private onExtension(ext: Record<string, unknown>, segments: Segments, resource: Record<string, unknown>): void {
    const profile = typeof ext.url === 'string' ? this.conformance.extensionProfile(ext.url) : undefined;
    if (profile) {
      this.extensionIssues.push(...checkExtensionProfile(this.profileWalkContext, profile, ext, segments, resource));
    }
  }

  get startup(): StartupTimings {
    return this.base.timings;
  }

  get profileUrls(): readonly string[] {
    return this.conformance.urls();
  }

  get conformanceProblems(): readonly ConformanceProblem[] {
    return this.conformance.problems;
  }

  hasProfile(url: string): boolean {
    return this.conformance.profile(url) !== undefined;
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
    const ctx = this.walkerContext;
    this.extensionIssues = [];
    let root = input;
    let walked = walk(ctx, root, { rootInvariants: false });
    if (walked.sawUndefined) {
      // Objects built in code may hold `undefined` properties, which JSON cannot express:
      // judge the JSON form (what would be sent), not the JavaScript object.
      root = JSON.parse(JSON.stringify(input)) as Record<string, unknown>;
      this.extensionIssues = [];
      walked = walk(ctx, root, { rootInvariants: false });
    }
    const badNested: Segments[] = walked.issues
      .filter((i) => i.category === 'resource-type' && i.segments)
      .map((i) => i.segments as Segments);
    const medplumInput = badNested.length > 0 ? withoutNested(root, badNested) : root;
    const medplum = runMedplum(this.base.index, root, medplumInput as unknown as Resource);
    if (medplum.some((i) => (i.category === 'invariant' && i.segments?.length === 0) || i.code === 'exception')) {
      // @medplum/core stopped at a failing resource-level invariant (or did not finish): find them all.
      walked.issues.push(...rootInvariantIssues(ctx, root));
    }
    const schema: RawIssue[] = [];
    if (this.schema) {
      schema.push(...this.schema.validate(root, []));
      for (const n of walked.nested) {
        if (this.base.index.isResourceType(n.resource.resourceType as string)) {
          schema.push(...this.schema.validate(n.resource, n.segments));
        }
      }
    }
    const targets: ProfileTarget[] = [];
    for (const url of options?.profiles ?? []) {
      targets.push({ url, resource: root, segments: [], explicit: true });
    }
    addDeclared(targets, root, [], this.conformance);
    for (const n of walked.nested) {
      addDeclared(targets, n.resource, n.segments, this.conformance);
    }
    const profiles: RawIssue[] = [];
    const bundleTypes = new Map<Record<string, unknown>, Map<string, string>>(); // one index per Bundle, not per entry
    for (const target of targets) {
      profiles.push(...this.checkTarget(root, target, bundleTypes));
    }
    if (root.resourceType === 'StructureDefinition') {
      profiles.push(...this.definitionIssues(root));
    }
    return merge(this.base, root, [extra, medplum, walked.issues, schema, profiles, this.extensionIssues]);
  }

  /** A StructureDefinition being validated: what its differential does to its base (errors only). */
  private definitionIssues(sd: Record<string, unknown>): RawIssue[] {
    const differential =
      isObject(sd.differential) && Array.isArray(sd.differential.element) ? sd.differential.element : [];
    const out: RawIssue[] = [];
    for (const p of this.conformance.definitionProblems(sd as unknown as StructureDefinition)) {
      if (p.severity !== 'error' || !/changes the value fixed/.test(p.message)) {
        continue;
      }
      const i = differential.findIndex((e) => isObject(e) && e.id === p.element);
      out.push({
        severity: 'error',
        code: 'invalid',
        category: 'profile',
        segments: i >= 0 ? ['differential', 'element', i] : ['differential'],
        text: `The differential cannot be applied to its base definition at {path}: ${p.message}`,
        diagnostics: `snapshot generation of ${typeof sd.url === 'string' ? sd.url : 'the StructureDefinition'} from ${typeof sd.baseDefinition === 'string' ? sd.baseDefinition : 'its base'}`,
      });
    }
    return out;
  }

  private checkTarget(
    root: Record<string, unknown>,
    target: ProfileTarget,
    bundleTypes: Map<Record<string, unknown>, Map<string, string>>,
  ): RawIssue[] {
    const type = target.resource.resourceType as string;
    const url = target.url;
    if (stripVersion(url) === `${BASE_SD}${type}`) {
      return []; // the base definition: already checked
    }
    const profile = this.conformance.profile(url);
    if (!profile) {
      return [
        {
          severity: target.explicit ? 'error' : 'warning',
          code: 'not-found',
          category: 'profile',
          segments: target.segments,
          text: `Profile ${url} is not known to this validator, so {path} was not checked against it${target.explicit ? '' : ' (named in meta.profile)'}; load it with --ig or createValidator({ conformance })`,
          diagnostics: `profile lookup: ${url} is neither a base R4 definition nor a loaded StructureDefinition`,
        },
      ];
    }
    if (profile.type !== type) {
      return [
        {
          severity: 'error',
          code: 'structure',
          category: 'profile',
          segments: target.segments,
          text: `Profile ${profile.name} constrains ${profile.type}, but {path} is ${quoteName(type)}`,
          diagnostics: `profile ${profile.url}: type ${profile.type}`,
        },
      ];
    }
    const bundle = enclosingBundle(root, target.segments);
    let types = bundle && bundleTypes.get(bundle);
    if (bundle && !types) {
      types = bundleIndex(bundle);
      bundleTypes.set(bundle, types);
    }
    const ctx = types ? { ...this.profileWalkContext, bundleTypes: types } : this.profileWalkContext;
    return checkProfile(ctx, profile, target.resource, target.segments, containerOf(root, target.segments));
  }
}

/** Add the profiles a resource declares in meta.profile, and those an ImplementationGuide makes global for its type. */
function addDeclared(
  targets: ProfileTarget[],
  resource: Record<string, unknown>,
  segments: Segments,
  conformance: ConformanceSet,
): void {
  const meta = resource.meta;
  const declared = isObject(meta) && Array.isArray(meta.profile) ? meta.profile : [];
  const global = conformance.globalProfiles(resource.resourceType as string);
  for (const url of global.length ? [...declared, ...global] : declared) {
    if (
      typeof url === 'string' &&
      !targets.some((t) => t.resource === resource && stripVersion(t.url) === stripVersion(url))
    ) {
      targets.push({ url, resource, segments, explicit: false });
    }
  }
}

/** For a contained resource at `segments`, the resource that contains it (its %rootResource). */
function containerOf(root: Record<string, unknown>, segments: Segments): Record<string, unknown> | undefined {
  let container: Record<string, unknown> | undefined;
  let current: Record<string, unknown> | undefined;
  let value: unknown = root;
  for (const seg of segments) {
    if (isObject(value) && typeof value.resourceType === 'string') {
      current = value;
    }
    if (seg === 'contained') {
      container = current;
    } else if (typeof seg === 'string' && container && current !== container) {
      container = undefined; // deeper than the contained resource's own properties
    }
    value = isObject(value) ? value[seg] : Array.isArray(value) ? value[seg as number] : undefined;
  }
  return container;
}

/** The nearest Bundle around the resource at `segments` (not the resource itself). */
function enclosingBundle(root: Record<string, unknown>, segments: Segments): Record<string, unknown> | undefined {
  let found: Record<string, unknown> | undefined;
  let value: unknown = root;
  for (let i = 0; i < segments.length; i++) {
    if (isObject(value) && value.resourceType === 'Bundle') {
      found = value;
    }
    value = isObject(value) ? value[segments[i]] : Array.isArray(value) ? value[segments[i] as number] : undefined;
  }
  return found;
}

/** Create a validator. Base R4 is loaded once per process (the first call pays the startup cost). */
export function createValidator(options: CreateValidatorOptions = {}): ProfileValidator {
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
