import type { FhirPathAtom, TypedValue } from '@medplum/core';
import { evalFhirPathTyped, parseFhirPath, tryGetDataType } from '@medplum/core';
import type { ElementIndex, ElementInfo } from './element-index';
import type { ExtensionHost, ExtensionRegistry } from './extensions';
import { contextAllows } from './extensions';
import { PRIMITIVE_TYPES } from './element-index';
import type { RawIssue, Segments } from './issues';
import { allowedTargets, referenceTarget } from './references';
import { attachmentRules, bundleRules, capabilityStatementRules, structureDefinitionRules } from './rules';
import type { Expansion } from './terminology';
import { allowedCodes, expansionHas } from './terminology';
import { checkNarrativeXhtml } from './xhtml';
import type { FastExpression } from './fhirpath-lite';
import { compileFast, evaluateFast } from './fhirpath-lite';
import { UCUM, isObject, withArticle } from './common';

/** A resource inside the validated input (the root, contained ones, Bundle entries, Parameters values). */
export interface NestedResource {
  readonly resource: Record<string, unknown>;
  readonly segments: Segments;
}

export interface WalkResult {
  readonly issues: RawIssue[];
  /** Every resource below the root, with its location (the root itself is not listed). */
  readonly nested: NestedResource[];
  /** True when some property or array item is `undefined` (possible in objects built in code, not in JSON). */
  readonly sawUndefined: boolean;
}

export interface WalkerContext {
  readonly index: ElementIndex;
  readonly requiredExpansions: ReadonlyMap<string, Expansion>;
  /** Known extension definitions: their context, value type and modifier flag are checked. */
  readonly extensions?: ExtensionRegistry;
  /** Called for every extension (with its location and the resource it sits in), e.g. to check it against its definition. */
  readonly onExtension?: (
    extension: Record<string, unknown>,
    segments: Segments,
    resource: Record<string, unknown>,
  ) => void;
}

/**
 * Invariants that are not checked generically: ele-1 (empty elements are reported as such),
 * dom-3 (checked natively below: it needs `descendants()`), ext-1 and the resource-level
 * ones @medplum/core already evaluates at the root.
 */
const SKIPPED_CONSTRAINTS: ReadonlySet<string> = new Set([
  'ele-1',
  'dom-3',
  'org-1',
  'sdf-19',
  'ext-1',
  'txt-1',
  'txt-2',
]);

/** Quantity profiles used as element types in R4 (their own invariants apply, e.g. sqty-1). */
const QUANTITY_PROFILES: Record<string, string> = {
  'http://hl7.org/fhir/StructureDefinition/SimpleQuantity': 'SimpleQuantity',
  'http://hl7.org/fhir/StructureDefinition/MoneyQuantity': 'MoneyQuantity',
};

const quantityProfiles = new WeakMap<ElementInfo, string | null>();

/** SimpleQuantity or MoneyQuantity when the element's Quantity type names that profile (cached per element). */
function quantityProfileOf(el: ElementInfo): string | undefined {
  let name = quantityProfiles.get(el);
  if (name === undefined) {
    const profile = el.types.find((t) => t.code === 'Quantity')?.profile?.find((p) => QUANTITY_PROFILES[p]);
    name = profile ? QUANTITY_PROFILES[profile] : null;
    quantityProfiles.set(el, name);
  }
  return name ?? undefined;
}

interface Invariant {
  readonly key: string;
  readonly human: string;
  readonly expression: string;
  readonly atom: FhirPathAtom;
  /** The expression compiled for the fast evaluator, when it covers it. */
  readonly fast?: FastExpression;
}

const invariantCache = new Map<string, Invariant[]>();

/** Error-severity invariants declared on a type's root element (Reference ref-1, Period per-1, ...). */
function typeInvariants(type: string): Invariant[] {
  let list = invariantCache.get(type);
  if (!list) {
    list = [];
    for (const c of tryGetDataType(type)?.constraints ?? []) {
      if (c.severity === 'error' && !SKIPPED_CONSTRAINTS.has(c.key)) {
        try {
          list.push({
            key: c.key,
            human: c.description,
            expression: c.expression,
            atom: parseFhirPath(c.expression),
            fast: compileFast(c.expression),
          });
        } catch {
          // An expression the FHIRPath engine cannot parse is not enforced.
        }
      }
    }
    invariantCache.set(type, list);
  }
  return list;
}

interface LocalRef {
  readonly segments: Segments;
  readonly id: string;
  /** Allowed target types when the local reference is a Reference (undefined: any). */
  readonly targets?: readonly string[];
  /** False for uri/canonical values such as contentReference: they count for dom-3 but are not held to ref-1. */
  readonly isReference: boolean;
}

/** fullUrl → resourceType of a Bundle's entries. */
export function bundleIndex(bundle: Record<string, unknown>): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of Array.isArray(bundle.entry) ? bundle.entry : []) {
    if (isObject(entry) && typeof entry.fullUrl === 'string' && isObject(entry.resource)) {
      const type = entry.resource.resourceType;
      if (typeof type === 'string') {
        map.set(entry.fullUrl, type);
      }
    }
  }
  return map;
}

function containedIds(frame: { resource: Record<string, unknown> }): Set<string> {
  const ids = new Set<string>();
  for (const c of Array.isArray(frame.resource.contained) ? frame.resource.contained : []) {
    if (isObject(c) && typeof c.id === 'string') {
      ids.add(c.id);
    }
  }
  return ids;
}

interface ResourceFrame {
  readonly resource: Record<string, unknown>;
  readonly segments: Segments;
  /** The resource whose `contained` list local references (`#id`) resolve against. */
  readonly containerForRefs: Record<string, unknown>;
  readonly typed: TypedValue;
  readonly rootTyped: TypedValue;
  /** Local references (`#id`) seen in this resource, for ref-1 and dom-3. */
  readonly localRefs: LocalRef[];
  /** fullUrl → resourceType of the entries of the nearest enclosing Bundle. */
  readonly bundleTypes?: ReadonlyMap<string, string>;
  /** Bundle.type of the nearest enclosing Bundle. */
  readonly bundleKind?: string;
  /** Whether the frame is a contained resource. */
  readonly contained: boolean;
  /** Contained resources (of this frame) that refer back to their container with `#`. */
  readonly refersBack: Set<object>;
}

/**
 * One pass over the instance, guided by the element index. It finds nested resources, and
 * reports what @medplum/core and the JSON Schema do not: empty arrays, non-R4 elements that
 * Medplum's definitions add, codes outside required bindings (expanded locally), the
 * invariants of data types (ref-1, per-1, sqty-1, ...), the root invariants of nested
 * resources, local references that do not resolve (ref-1) and unreferenced contained
 * resources (dom-3).
 */
export function walk(
  ctx: WalkerContext,
  root: Record<string, unknown>,
  options: { readonly rootInvariants?: boolean } = {},
): WalkResult {
  const walker = new Walker(ctx, options.rootInvariants !== false);
  walker.visitResource(root, [], undefined, false);
  return { issues: walker.issues, nested: walker.nested, sawUndefined: walker.sawUndefined };
}

/**
 * The resource-level invariants of the root resource alone. @medplum/core evaluates them too,
 * but stops at the first one that fails: when it reports none, they all hold and the walk can
 * skip them (`walk(..., { rootInvariants: false })`); when it reports one, this finds all.
 */
export function rootInvariantIssues(ctx: WalkerContext, root: Record<string, unknown>): RawIssue[] {
  const walker = new Walker(ctx, true);
  walker.rootInvariants(root);
  return walker.issues;
}

/** The walk's state and steps (methods, not closures: nothing is allocated per step but the values). */
class Walker {
  readonly issues: RawIssue[] = [];
  readonly nested: NestedResource[] = [];
  sawUndefined = false;

  constructor(
    private readonly ctx: WalkerContext,
    private readonly withRootInvariants: boolean,
  ) {}

  rootInvariants(root: Record<string, unknown>): void {
    const type = root.resourceType as string;
    const typed: TypedValue = { type, value: root };
    const frame: ResourceFrame = {
      resource: root,
      segments: [],
      containerForRefs: root,
      typed,
      rootTyped: typed,
      localRefs: [],
      contained: false,
      refersBack: new Set(),
    };
    this.checkInvariants(typeInvariants(type), root, type, frame, [], `${type} (resource)`);
  }

  visitResource(
    resource: Record<string, unknown>,
    segments: Segments,
    parent: ResourceFrame | undefined,
    contained: boolean,
  ): void {
    const type = resource.resourceType;
    if (typeof type !== 'string' || !this.ctx.index.isResourceType(type)) {
      this.issues.push({
        severity: 'error',
        code: 'structure',
        category: 'resource-type',
        segments,
        text:
          typeof type === 'string'
            ? `Unknown resource type ${quoteName(type)} at {path}: not a FHIR R4 resource type`
            : 'Missing resourceType at {path}: a nested resource must state its resourceType',
        diagnostics: 'FHIR R4 resource types (profiles-resources.json)',
      });
      return;
    }
    const typed: TypedValue = { type, value: resource };
    const frame: ResourceFrame = {
      resource,
      segments,
      containerForRefs: contained && parent ? parent.containerForRefs : resource,
      typed,
      rootTyped: contained && parent ? parent.rootTyped : typed,
      localRefs: [],
      bundleTypes: type === 'Bundle' ? bundleIndex(resource) : parent?.bundleTypes,
      bundleKind: type === 'Bundle' ? String(resource.type) : parent?.bundleKind,
      contained,
      refersBack: new Set(),
    };
    if (parent) {
      this.nested.push({ resource, segments });
    }
    // @medplum/core evaluates resource-level invariants for the root only, and stops at the
    // first one that fails: evaluate them all, for nested resources too.
    if (parent || this.withRootInvariants) {
      this.checkInvariants(typeInvariants(type), resource, type, frame, segments, `${type} (resource)`);
    }
    if (type === 'Bundle') {
      this.issues.push(...bundleRules(resource, segments));
    } else if (type === 'CapabilityStatement') {
      this.issues.push(...capabilityStatementRules(resource, segments));
    } else if (type === 'StructureDefinition') {
      this.issues.push(...structureDefinitionRules(this.ctx.index, resource, segments));
    }
    this.visitObject(resource, type, segments, frame, { elementPath: type, type, isResource: true });
    this.finishResource(frame);
    if (contained && parent) {
      for (const ref of frame.localRefs) {
        if (ref.id === '') {
          parent.refersBack.add(resource);
        } else {
          parent.localRefs.push(ref);
        }
      }
    }
  }

  private finishResource(frame: ResourceFrame): void {
    const containedList = Array.isArray(frame.resource.contained) ? frame.resource.contained : [];
    const containedIds = new Map<string, string>();
    for (const c of containedList) {
      if (isObject(c) && typeof c.id === 'string') {
        containedIds.set(c.id, String(c.resourceType));
      }
    }
    if (frame.contained) {
      return; // its local references are resolved by the container
    }
    const referenced = new Set<string>();
    for (const ref of frame.localRefs) {
      if (ref.id === '') {
        continue; // `#` alone refers to the container: only meaningful inside a contained resource
      } else if (containedIds.has(ref.id)) {
        referenced.add(ref.id);
        const type = containedIds.get(ref.id) as string;
        if (ref.targets && !ref.targets.includes(type)) {
          this.issues.push(this.wrongTarget(ref.segments, type, ref.targets));
        }
      } else if (ref.isReference) {
        this.issues.push({
          severity: 'error',
          code: 'invariant',
          category: 'reference',
          segments: ref.segments,
          text: 'Local reference at {path} does not resolve: no contained resource has that id (ref-1)',
          diagnostics: 'invariant ref-1: SHALL have a contained resource if a local reference is provided',
        });
      }
    }
    containedList.forEach((c, i) => {
      if (isObject(c) && typeof c.id === 'string' && !referenced.has(c.id) && !frame.refersBack.has(c)) {
        this.issues.push({
          severity: 'error',
          code: 'invariant',
          category: 'invariant',
          segments: [...frame.segments, 'contained', i],
          text: 'Contained resource at {path} is not referenced from the rest of the resource and does not refer to it (dom-3)',
          diagnostics:
            'invariant dom-3: If the resource is contained in another resource, it SHALL be referred to from elsewhere in the resource or SHALL refer to the containing resource',
        });
      }
    });
  }

  /** FHIRPath environment variables for @medplum/core's engine. */
  private variables(typed: TypedValue, frame: ResourceFrame): Record<string, TypedValue> {
    return {
      '%context': typed,
      '%resource': frame.typed,
      '%rootResource': frame.rootTyped,
      '%ucum': { type: 'string', value: UCUM },
    };
  }

  private checkInvariants(
    list: Invariant[],
    value: unknown,
    type: string,
    frame: ResourceFrame,
    segments: Segments,
    owner: string,
  ): void {
    for (const inv of list) {
      if (inv.key === 'ref-1') {
        continue; // resolved natively (needs the right container for Bundle entries)
      }
      let ok = inv.fast ? evaluateFast(inv.fast, value, type, frame.typed.value, frame.rootTyped.value) : undefined;
      if (ok === undefined) {
        try {
          const typed: TypedValue = { type, value };
          const out = evalFhirPathTyped(inv.atom, [typed], this.variables(typed, frame));
          ok = out.length === 1 && out[0].value === true;
        } catch {
          this.issues.push({
            severity: 'information',
            code: 'informational',
            category: 'other',
            segments,
            text: `Invariant ${inv.key} could not be evaluated at {path}; it was not checked`,
            diagnostics: `invariant ${inv.key} of ${owner}: ${inv.expression}`,
          });
          continue;
        }
      }
      if (!ok) {
        this.issues.push({
          severity: 'error',
          code: 'invariant',
          category: 'invariant',
          segments,
          text: `Constraint ${inv.key} failed at {path}: ${inv.human}`,
          diagnostics: `invariant ${inv.key} of ${owner}: ${inv.expression}`,
        });
      }
    }
  }

  private visitObject(
    obj: Record<string, unknown>,
    container: string,
    segments: Segments,
    frame: ResourceFrame,
    host: ExtensionHost,
  ) {
    const children = this.ctx.index.childKeys(container); // once per object, not per key
    for (const key of Object.keys(obj)) {
      if (key === 'resourceType' && obj === frame.resource) {
        continue;
      }
      const value = obj[key];
      if (value === undefined) {
        this.sawUndefined = true;
        continue;
      }
      const extension = key.startsWith('_');
      const name = extension ? key.slice(1) : key;
      const resolved = children.get(name);
      if (!resolved) {
        this.issues.push({
          severity: 'error',
          code: 'structure',
          category: 'unknown-element',
          segments: [...segments, key],
          text: `Unknown element ${quoteName(key)} at {path}: it is not defined in FHIR R4 (remove it, or carry the data in an extension)`,
          diagnostics: `FHIR R4 StructureDefinition: ${container} has no element '${name}'`,
        });
        continue;
      }
      const type = extension ? 'Element' : resolved.type;
      if (!Array.isArray(value)) {
        this.visitValue(value, resolved.element, type, segments, key, undefined, frame, resolved.type);
        continue;
      }
      if (value.length === 0) {
        this.issues.push({
          severity: 'error',
          code: 'structure',
          category: 'empty',
          segments: [...segments, key],
          text: 'Empty array at {path}: an element with no values must be left out',
          diagnostics: 'FHIR JSON: arrays cannot be empty (https://hl7.org/fhir/R4/json.html)',
        });
        continue;
      }
      const isExtensionList = !extension && (name === 'extension' || name === 'modifierExtension');
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (item === undefined) {
          this.sawUndefined = true;
        } else if (item !== null) {
          if (isExtensionList && isObject(item)) {
            const at = [...segments, key, i];
            this.checkExtension(item, host, at, name === 'modifierExtension');
            this.ctx.onExtension?.(item, at, frame.resource);
          }
          this.visitValue(item, resolved.element, type, segments, key, i, frame, resolved.type);
        }
      }
    }
  }

  /**
   * One value: at `parent` + `key` (+ `index` in an array). Its segments are built only when a
   * complex value is walked or an issue is reported: most values are primitives without issues.
   */
  private visitValue(
    value: unknown,
    el: ElementInfo,
    type: string | undefined,
    parent: Segments,
    key: string,
    index: number | undefined,
    frame: ResourceFrame,
    /** The element's own type, when `type` is 'Element' for a primitive's `_x` companion. */
    declaredType?: string,
  ): void {
    if (!type) {
      return;
    }
    if (PRIMITIVE_TYPES.has(type)) {
      if (typeof value === 'string') {
        this.visitString(value, el, type, parent, key, index, frame);
      }
      return;
    }
    const segments = segmentsAt(parent, key, index);
    if (!isObject(value)) {
      // The JSON Schema does not say that complex types are objects, and @medplum/core then
      // reports each character of a string as an unknown property: report the shape once.
      this.issues.push({
        severity: 'error',
        code: 'structure',
        category: 'value',
        segments,
        text: `Wrong JSON type at {path}: a ${type === 'Resource' ? 'resource' : type} must be a JSON object, found ${Array.isArray(value) ? 'an array' : `a ${typeof value}`}`,
        diagnostics: `FHIR R4 JSON representation of ${type}`,
        wrongShape: true,
      });
      return;
    }
    if (type === 'Resource') {
      this.visitResource(value, segments, frame, el.path.endsWith('.contained'));
      return;
    }
    if (type === 'Reference' && typeof value.reference === 'string') {
      this.checkReference(value.reference, el, segments, frame);
    } else if (type === 'Coding') {
      this.checkCoding(el, value, segments);
    } else if (type === 'CodeableConcept') {
      this.checkCodeableConcept(el, value, segments);
    } else if (type === 'Attachment') {
      this.issues.push(...attachmentRules(value, segments));
    }
    const container = this.ctx.index.containerOf(el, type);
    if (!container) {
      return;
    }
    if (container === type && type !== 'Element' && type !== 'BackboneElement') {
      const invariantType = (type === 'Quantity' && quantityProfileOf(el)) || type;
      const invariants = typeInvariants(invariantType);
      if (invariants.length > 0) {
        this.checkInvariants(invariants, value, type, frame, segments, invariantType);
      }
    }
    this.visitObject(value, container, segments, frame, {
      elementPath: el.path,
      type: type === 'Element' && declaredType ? declaredType : type,
      isResource: false,
    });
  }

  /** A string of a primitive type: required codes, local references, base64 and narrative XHTML. */
  private visitString(
    value: string,
    el: ElementInfo,
    type: string,
    parent: Segments,
    key: string,
    index: number | undefined,
    frame: ResourceFrame,
  ): void {
    if (type === 'code') {
      const exp = this.requiredExpansion(el);
      if (exp && !expansionHas(exp, undefined, value)) {
        this.issues.push(this.bindingIssue(el, exp, segmentsAt(parent, key, index), 'Code'));
      }
    } else if ((type === 'uri' || type === 'canonical') && value.startsWith('#')) {
      frame.localRefs.push({ segments: segmentsAt(parent, key, index), id: value.slice(1), isReference: false });
    } else if (type === 'base64Binary' && !isBase64(value)) {
      this.issues.push({
        severity: 'error',
        code: 'value',
        category: 'value',
        segments: segmentsAt(parent, key, index),
        text: 'Invalid base64Binary value at {path}: {format}',
        diagnostics: 'FHIR R4 base64Binary: (\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+',
      });
    } else if (type === 'xhtml') {
      const checked = checkNarrativeXhtml(value);
      const problems = [...checked.problems];
      const broken = checked.internalLinks.filter((id) => !checked.anchors.has(id) && !containedIds(frame).has(id));
      if (broken.length > 0) {
        problems.push(
          `${broken.length === 1 ? 'an internal hyperlink does' : `${broken.length} internal hyperlinks do`} not resolve to an id or name in the narrative or to a contained resource`,
        );
      }
      if (problems.length > 0) {
        this.issues.push({
          severity: 'error',
          code: 'invariant',
          category: 'value',
          segments: segmentsAt(parent, key, index),
          text: `Narrative at {path} is not acceptable FHIR XHTML: ${problems.join('; ')}`,
          diagnostics:
            'FHIR R4 narrative rules (txt-1, txt-2): well-formed XHTML div, basic formatting elements only, XML entities only',
        });
      }
    }
  }

  private extensionIssue(segments: Segments, text: string, diagnostics: string): RawIssue {
    return {
      severity: 'error',
      code: 'structure',
      category: 'profile',
      segments,
      text,
      diagnostics,
    };
  }

  private checkExtension(
    ext: Record<string, unknown>,
    host: ExtensionHost,
    segments: Segments,
    modifier: boolean,
  ): void {
    const url = ext.url;
    if (typeof url !== 'string') {
      return; // Extension.url 1..1 is reported as a missing required element
    }
    if (url.includes('|')) {
      this.issues.push(
        this.extensionIssue(
          [...segments, 'url'],
          'Extension URL at {path} must not contain a version (|...): extensions are identified by their URL alone',
          'FHIR R4 Extension.url: the canonical URL of the extension definition, without version',
        ),
      );
      return;
    }
    const def = this.ctx.extensions?.get(url);
    if (!def) {
      return;
    }
    const rule = `extension definition ${def.url}`;
    if (def.modifier !== modifier) {
      this.issues.push(
        this.extensionIssue(
          segments,
          def.modifier
            ? `Extension ${def.url} at {path} is a modifier extension and must be placed in modifierExtension`
            : `Extension ${def.url} at {path} is not a modifier extension and must not be placed in modifierExtension`,
          `${rule}: isModifier = ${def.modifier}`,
        ),
      );
    }
    if (!contextAllows(def, host)) {
      this.issues.push(
        this.extensionIssue(
          segments,
          `Extension ${def.url} is not allowed at {path} (on ${host.elementPath}); it may only be used on: ${def.contexts.join(', ')}`,
          `${rule}: context`,
        ),
      );
    }
    const valueKey = Object.keys(ext).find((k) => k.startsWith('value') && k.length > 5);
    if (valueKey && def.complex) {
      this.issues.push(
        this.extensionIssue(
          [...segments, valueKey],
          `Extension ${def.url} at {path} is a complex extension: it carries nested extensions, not a value`,
          `${rule}: value[x] 0..0`,
        ),
      );
    } else if (valueKey && def.valueTypes.length > 0) {
      const suffix = valueKey.slice(5);
      if (!def.valueTypes.some((t) => t.charAt(0).toUpperCase() + t.slice(1) === suffix)) {
        this.issues.push(
          this.extensionIssue(
            [...segments, valueKey],
            `Extension ${def.url} does not allow a value of type ${quoteName(suffix)} at {path} (allowed: ${def.valueTypes.join(', ')})`,
            `${rule}: value[x] types`,
          ),
        );
      }
    }
  }

  private wrongTarget(segments: Segments, type: string, targets: readonly string[]): RawIssue {
    return {
      severity: 'warning',
      code: 'structure',
      category: 'reference',
      segments,
      text: `Reference at {path} points to ${withArticle(type)}, which is not an allowed target here (allowed: ${targets.join(', ')})`,
      diagnostics: `reference target types of {element} in FHIR R4`,
    };
  }

  private checkReference(reference: string, el: ElementInfo, segments: Segments, frame: ResourceFrame): void {
    const targets = allowedTargets(el);
    if (reference.startsWith('#')) {
      frame.localRefs.push({ segments, id: reference.slice(1), targets, isReference: true });
      return;
    }
    const target = referenceTarget(reference, frame.bundleTypes);
    if (target.kind === 'unresolved-in-bundle') {
      // A transaction or batch cannot be processed with a dangling urn: reference; in other
      // Bundle types the target may simply not be included.
      this.issues.push({
        severity: frame.bundleKind === 'transaction' || frame.bundleKind === 'batch' ? 'error' : 'warning',
        code: 'not-found',
        category: 'reference',
        segments,
        text: 'Reference at {path} uses a urn: identifier that is not the fullUrl of any entry in this Bundle',
        diagnostics: 'FHIR R4 Bundle reference resolution (https://hl7.org/fhir/R4/bundle.html#references)',
      });
    } else if (
      target.kind === 'type' &&
      targets &&
      this.ctx.index.isResourceType(target.type) &&
      !targets.includes(target.type)
    ) {
      this.issues.push(this.wrongTarget(segments, target.type, targets));
    }
  }

  private requiredExpansion(el: ElementInfo): Expansion | undefined {
    if (el.binding?.strength !== 'required' || !el.binding.valueSet) {
      return undefined;
    }
    const exp = this.ctx.requiredExpansions.get(el.binding.valueSet);
    return exp?.complete ? exp : undefined;
  }

  private bindingIssue(el: ElementInfo, exp: Expansion, segments: Segments, what: string): RawIssue {
    return {
      severity: 'error',
      code: 'code-invalid',
      category: 'code',
      segments,
      text: `${what} at {path} is not in the value set '${exp.title}' (${exp.url}), which is required here. Allowed codes: ${allowedCodes(exp)}`,
      diagnostics: `required binding of ${el.path} to ${el.binding?.valueSet} (expanded locally)`,
    };
  }

  private codingInValueSet(exp: Expansion, coding: Record<string, unknown>): boolean {
    return (
      typeof coding.code === 'string' &&
      typeof coding.system === 'string' &&
      expansionHas(exp, coding.system, coding.code)
    );
  }

  private checkCoding(el: ElementInfo, coding: Record<string, unknown>, segments: Segments): void {
    if (typeof coding.system !== 'string' || typeof coding.code !== 'string') {
      return;
    }
    const exp = this.requiredExpansion(el);
    if (exp && !this.codingInValueSet(exp, coding)) {
      this.issues.push(this.bindingIssue(el, exp, segments, 'Coding'));
    }
  }

  private checkCodeableConcept(el: ElementInfo, cc: Record<string, unknown>, segments: Segments): void {
    const exp = this.requiredExpansion(el); // most CodeableConcepts have none: nothing to collect then
    if (!exp) {
      return;
    }
    const codings = Array.isArray(cc.coding) ? cc.coding.filter(isObject) : [];
    const judged = codings.filter((c) => typeof c.system === 'string' && typeof c.code === 'string');
    if (judged.length > 0 && !judged.some((c) => this.codingInValueSet(exp, c))) {
      this.issues.push(this.bindingIssue(el, exp, segments, 'None of the codings'));
    }
  }
}

function segmentsAt(parent: Segments, key: string, index: number | undefined): Segments {
  return index === undefined ? [...parent, key] : [...parent, key, index];
}

/** R4 base64Binary: groups of 4 base64 characters, whitespace allowed between them, padding only at the end. */
function isBase64(value: string): boolean {
  const s = value.replace(/[ \t\n\r\f\v]+/g, '');
  return s.length > 0 && s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

/** Property names and type names are echoed only when they look like names (never free text). */
export function quoteName(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/.test(name) ? `'${name}'` : '(unprintable name)';
}
