import type { FhirPathAtom } from '@medplum/core';
import { parseFhirPath } from '@medplum/core';
import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';
import type { ElementIndex, ElementInfo } from './element-index';
import type { FastExpression } from './fhirpath-lite';
import { compileFast } from './fhirpath-lite';
import { ensureIds } from './snapshot';
import { BASE_SD, stripVersion } from './common';

/**
 * A profile compiled once from its snapshot into a tree of the elements that carry a rule the
 * base R4 checks do not already apply: cardinality tighter than the base, fixed and pattern
 * values, bindings, type restrictions (choice types, resource types, reference targets, type
 * profiles), min/max values, maxLength, the profile's own invariants, slicing. Elements without
 * such a rule (and without one below them) are left out of `checked`, so validation only visits
 * what the profile constrains.
 */

/** Types a binding applies to (bindings on other types are ignored, as the reference validator does). */
const BINDABLE: ReadonlySet<string> = new Set(['code', 'Coding', 'CodeableConcept', 'Quantity', 'string', 'uri']);

/** Data type invariants already evaluated by the base walker or not meant to be re-evaluated per profile. */
const ALWAYS_SKIPPED = new Set(['ele-1', 'ext-1']);

export interface ProfileInvariant {
  readonly key: string;
  readonly severity: 'error' | 'warning';
  readonly human: string;
  readonly expression: string;
  /** Undefined when the FHIRPath engine cannot parse the expression (reported as information). */
  readonly atom?: FhirPathAtom;
  /** The expression compiled for the fast evaluator, when it covers it. */
  readonly fast?: FastExpression;
}

export interface TypedConstant {
  /** FHIR type of the constant, from the property suffix (`fixedUri` → uri, `patternCodeableConcept` → CodeableConcept). */
  readonly type: string;
  readonly value: unknown;
}

export interface Discriminator {
  readonly type: string;
  readonly path: string;
}

export interface ProfileType {
  readonly code: string;
  readonly profile?: readonly string[];
  readonly targetProfile?: readonly string[];
}

export interface ProfileNode {
  readonly id: string;
  readonly path: string;
  /** JSON name (without `[x]`). */
  readonly name: string;
  readonly choice: boolean;
  readonly sliceName?: string;
  readonly min: number;
  readonly max: number;
  /** Cardinality stricter than the base definition (checked by the profile step). */
  readonly checkMin: boolean;
  readonly checkMax: boolean;
  readonly types: readonly ProfileType[];
  /** Allowed type codes, when narrower than the base element's. */
  readonly allowedTypes?: ReadonlySet<string>;
  readonly fixed?: TypedConstant;
  readonly pattern?: TypedConstant;
  readonly binding?: { readonly strength: 'required' | 'extensible'; readonly valueSet: string };
  readonly invariants: readonly ProfileInvariant[];
  readonly minValue?: TypedConstant;
  readonly maxValue?: TypedConstant;
  readonly maxLength?: number;
  /** Allowed reference target resource types, when narrower than the base element's. */
  readonly targetTypes?: readonly string[];
  /** The profiles named as reference targets (for messages). */
  readonly targetProfiles?: readonly string[];
  /** Target profiles that are not loaded (the target type cannot be checked; reported as a warning). */
  readonly unresolvedTargets?: readonly string[];
  /** Non-core profiles the value must conform to (data type or resource profiles; not extensions). */
  readonly typeProfiles?: readonly string[];
  readonly slicing?: {
    readonly discriminators: readonly Discriminator[];
    readonly rules: string;
    readonly ordered: boolean;
  };
  /** Every child element (discriminator paths are looked up here). */
  readonly children: ProfileNode[];
  /** Children that carry a rule, or have one below them. */
  readonly checked: ProfileNode[];
  readonly slices: ProfileNode[];
  /** Type slices of a choice element (`value[x]:valueQuantity`), by type code. */
  readonly typeSlices: Map<string, ProfileNode>;
  /** True when this element (or anything below it) carries a rule. */
  hasRules: boolean;
}

export interface CompiledProfile {
  readonly url: string;
  readonly name: string;
  /** The resource or data type the profile constrains. */
  readonly type: string;
  readonly root: ProfileNode;
  /** Rules that could not be compiled (reported once per validation as information). */
  readonly problems: readonly string[];
}

/** What compiling needs from the surroundings. */
export interface CompileContext {
  readonly index: ElementIndex;
  /** Constraint keys of the base element paths. */
  readonly constraintKeys: ReadonlyMap<string, ReadonlySet<string>>;
  /** The type a StructureDefinition URL constrains (`…/bma-service-request` → ServiceRequest), if known. */
  sdType(url: string): string | undefined;
}

const atomCache = new Map<string, FhirPathAtom | null>();

function parseOnce(expression: string): FhirPathAtom | undefined {
  let atom = atomCache.get(expression);
  if (atom === undefined) {
    try {
      atom = parseFhirPath(expression);
    } catch {
      atom = null;
    }
    atomCache.set(expression, atom);
  }
  return atom ?? undefined;
}

function parseMax(max: string | undefined): number {
  if (max === undefined || max === '*') {
    return Infinity;
  }
  const n = Number(max);
  return Number.isFinite(n) ? n : Infinity;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** `fixedCodeableConcept` → { type: 'CodeableConcept', value }. */
function constantOf(ed: ElementDefinition, prefix: string): TypedConstant | undefined {
  const record = ed as unknown as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key.startsWith(prefix) && key.length > prefix.length && /[A-Z]/.test(key[prefix.length])) {
      return { type: suffixType(key.slice(prefix.length)), value: record[key] };
    }
  }
  return undefined;
}

const PRIMITIVE_SUFFIXES = new Set([
  'Base64Binary',
  'Boolean',
  'Canonical',
  'Code',
  'Date',
  'DateTime',
  'Decimal',
  'Id',
  'Instant',
  'Integer',
  'Markdown',
  'Oid',
  'PositiveInt',
  'String',
  'Time',
  'UnsignedInt',
  'Uri',
  'Url',
  'Uuid',
]);

function suffixType(suffix: string): string {
  return PRIMITIVE_SUFFIXES.has(suffix) ? lowerFirst(suffix) : suffix;
}

function sameTypes(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function newNode(ed: ElementDefinition, id: string): ProfileNode {
  const path = ed.path as string;
  const last = path.slice(path.lastIndexOf('.') + 1);
  const choice = last.endsWith('[x]');
  return {
    id,
    path,
    name: choice ? last.slice(0, -3) : last,
    choice,
    sliceName: ed.sliceName,
    min: ed.min ?? 0,
    max: parseMax(ed.max),
    checkMin: false,
    checkMax: false,
    types: (ed.type ?? []).map((t) => ({
      code: t.code as string,
      profile: t.profile,
      targetProfile: t.targetProfile,
    })),
    invariants: [],
    children: [],
    checked: [],
    slices: [],
    typeSlices: new Map(),
    hasRules: false,
  };
}

function typeCodeOf(t: ProfileType): string {
  return t.code.startsWith('http://hl7.org/fhirpath/System.') ? lowerFirst(t.code.slice(31)) : t.code;
}

/** Compile a profile (it must have a snapshot). */
export function compileProfile(sd: StructureDefinition, ctx: CompileContext): CompiledProfile {
  const problems: string[] = [];
  const elements = ensureIds(JSON.parse(JSON.stringify(sd.snapshot?.element ?? [])) as ElementDefinition[]);
  const url = sd.url as string;
  const type = sd.type ?? (elements[0]?.path as string);
  const nodes = new Map<string, ProfileNode>();
  const root = newNode(elements[0] ?? { path: type }, elements[0]?.id ?? type);
  nodes.set(root.id, root);
  fillRules(root, elements[0] ?? {}, ctx, problems, true);
  for (const ed of elements.slice(1)) {
    const id = ed.id as string;
    if (!ed.path) {
      continue;
    }
    const dot = id.lastIndexOf('.');
    const parent = nodes.get(id.slice(0, dot));
    if (!parent) {
      continue; // below an element that was not compiled (e.g. a re-slice)
    }
    const last = id.slice(dot + 1);
    const colon = last.indexOf(':');
    const node = newNode(ed, id);
    nodes.set(id, node);
    if (colon >= 0) {
      const sliceName = last.slice(colon + 1);
      const sliced = nodes.get(`${id.slice(0, dot)}.${last.slice(0, colon)}`);
      if (!sliced || sliceName.includes('/')) {
        problems.push(`slice ${id} is not supported (re-slice or slice without its sliced element); not checked`);
        nodes.delete(id);
        continue;
      }
      fillRules(node, ed, ctx, problems, false);
      if (sliced.choice && sliceName.startsWith(sliced.name) && node.types.length === 1) {
        sliced.typeSlices.set(typeCodeOf(node.types[0]), node);
      } else {
        sliced.slices.push(node);
      }
    } else {
      fillRules(node, ed, ctx, problems, false);
      parent.children.push(node);
    }
  }
  finish(root);
  return { url, name: sd.title ?? sd.name ?? url, type, root, problems };
}

/** Propagate `hasRules` upwards and fill `checked`. */
function finish(node: ProfileNode): boolean {
  let any = node.hasRules;
  for (const c of node.children) {
    if (finish(c)) {
      node.checked.push(c);
      any = true;
    }
  }
  for (const s of node.slices) {
    finish(s);
    any = true; // slice cardinality is always checked
  }
  for (const s of node.typeSlices.values()) {
    if (finish(s)) {
      any = true;
    }
  }
  node.hasRules = any;
  return any;
}

function fillRules(
  node: ProfileNode,
  ed: ElementDefinition,
  ctx: CompileContext,
  problems: string[],
  isRoot: boolean,
): void {
  const n = node as { -readonly [K in keyof ProfileNode]: ProfileNode[K] };
  const basePath = ed.base?.path ?? ed.path ?? '';
  const baseEl: ElementInfo | undefined = isRoot ? undefined : ctx.index.element(basePath);
  let rules = false;
  if (!isRoot && !node.sliceName) {
    const baseMin = baseEl?.min ?? 0;
    const baseMax = baseEl ? baseEl.max : Infinity;
    if (node.min > baseMin) {
      n.checkMin = true;
      rules = true;
    }
    if (node.max < baseMax) {
      n.checkMax = true;
      rules = true;
    }
  }
  // Types
  const codes = node.types.map(typeCodeOf);
  const baseCodes = baseEl ? baseEl.types.map((t) => t.code) : [];
  const restrictable = !!baseEl && (baseEl.choice || baseCodes.includes('Resource'));
  if (!isRoot && restrictable && codes.length > 0 && !sameTypes(codes, baseCodes) && !codes.includes('*')) {
    n.allowedTypes = new Set(codes);
    rules = true;
  }
  // Reference targets
  const refType = node.types.find((t) => t.code === 'Reference');
  if (refType?.targetProfile?.length) {
    const baseTargets = baseEl?.types.find((t) => t.code === 'Reference')?.targetProfile ?? [];
    const own = refType.targetProfile.map(stripVersion);
    if (!sameTypes(own, baseTargets.map(stripVersion))) {
      const targetTypes: string[] = [];
      let known = true;
      for (const p of own) {
        const name = p.startsWith(BASE_SD) ? p.slice(BASE_SD.length) : undefined;
        const t = ctx.sdType(p) ?? (name && ctx.index.isResourceType(name) ? name : undefined);
        if (!t || t === 'Resource') {
          known = false;
          break;
        }
        targetTypes.push(t);
      }
      if (known) {
        n.targetTypes = [...new Set(targetTypes)];
        n.targetProfiles = own;
        rules = true;
      } else {
        const unresolved = own.filter(
          (p) => !ctx.sdType(p) && !(p.startsWith(BASE_SD) && ctx.index.isResourceType(p.slice(BASE_SD.length))),
        );
        if (unresolved.length > 0) {
          n.unresolvedTargets = unresolved;
          rules = true;
        }
      }
    }
  }
  // Type profiles other than core ones (extensions are validated wherever they occur).
  const typeProfiles = node.types
    .filter((t) => t.code !== 'Extension')
    .flatMap((t) => t.profile ?? [])
    .map(stripVersion)
    .filter((p) => !p.startsWith(BASE_SD));
  if (typeProfiles.length > 0) {
    n.typeProfiles = typeProfiles;
    rules = true;
  }
  // Values
  const fixed = constantOf(ed, 'fixed');
  if (fixed) {
    n.fixed = fixed;
    rules = true;
  }
  const pattern = constantOf(ed, 'pattern');
  if (pattern) {
    n.pattern = pattern;
    rules = true;
  }
  const minValue = constantOf(ed, 'minValue');
  const maxValue = constantOf(ed, 'maxValue');
  if (minValue || maxValue) {
    n.minValue = minValue;
    n.maxValue = maxValue;
    rules = true;
  }
  if (typeof ed.maxLength === 'number' && ed.maxLength > 0) {
    n.maxLength = ed.maxLength;
    rules = true;
  }
  // Binding
  const b = ed.binding;
  const bindable = codes.length === 0 || codes.some((c) => BINDABLE.has(c));
  if (b?.valueSet && bindable && (b.strength === 'required' || b.strength === 'extensible')) {
    const same =
      baseEl?.binding?.strength === b.strength &&
      baseEl.binding.valueSet !== undefined &&
      stripVersion(baseEl.binding.valueSet) === stripVersion(b.valueSet);
    if (!same) {
      n.binding = { strength: b.strength, valueSet: stripVersion(b.valueSet) };
      rules = true;
    }
  }
  // Invariants of the profile (not those of the base element)
  const baseKeys = ctx.constraintKeys.get(basePath);
  const invariants: ProfileInvariant[] = [];
  for (const c of ed.constraint ?? []) {
    if (!c.key || !c.expression || ALWAYS_SKIPPED.has(c.key) || baseKeys?.has(c.key)) {
      continue;
    }
    if (c.source && isCore(ctx, c.source)) {
      continue; // a data type's own invariant, copied into the element (evaluated by the base walker)
    }
    const atom = parseOnce(c.expression);
    if (!atom) {
      problems.push(`invariant ${c.key} of ${node.id} cannot be parsed; not checked`);
    }
    invariants.push({
      key: c.key,
      severity: c.severity === 'warning' ? 'warning' : 'error',
      human: c.human ?? c.key,
      expression: c.expression,
      atom,
      fast: compileFast(c.expression),
    });
  }
  if (invariants.length > 0) {
    n.invariants = invariants;
    rules = true;
  }
  if (ed.slicing) {
    n.slicing = {
      discriminators: (ed.slicing.discriminator ?? []).map((d) => ({ type: d.type as string, path: d.path as string })),
      rules: ed.slicing.rules ?? 'open',
      ordered: ed.slicing.ordered === true,
    };
  }
  n.hasRules = rules;
}

/** True for the definition of a core type or resource (`…/StructureDefinition/Quantity`), not a core profile. */
function isCore(ctx: CompileContext, url: string): boolean {
  return url.startsWith(BASE_SD) && ctx.sdType(url) === url.slice(BASE_SD.length);
}
