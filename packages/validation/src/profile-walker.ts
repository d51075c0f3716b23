import type { TypedValue } from '@medplum/core';
import { evalFhirPathTyped, getTypedPropertyValue, toTypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { evaluateFast } from './fhirpath-lite';
import type { IssueCode, RawIssue, Segments, Severity } from './issues';
import type { CompiledProfile, ProfileNode, TypedConstant } from './profile';
import { referenceTarget } from './references';
import systemNames from './system-names.json';
import type { Expansion, Terminology } from './terminology';
import { expansionHas } from './terminology';
import ucum from './ucum-units.json';
import { typeOfSuffix } from './element-index';
import { BASE_SD, UCUM, isObject, withArticle } from './common';

/**
 * Validates an instance against a compiled profile. Only the elements the profile constrains are
 * visited (see profile.ts); base R4 rules are left to the base checks.
 */

const SYSTEM_NAMES: Record<string, string> = systemNames.names;
const UCUM_UNITS = ucum.units as unknown as Record<string, [string, number]>;

export interface ProfileWalkContext {
  readonly terminology: Terminology;
  /** A compiled profile by canonical URL (undefined when unknown). */
  profile(url: string): CompiledProfile | undefined;
  /** fullUrl → resourceType of the entries of the Bundle the validated resource sits in. */
  readonly bundleTypes?: ReadonlyMap<string, string>;
}

interface Item {
  readonly value: unknown;
  /** JSON location: given for a root item, computed from parent/key/index on first use otherwise. */
  segments?: Segments;
  /** JSON key in the parent object (choice keys with their suffix) and array index, if any. */
  readonly key?: string;
  readonly index?: number;
  /** Concrete FHIR type of the value, when known. */
  readonly type?: string;
  /** Where the value sits: its parent item, JSON property name (without choice suffix) and array index. */
  readonly parent?: Item;
  readonly property?: string;
  /** Position among the typed values of `property` in the parent. */
  readonly typedIndex?: number;
  /** Medplum typed value (for FHIRPath), computed on first use. */
  typed?: TypedValue | null;
  /** Typed values of the children of this item, by property name (cache). */
  childTyped?: Map<string, TypedValue[]>;
}

function rootItem(value: unknown, segments: Segments, type: string, typed: TypedValue): Item {
  return { value, segments, type, typed };
}

/** The JSON location of an item (built only when an issue needs it). */
function segmentsOf(item: Item): Segments {
  if (item.segments) {
    return item.segments;
  }
  const parent = segmentsOf(item.parent as Item);
  const segs = item.index === undefined ? [...parent, item.key as string] : [...parent, item.key as string, item.index];
  item.segments = segs;
  return segs;
}

/** The Medplum typed value of an item (FHIRPath needs the element's type), computed once. */
function typedOf(item: Item): TypedValue | undefined {
  if (item.typed !== undefined) {
    return item.typed ?? undefined;
  }
  let result: TypedValue | undefined;
  const parent = item.parent;
  if (parent && item.property) {
    let list = parent.childTyped?.get(item.property);
    if (!list) {
      const p = typedOf(parent);
      const out = p ? getTypedPropertyValue(p, item.property) : undefined;
      list = out === undefined ? [] : Array.isArray(out) ? out : [out];
      parent.childTyped ??= new Map();
      parent.childTyped.set(item.property, list);
    }
    result = list[item.typedIndex ?? 0];
  }
  item.typed = result ?? null;
  return result;
}

interface State {
  readonly profile: CompiledProfile;
  /** The resource the current element belongs to (%resource) and the outermost one (%rootResource). */
  readonly resource: Record<string, unknown>;
  readonly resourceTyped: TypedValue;
  readonly rootResource: Record<string, unknown>;
  readonly rootTyped: TypedValue;
  /** Profiles being checked up the stack (guards against recursion through type profiles). */
  readonly active: ReadonlySet<string>;
}

/** How an invariant is named in an issue's diagnostics (built only when there is an issue). */
function ruleOf(inv: ProfileNode['invariants'][number]): string {
  return `constraint ${inv.key}: ${inv.expression}`;
}

function systemName(system: string | undefined): string {
  if (!system) {
    return '(no system)';
  }
  return SYSTEM_NAMES[system] ?? system;
}

/** A fixed or pattern value rendered for a message (values of the profile, not of the instance). */
function describeConstant(c: TypedConstant): string {
  const v = c.value;
  if (typeof v !== 'object' || v === null) {
    return JSON.stringify(v);
  }
  const codings = codingsOf(v);
  if (codings.length > 0) {
    return codings
      .map((x) => `${systemName(x.system as string | undefined)} ${String(x.code ?? '')}`.trim())
      .join(' + ');
  }
  const text = JSON.stringify(v);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/** The code system of a Coding (or a Quantity), when it is a string. */
function systemOf(c: Record<string, unknown>): string | undefined {
  return typeof c.system === 'string' ? c.system : undefined;
}

function codingsOf(v: unknown): Record<string, unknown>[] {
  if (!isObject(v)) {
    return [];
  }
  if (Array.isArray(v.coding)) {
    return v.coding.filter(isObject);
  }
  if (typeof v.code === 'string' && (typeof v.system === 'string' || Object.keys(v).length <= 3)) {
    return [v];
  }
  return [];
}

/** FHIR pattern semantics: everything in the pattern is in the instance; array items match some instance item. */
function matchesPattern(instance: unknown, pattern: unknown): boolean {
  if (Array.isArray(pattern)) {
    if (!Array.isArray(instance)) {
      return false;
    }
    return pattern.every((p) => instance.some((i) => matchesPattern(i, p)));
  }
  if (isObject(pattern)) {
    if (!isObject(instance)) {
      return false;
    }
    return Object.keys(pattern).every((k) => matchesPattern(instance[k], pattern[k]));
  }
  return instance === pattern || (typeof pattern === 'number' && Number(instance) === pattern);
}

/** FHIR fixed semantics: exactly the fixed value (ids and extensions of the instance aside). */
function equalsFixed(instance: unknown, fixed: unknown): boolean {
  if (Array.isArray(fixed)) {
    return (
      Array.isArray(instance) && instance.length === fixed.length && fixed.every((f, i) => equalsFixed(instance[i], f))
    );
  }
  if (isObject(fixed)) {
    if (!isObject(instance)) {
      return false;
    }
    const keys = Object.keys(instance).filter((k) => k !== 'id' && k !== 'extension');
    return (
      keys.length === Object.keys(fixed).filter((k) => k !== 'id' && k !== 'extension').length &&
      Object.keys(fixed).every((k) => k === 'id' || k === 'extension' || equalsFixed(instance[k], fixed[k]))
    );
  }
  return instance === fixed || (typeof fixed === 'number' && Number(instance) === fixed);
}

/** One step of a discriminator path. */
type PathStep =
  | { readonly kind: 'this' }
  | { readonly kind: 'ofType'; readonly type: string }
  | { readonly kind: 'extension'; readonly url: string }
  | { readonly kind: 'resolve' }
  | { readonly kind: 'name'; readonly name: string };

const pathCache = new Map<string, readonly PathStep[]>();

/** A discriminator path split into steps (parsed once per distinct path). */
function stepsOf(path: string): readonly PathStep[] {
  let steps = pathCache.get(path);
  if (!steps) {
    steps = splitPath(path).map((raw): PathStep => {
      if (raw === '$this') return { kind: 'this' };
      if (raw === 'resolve()') return { kind: 'resolve' };
      const ofType = /^ofType\((\w+)\)$/.exec(raw);
      if (ofType) return { kind: 'ofType', type: ofType[1] };
      const ext = /^extension\('([^']+)'\)$/.exec(raw);
      if (ext) return { kind: 'extension', url: ext[1] };
      return { kind: 'name', name: raw };
    });
    pathCache.set(path, steps);
  }
  return steps;
}

/** Values of a JSON node at a simple FHIRPath (`a.b`, `$this`, `ofType(T)`, `extension('url')`); arrays flatten. */
function valuesAt(value: unknown, path: string): { value: unknown; type?: string }[] {
  let current: { value: unknown; type?: string }[] = [{ value }];
  for (const step of stepsOf(path)) {
    if (step.kind === 'this') {
      continue;
    }
    if (step.kind === 'ofType') {
      current = current.filter((c) => c.type === step.type);
      continue;
    }
    if (step.kind === 'resolve') {
      return [];
    }
    const next: { value: unknown; type?: string }[] = [];
    for (const c of current) {
      if (!isObject(c.value)) {
        continue;
      }
      if (step.kind === 'extension') {
        for (const e of Array.isArray(c.value.extension) ? c.value.extension : []) {
          if (isObject(e) && e.url === step.url) {
            next.push({ value: e, type: 'Extension' });
          }
        }
        continue;
      }
      const name = step.name;
      const direct = c.value[name];
      if (direct !== undefined) {
        if (Array.isArray(direct)) {
          for (const v of direct) {
            next.push({
              value: v,
              type: isObject(v) && typeof v.resourceType === 'string' ? v.resourceType : undefined,
            });
          }
        } else {
          next.push({
            value: direct,
            type: isObject(direct) && typeof direct.resourceType === 'string' ? direct.resourceType : undefined,
          });
        }
        continue;
      }
      for (const key of Object.keys(c.value)) {
        if (key.length > name.length && key.startsWith(name) && /[A-Z]/.test(key[name.length])) {
          next.push({ value: c.value[key], type: typeOfSuffix(key.slice(name.length)) });
        }
      }
    }
    current = next;
  }
  return current;
}

function splitPath(path: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < path.length; i++) {
    const ch = path[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === '.' && depth === 0) {
      out.push(path.slice(start, i));
      start = i + 1;
    }
  }
  out.push(path.slice(start));
  return out.filter((s) => s.length > 0);
}

const elementCache = new WeakMap<ProfileNode, Map<string, ProfileNode | null>>();

/** The element of a slice at a discriminator path (`$this`, `type`, `code.coding`, `extension('url').value`); cached. */
function elementAt(node: ProfileNode, path: string): ProfileNode | undefined {
  let byPath = elementCache.get(node);
  if (!byPath) {
    byPath = new Map();
    elementCache.set(node, byPath);
  }
  let found = byPath.get(path);
  if (found === undefined) {
    found = findElement(node, path) ?? null;
    byPath.set(path, found);
  }
  return found ?? undefined;
}

function findElement(node: ProfileNode, path: string): ProfileNode | undefined {
  let current: ProfileNode | undefined = node;
  for (const step of stepsOf(path)) {
    if (!current) {
      return undefined;
    }
    if (step.kind === 'this' || step.kind === 'ofType') {
      continue;
    }
    if (step.kind === 'resolve') {
      return undefined;
    }
    if (step.kind === 'extension') {
      const extNode: ProfileNode | undefined = current.children.find((c) => c.name === 'extension');
      current = extNode?.slices.find((s) => extensionUrlOf(s) === step.url);
      continue;
    }
    const name = step.name;
    current = current.children.find((c) => c.name === name || (c.choice && name.startsWith(c.name)));
  }
  return current;
}

/** The URL an extension slice stands for: its fixed `url`, else its type profile. */
function extensionUrlOf(slice: ProfileNode): string | undefined {
  const url = slice.children.find((c) => c.name === 'url');
  if (url?.fixed && typeof url.fixed.value === 'string') {
    return url.fixed.value;
  }
  const t = slice.types.find((x) => x.code === 'Extension');
  return t?.profile?.[0];
}

interface CompiledValueSet {
  readonly expansion?: Expansion;
}

/** Validate `resource` (found at `segments` of the validated input) against `profile`. */
export function checkProfile(
  ctx: ProfileWalkContext,
  profile: CompiledProfile,
  resource: Record<string, unknown>,
  segments: Segments,
  rootResource?: Record<string, unknown>,
): RawIssue[] {
  return new ProfileWalker(ctx).run(profile, resource, segments, new Set(), rootResource);
}

/** Validate an extension (found at `segments`) against its compiled definition. */
export function checkExtensionProfile(
  ctx: ProfileWalkContext,
  profile: CompiledProfile,
  extension: Record<string, unknown>,
  segments: Segments,
  resource: Record<string, unknown>,
): RawIssue[] {
  const walker = new ProfileWalker(ctx);
  const resourceTyped = toTypedValue(resource as unknown as Resource);
  const state: State = {
    profile,
    resource,
    resourceTyped,
    rootResource: resource,
    rootTyped: resourceTyped,
    active: new Set([profile.url]),
  };
  walker.node(state, profile.root, rootItem(extension, segments, 'Extension', { type: 'Extension', value: extension }));
  return walker.issues;
}

class ProfileWalker {
  readonly issues: RawIssue[] = [];
  private readonly valueSets = new Map<string, CompiledValueSet>();

  constructor(private readonly ctx: ProfileWalkContext) {}

  run(
    profile: CompiledProfile,
    resource: Record<string, unknown>,
    segments: Segments,
    active: ReadonlySet<string>,
    rootResource?: Record<string, unknown>,
  ): RawIssue[] {
    const resourceTyped = toTypedValue(resource as unknown as Resource);
    const root = rootResource ?? resource;
    const state: State = {
      profile,
      resource,
      resourceTyped,
      rootResource: root,
      rootTyped: root === resource ? resourceTyped : toTypedValue(root as unknown as Resource),
      active: new Set([...active, profile.url]),
    };
    this.node(state, profile.root, rootItem(resource, segments, resource.resourceType as string, resourceTyped));
    return this.issues;
  }

  private push(
    state: State,
    node: ProfileNode,
    severity: Severity,
    code: IssueCode,
    category: RawIssue['category'],
    segments: Segments,
    text: string,
    rule: string,
  ): void {
    this.issues.push({
      severity,
      code,
      category,
      segments,
      text: `${text} (profile ${state.profile.name}, element ${node.id})`,
      diagnostics: `profile ${state.profile.url}, element ${node.id}, ${rule}`,
    });
  }

  /** All checks of one value of `node`, then its constrained children. */
  node(state: State, node: ProfileNode, item: Item): void {
    this.valueChecks(state, node, item);
    const value = item.value;
    if (!isObject(value)) {
      return;
    }
    let inner = state;
    if (item.parent && typeof value.resourceType === 'string') {
      // Below a nested resource, %resource is that resource; a contained one keeps its container
      // as %rootResource, a Bundle entry or a Parameters value is its own root.
      const typed = toTypedValue(value as unknown as Resource);
      const contained = item.key === 'contained';
      inner = {
        ...state,
        resource: value,
        resourceTyped: typed,
        rootResource: contained ? state.rootResource : value,
        rootTyped: contained ? state.rootTyped : typed,
      };
    }
    for (const child of node.checked) {
      this.child(inner, child, item);
    }
  }

  private itemsOf(child: ProfileNode, parent: Item): Item[] {
    const obj = parent.value as Record<string, unknown>;
    const items: Item[] = [];
    const name = child.name;
    if (!child.choice) {
      const v = obj[name];
      const ext = obj[`_${name}`];
      if (v === undefined && ext === undefined) {
        return items;
      }
      const declared = child.types.length === 1 ? child.types[0].code : undefined;
      if (Array.isArray(v) || Array.isArray(ext)) {
        const n = Math.max(Array.isArray(v) ? v.length : 0, Array.isArray(ext) ? ext.length : 0);
        for (let i = 0; i < n; i++) {
          const x: unknown = Array.isArray(v) ? v[i] : undefined;
          items.push({
            value: x,
            key: name,
            index: i,
            type: isObject(x) && typeof x.resourceType === 'string' ? x.resourceType : declared,
            parent,
            property: name,
            typedIndex: i,
          });
        }
      } else {
        items.push({
          value: v,
          key: name,
          type: isObject(v) && typeof v.resourceType === 'string' ? v.resourceType : declared,
          parent,
          property: name,
          typedIndex: 0,
        });
      }
      return items;
    }
    const ext = `_${name}`; // once per element, not per key
    for (const key of Object.keys(obj)) {
      if (key.length > name.length && key.startsWith(name) && /[A-Z]/.test(key[name.length])) {
        items.push({
          value: obj[key],
          key,
          type: typeOfSuffix(key.slice(name.length)),
          parent,
          property: name,
          typedIndex: 0,
        });
      } else if (
        key.startsWith(ext) &&
        key.length > name.length + 1 &&
        /[A-Z]/.test(key[name.length + 1]) &&
        obj[key.slice(1)] === undefined
      ) {
        items.push({
          value: undefined,
          key,
          type: typeOfSuffix(key.slice(name.length + 1)),
          parent,
          typed: null,
        });
      }
    }
    return items;
  }

  private child(state: State, child: ProfileNode, parent: Item): void {
    let items = this.itemsOf(child, parent);

    if (child.allowedTypes) {
      const allowed = child.allowedTypes;
      const ok: Item[] = [];
      for (const it of items) {
        if (it.type && !allowed.has(it.type) && !(allowed.has('Resource') && isObject(it.value))) {
          this.push(
            state,
            child,
            'error',
            'structure',
            'choice',
            segmentsOf(it),
            `Type ${it.type} is not allowed at {path}: the profile allows only ${[...allowed].join(', ')}`,
            `type restriction: ${[...allowed].join(' | ')}`,
          );
        } else {
          ok.push(it);
        }
      }
      items = ok;
    }
    if (child.checkMin && items.length < child.min) {
      this.push(
        state,
        child,
        'error',
        'required',
        'required',
        this.elementSegments(child, parent, items),
        items.length === 0
          ? `Missing element {path}: the profile requires at least ${child.min} value(s)`
          : `Too few values at {path}: the profile requires at least ${child.min}, found ${items.length}`,
        `cardinality ${child.min}..${Number.isFinite(child.max) ? child.max : '*'}`,
      );
    }
    if (child.checkMax && items.length > child.max) {
      this.push(
        state,
        child,
        'error',
        'structure',
        'cardinality',
        this.elementSegments(child, parent, items),
        child.max === 0
          ? `Element {path} is not allowed by the profile (max 0)`
          : `Too many values at {path}: the profile allows at most ${child.max}, found ${items.length}`,
        `cardinality ${child.min}..${Number.isFinite(child.max) ? child.max : '*'}`,
      );
    }
    if (child.slices.length > 0 || child.slicing) {
      this.slices(state, child, items, parent);
    } else {
      for (const it of items) {
        this.node(state, child, it);
      }
    }
    if (child.typeSlices.size > 0) {
      for (const [type, slice] of child.typeSlices) {
        const mine = items.filter((it) => it.type === type);
        if (mine.length < slice.min) {
          this.push(
            state,
            slice,
            'error',
            'required',
            'required',
            this.elementSegments(child, parent, []),
            `Missing ${type} value at {path}: the profile requires one`,
            `type slice ${slice.sliceName ?? type} cardinality ${slice.min}..${Number.isFinite(slice.max) ? slice.max : '*'}`,
          );
        }
        for (const it of mine) {
          this.node(state, slice, it);
        }
      }
    }
  }

  /** Location of an element in its parent: the key found in the instance, else the element's name. */
  private elementSegments(child: ProfileNode, parent: Item, items: readonly Item[]): Segments {
    const key = items.length > 0 && items[0].key ? items[0].key : child.choice ? `${child.name}[x]` : child.name;
    return [...segmentsOf(parent), key];
  }

  private slices(state: State, sliced: ProfileNode, items: Item[], parent: Item): void {
    const counts = new Map<ProfileNode, number>();
    const discriminators = sliced.slicing?.discriminators ?? [];
    for (const it of items) {
      const slice = sliced.slices.find((s) => this.matchesSlice(state, s, it, discriminators));
      if (slice) {
        counts.set(slice, (counts.get(slice) ?? 0) + 1);
        this.node(state, slice, it);
      } else {
        if (sliced.slicing?.rules === 'closed' && sliced.slices.length > 0) {
          this.push(
            state,
            sliced,
            'error',
            'structure',
            'profile',
            segmentsOf(it),
            `Value at {path} does not match any of the slices ${sliced.slices.map((s) => `'${s.sliceName}'`).join(', ')}, and the slicing is closed`,
            'closed slicing',
          );
        }
        this.node(state, sliced, it);
      }
    }
    for (const s of sliced.slices) {
      const n = counts.get(s) ?? 0;
      if (n < s.min) {
        this.push(
          state,
          s,
          'error',
          'required',
          'cardinality',
          this.elementSegments(sliced, parent, items),
          `Slice '${s.sliceName}' of {path} needs at least ${s.min} matching value(s), found ${n}${this.sliceHint(sliced, s)}`,
          `slice ${s.sliceName} cardinality ${s.min}..${Number.isFinite(s.max) ? s.max : '*'}`,
        );
      } else if (n > s.max) {
        this.push(
          state,
          s,
          'error',
          'structure',
          'cardinality',
          this.elementSegments(sliced, parent, items),
          `Slice '${s.sliceName}' of {path} allows at most ${s.max} value(s), found ${n}`,
          `slice ${s.sliceName} cardinality ${s.min}..${Number.isFinite(s.max) ? s.max : '*'}`,
        );
      }
    }
  }

  /** What a slice is recognised by, for the hint of a missing-slice message. */
  private sliceHint(sliced: ProfileNode, slice: ProfileNode): string {
    const parts: string[] = [];
    for (const d of sliced.slicing?.discriminators ?? []) {
      const el = elementAt(slice, d.path);
      const c = el?.fixed ?? el?.pattern;
      if (c) {
        parts.push(`${d.path === '$this' ? 'value' : d.path} = ${describeConstant(c)}`);
      } else if (d.type === 'type' && el) {
        parts.push(`type ${el.types.map((t) => t.code).join(' or ')}`);
      } else if (d.path === 'url') {
        const url = extensionUrlOf(slice);
        if (url) parts.push(`url = ${url}`);
      }
    }
    return parts.length ? ` (expected a value with ${parts.join(', ')})` : '';
  }

  private matchesSlice(
    state: State,
    slice: ProfileNode,
    it: Item,
    discriminators: readonly { type: string; path: string }[],
  ): boolean {
    if (discriminators.length === 0) {
      // No discriminator: a value belongs to the slice it conforms to.
      const probe = new ProfileWalker(this.ctx);
      probe.node(state, slice, it);
      return !probe.issues.some((i) => i.severity === 'error');
    }
    return discriminators.every((d) => this.matchesDiscriminator(state, slice, it, d));
  }

  private matchesDiscriminator(state: State, slice: ProfileNode, it: Item, d: { type: string; path: string }): boolean {
    const el = elementAt(slice, d.path);
    const here = valuesAt(it.value, d.path).map((v) => (d.path === '$this' ? { value: v.value, type: it.type } : v));
    switch (d.type) {
      case 'value':
      case 'pattern': {
        if (el?.fixed) {
          const fixed = el.fixed.value;
          return here.some((v) => (d.type === 'value' ? equalsFixed(v.value, fixed) : matchesPattern(v.value, fixed)));
        }
        if (el?.pattern) {
          const pattern = el.pattern.value;
          return here.some((v) => matchesPattern(v.value, pattern));
        }
        if (d.path === 'url' || d.path.endsWith('.url')) {
          const url = extensionUrlOf(el && d.path !== 'url' ? el : slice);
          return url !== undefined && here.some((v) => v.value === url);
        }
        if (el?.binding?.strength === 'required') {
          const exp = this.expansion(el.binding.valueSet);
          return (
            !!exp?.complete && here.some((v) => this.inValueSet(exp, v.value, v.type ?? el.types[0]?.code) === true)
          );
        }
        // The slice sets no value for this discriminator: it does not tell values apart by it.
        return el !== undefined;
      }
      case 'type': {
        const allowed = (el ?? slice).types.map((t) => t.code);
        return here.length > 0 && here.every((v) => v.type !== undefined && allowed.includes(v.type));
      }
      case 'exists': {
        if (!el) return false;
        return el.max === 0 ? here.length === 0 : el.min > 0 ? here.length > 0 : true;
      }
      case 'profile': {
        const profiles = (el ?? slice).types.flatMap((t) => t.profile ?? []);
        return here.some((v) =>
          profiles.some((url) => {
            const p = this.ctx.profile(url);
            if (!p || !isObject(v.value) || state.active.has(p.url)) {
              return false;
            }
            if (typeof v.value.resourceType === 'string' && v.value.resourceType !== p.type) {
              return false;
            }
            const probe = new ProfileWalker(this.ctx);
            return !probe.run(p, v.value, [], state.active).some((i) => i.severity === 'error');
          }),
        );
      }
      default:
        return false;
    }
  }

  private expansion(valueSet: string): Expansion | undefined {
    let entry = this.valueSets.get(valueSet);
    if (!entry) {
      entry = { expansion: this.ctx.terminology.expand(valueSet) };
      this.valueSets.set(valueSet, entry);
    }
    return entry.expansion;
  }

  /** True/false when judged, undefined when the value has nothing to judge (no code). */
  private inValueSet(exp: Expansion, value: unknown, type: string | undefined): boolean | undefined {
    if (typeof value === 'string') {
      return expansionHas(exp, undefined, value);
    }
    if (!isObject(value)) {
      return undefined;
    }
    if (type === 'CodeableConcept' || Array.isArray(value.coding)) {
      const codings = (Array.isArray(value.coding) ? value.coding : []).filter(
        (c): c is Record<string, unknown> => isObject(c) && typeof c.code === 'string',
      );
      if (codings.length === 0) {
        return undefined;
      }
      return codings.some((c) => expansionHas(exp, systemOf(c), c.code as string));
    }
    if (typeof value.code === 'string') {
      return expansionHas(exp, systemOf(value), value.code);
    }
    return undefined;
  }

  private valueChecks(state: State, node: ProfileNode, item: Item): void {
    const value = item.value;
    if (value === undefined || value === null) {
      return;
    }
    if (node.fixed && !equalsFixed(value, node.fixed.value)) {
      this.push(
        state,
        node,
        'error',
        'value',
        'profile',
        segmentsOf(item),
        `Value at {path} must be exactly ${describeConstant(node.fixed)}`,
        `fixed value (${node.fixed.type})`,
      );
    }
    if (node.pattern && !matchesPattern(value, node.pattern.value)) {
      this.push(
        state,
        node,
        'error',
        'value',
        'profile',
        segmentsOf(item),
        `Value at {path} does not match the required pattern: expected ${describeConstant(node.pattern)}${this.got(value)}`,
        `pattern (${node.pattern.type})`,
      );
    }
    if (node.binding) {
      this.bindingCheck(state, node, item);
    }
    if (node.maxLength !== undefined && typeof value === 'string' && [...value].length > node.maxLength) {
      this.push(
        state,
        node,
        'error',
        'value',
        'profile',
        segmentsOf(item),
        `Value at {path} is longer than the ${node.maxLength} characters the profile allows`,
        `maxLength ${node.maxLength}`,
      );
    }
    if (node.minValue || node.maxValue) {
      this.rangeCheck(state, node, item);
    }
    if (node.targetTypes && isObject(value) && typeof value.reference === 'string') {
      this.targetCheck(state, node, item, value.reference);
    } else if (node.unresolvedTargets && isObject(value) && typeof value.reference === 'string') {
      this.push(
        state,
        node,
        'warning',
        'not-found',
        'reference',
        segmentsOf(item),
        `The target profile(s) ${node.unresolvedTargets.join(', ')} of {path} are not available, so the target type was not checked (load them with --ig)`,
        `reference target profiles ${node.unresolvedTargets.join(' | ')}`,
      );
    }
    if (node.typeProfiles && isObject(value)) {
      this.typeProfileCheck(state, node, item);
    }
    for (const inv of node.invariants) {
      this.invariant(state, node, item, inv);
    }
  }

  /** What the instance has, without its values: the code systems of its codings. */
  private got(value: unknown): string {
    const codings = codingsOf(value);
    if (codings.length === 0) {
      return '';
    }
    const systems = [...new Set(codings.map((c) => systemName(c.system as string | undefined)))];
    return `; got ${codings.length} coding(s) from ${systems.join(', ')}`;
  }

  private bindingCheck(state: State, node: ProfileNode, item: Item): void {
    const binding = node.binding as NonNullable<ProfileNode['binding']>;
    const exp = this.expansion(binding.valueSet);
    if (!exp) {
      this.push(
        state,
        node,
        binding.strength === 'required' ? 'warning' : 'information',
        'not-supported',
        'code',
        segmentsOf(item),
        `The value set ${binding.valueSet} bound to {path} is not available, so the code was not checked`,
        `${binding.strength} binding to ${binding.valueSet}`,
      );
      return;
    }
    if (!exp.complete) {
      return; // cannot be expanded locally (external terminology): not judged
    }
    const type = item.type ?? node.types[0]?.code;
    const verdict = this.inValueSet(exp, item.value, type);
    if (verdict === false || (verdict === undefined && binding.strength === 'required' && type === 'CodeableConcept')) {
      const allowed = this.allowedList(exp);
      const text =
        verdict === undefined
          ? `No code at {path}: a code from the value set '${exp.title}' is required (expected ${allowed})`
          : `Code at {path} is not in the value set '${exp.title}' (${exp.url}): expected ${allowed}${this.got(item.value)}`;
      this.push(
        state,
        node,
        binding.strength === 'required' ? 'error' : 'warning',
        'code-invalid',
        'code',
        segmentsOf(item),
        text,
        `${binding.strength} binding to ${binding.valueSet}`,
      );
    }
  }

  private allowedList(exp: Expansion): string {
    const codes: string[] = [];
    for (const [system, set] of exp.systems) {
      for (const c of set) {
        codes.push(`${systemName(system)} ${c}`);
      }
    }
    return codes.length <= 10 ? codes.join(', ') : `${codes.slice(0, 10).join(', ')}, … (${codes.length} codes)`;
  }

  private rangeCheck(state: State, node: ProfileNode, item: Item): void {
    if (node.minValue) this.limitCheck(state, node, item, node.minValue, true);
    if (node.maxValue) this.limitCheck(state, node, item, node.maxValue, false);
  }

  private limitCheck(state: State, node: ProfileNode, item: Item, limit: TypedConstant, isMin: boolean): void {
    const cmp = compareToLimit(item.value, item.type ?? node.types[0]?.code, limit);
    if (cmp === undefined) {
      return;
    }
    if ((isMin && cmp < 0) || (!isMin && cmp > 0)) {
      this.push(
        state,
        node,
        'error',
        'value',
        'profile',
        segmentsOf(item),
        `Value at {path} is ${isMin ? 'below the minimum' : 'above the maximum'} the profile allows (${describeLimit(limit)})`,
        `${isMin ? 'minValue' : 'maxValue'} (${limit.type})`,
      );
    }
  }

  private targetCheck(state: State, node: ProfileNode, item: Item, reference: string): void {
    const allowed = node.targetTypes as readonly string[];
    let type: string | undefined;
    if (reference.startsWith('#')) {
      const contained = Array.isArray(state.resource.contained) ? state.resource.contained : [];
      const found = contained.find((c) => isObject(c) && c.id === reference.slice(1));
      type = isObject(found) && typeof found.resourceType === 'string' ? found.resourceType : undefined;
    } else {
      const target = referenceTarget(reference, this.ctx.bundleTypes);
      type = target.kind === 'type' ? target.type : undefined;
    }
    if (type && !allowed.includes(type)) {
      const profiles = node.targetProfiles ?? [];
      this.push(
        state,
        node,
        'error',
        'structure',
        'reference',
        segmentsOf(item),
        `Reference at {path} points to ${withArticle(type)}; the profile allows only ${allowed.join(', ')}${profiles.some((p) => !p.startsWith(BASE_SD)) ? ` (${profiles.join(', ')})` : ''}`,
        `reference target types ${allowed.join(' | ')}`,
      );
    }
  }

  private typeProfileCheck(state: State, node: ProfileNode, item: Item): void {
    const value = item.value as Record<string, unknown>;
    const candidates = (node.typeProfiles ?? [])
      .map((url) => ({ url, profile: this.ctx.profile(url) }))
      .filter((c) => typeof value.resourceType !== 'string' || !c.profile || c.profile.type === value.resourceType);
    if (candidates.length === 0) {
      return;
    }
    const missing = candidates.filter((c) => !c.profile);
    if (missing.length === candidates.length) {
      this.push(
        state,
        node,
        'error',
        'not-found',
        'profile',
        segmentsOf(item),
        `Profile ${missing.map((m) => m.url).join(', ')} required for {path} is not available, so the value cannot be checked against it (load it with --ig)`,
        'type profile',
      );
      return;
    }
    const results: RawIssue[][] = [];
    for (const c of candidates) {
      if (!c.profile || state.active.has(c.profile.url)) {
        continue;
      }
      const sub = new ProfileWalker(this.ctx);
      if (typeof value.resourceType === 'string') {
        sub.run(c.profile, value, segmentsOf(item), state.active);
      } else {
        const inner: State = { ...state, profile: c.profile, active: new Set([...state.active, c.profile.url]) };
        sub.node(inner, c.profile.root, item);
      }
      const errors = sub.issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
      if (errors.length === 0) {
        this.issues.push(...sub.issues);
        return;
      }
      results.push(sub.issues);
    }
    if (results.length === 1) {
      this.issues.push(...results[0]);
    } else if (results.length > 1) {
      this.push(
        state,
        node,
        'error',
        'structure',
        'profile',
        segmentsOf(item),
        `Value at {path} conforms to none of the profiles ${candidates.map((c) => c.url).join(', ')}`,
        'type profiles',
      );
    }
  }

  private invariant(state: State, node: ProfileNode, item: Item, inv: ProfileNode['invariants'][number]): void {
    if (!inv.atom) {
      this.push(
        state,
        node,
        'information',
        'informational',
        'other',
        segmentsOf(item),
        `Invariant ${inv.key} could not be parsed; it was not checked at {path}`,
        ruleOf(inv),
      );
      return;
    }
    let ok = inv.fast ? evaluateFast(inv.fast, item.value, item.type, state.resource, state.rootResource) : undefined;
    if (ok === undefined) {
      const typed = typedOf(item) ?? (item.type ? { type: item.type, value: item.value } : undefined);
      if (!typed) {
        return;
      }
      try {
        const out = evalFhirPathTyped(inv.atom, [typed], {
          '%context': typed,
          '%resource': state.resourceTyped,
          '%rootResource': state.rootTyped,
          '%ucum': { type: 'string', value: UCUM },
        });
        ok = out.length === 1 && out[0].value === true;
      } catch {
        this.push(
          state,
          node,
          'information',
          'informational',
          'other',
          segmentsOf(item),
          `Invariant ${inv.key} could not be evaluated at {path}; it was not checked`,
          ruleOf(inv),
        );
        return;
      }
    }
    if (!ok) {
      this.push(
        state,
        node,
        inv.severity,
        'invariant',
        'invariant',
        segmentsOf(item),
        `Constraint ${inv.key} failed at {path}: ${inv.human}`,
        ruleOf(inv),
      );
    }
  }
}

function describeLimit(limit: TypedConstant): string {
  const v = limit.value;
  if (isObject(v)) {
    return `${String(v.value ?? '')} ${String(v.code ?? v.unit ?? '')}`.trim();
  }
  return String(v);
}

/** Canonical value of a UCUM quantity, or undefined when the unit is not in the table. */
function ucumValue(q: Record<string, unknown>): { base: string; value: number } | undefined {
  const code = typeof q.code === 'string' ? q.code : undefined;
  if (typeof q.value !== 'number' || !code || (q.system !== undefined && q.system !== UCUM)) {
    return undefined;
  }
  const unit = UCUM_UNITS[code];
  return unit ? { base: unit[0], value: q.value * unit[1] } : undefined;
}

/** Add a UCUM duration to a time (calendar years and months for `a` and `mo`). */
function shift(from: Date, amount: number, code: string): Date | undefined {
  const d = new Date(from.getTime());
  switch (code) {
    case 'a':
      d.setUTCFullYear(d.getUTCFullYear() + amount);
      return d;
    case 'mo':
      d.setUTCMonth(d.getUTCMonth() + amount);
      return d;
    default: {
      const unit = UCUM_UNITS[code];
      return unit && unit[0] === 's' ? new Date(d.getTime() + amount * unit[1] * 1000) : undefined;
    }
  }
}

/** Sign of (value - limit), or undefined when they cannot be compared. */
function compareToLimit(value: unknown, type: string | undefined, limit: TypedConstant): number | undefined {
  const l = limit.value;
  if (typeof value === 'number' && typeof l === 'number') {
    return Math.sign(value - l);
  }
  if (typeof value === 'string' && typeof l === 'string' && /^\d{4}/.test(value)) {
    const a = Date.parse(value.length === 4 ? `${value}-01-01` : value.length === 7 ? `${value}-01` : value);
    const b = Date.parse(l.length === 4 ? `${l}-01-01` : l.length === 7 ? `${l}-01` : l);
    return Number.isNaN(a) || Number.isNaN(b) ? undefined : Math.sign(a - b);
  }
  if (typeof value === 'string' && isObject(l) && limit.type === 'Duration' && /^\d{4}/.test(value)) {
    // A date limit relative to now: minValueDuration = now - duration, maxValueDuration = now + duration.
    const amount = typeof l.value === 'number' ? l.value : undefined;
    const code = typeof l.code === 'string' ? l.code : undefined;
    if (amount === undefined || !code) return undefined;
    const t = Date.parse(value.length === 4 ? `${value}-01-01` : value.length === 7 ? `${value}-01` : value);
    if (Number.isNaN(t)) return undefined;
    return compareRelative(t, new Date(), amount, code);
  }
  if (isObject(value) && isObject(l) && (type === 'Quantity' || typeof value.value === 'number')) {
    if (typeof value.value !== 'number' || typeof l.value !== 'number') return undefined;
    if (value.code === l.code && (value.system ?? UCUM) === (l.system ?? UCUM)) {
      return Math.sign(value.value - l.value);
    }
    const a = ucumValue(value);
    const b = ucumValue(l);
    return a && b && a.base === b.base ? Math.sign(a.value - b.value) : undefined;
  }
  return undefined;
}

/**
 * A date against limits relative to now: -1 when before now - duration (fails a minValueDuration),
 * +1 when after now + duration (fails a maxValueDuration), 0 in between.
 */
function compareRelative(t: number, now: Date, amount: number, code: string): number | undefined {
  const earliest = shift(now, -amount, code);
  const latest = shift(now, amount, code);
  if (!earliest || !latest) return undefined;
  if (t < earliest.getTime()) return -1;
  if (t > latest.getTime()) return 1;
  return 0;
}
