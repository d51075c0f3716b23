import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';
import { BASE_SD } from './common';

/**
 * In-house snapshot generation for StructureDefinitions that only carry a differential (what
 * an engineer's own profiles often are): the differential is applied onto the snapshot of the
 * base definition. Covered: cardinality, fixed/pattern values, bindings, type narrowing
 * (including `value[x]` renamed as `valueQuantity`), constraints, slicing and slices (copied
 * from the sliced element), elements inside data types (expanded from the type's own snapshot
 * or from a type profile), contentReference elements. What cannot be applied is reported, never
 * silently dropped.
 */

export interface SnapshotProblem {
  readonly severity: 'error' | 'warning';
  /** Element id of the differential element concerned, when there is one. */
  readonly element?: string;
  readonly message: string;
}

export interface SnapshotResult {
  /** The StructureDefinition with a snapshot (a copy: the input is not modified). */
  readonly sd: StructureDefinition;
  readonly problems: SnapshotProblem[];
}

/** Finds a StructureDefinition (with a snapshot) by canonical URL, or undefined. */
export type SnapshotResolver = (url: string) => StructureDefinition | undefined;

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function upperFirst(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Split an element id into its dot-separated segments (slice names do not contain dots). */
function segmentsOf(id: string): string[] {
  return id.split('.');
}

/**
 * Give every element an id (older definitions only have paths): the path with each segment
 * that is inside a slice carrying `:sliceName`, as the FHIR id rules say.
 */
export function ensureIds(elements: ElementDefinition[]): ElementDefinition[] {
  const activeSlices = new Map<string, string>();
  for (const e of elements) {
    if (!e.path) {
      continue;
    }
    if (e.id) {
      continue;
    }
    const segs = e.path.split('.');
    if (e.sliceName) {
      activeSlices.set(e.path, e.sliceName);
      for (const k of [...activeSlices.keys()]) {
        if (k.startsWith(`${e.path}.`)) {
          activeSlices.delete(k);
        }
      }
    } else if (activeSlices.has(e.path)) {
      activeSlices.delete(e.path);
    }
    const parts: string[] = [];
    for (let i = 0; i < segs.length; i++) {
      const prefix = segs.slice(0, i + 1).join('.');
      const slice = i === segs.length - 1 ? (e.sliceName ?? activeSlices.get(prefix)) : activeSlices.get(prefix);
      parts.push(slice ? `${segs[i]}:${slice}` : segs[i]);
    }
    e.id = parts.join('.');
  }
  return elements;
}

/** Apply a differential onto its base snapshot. */
export function generateSnapshot(sd: StructureDefinition, resolve: SnapshotResolver): SnapshotResult {
  const problems: SnapshotProblem[] = [];
  const baseUrl = sd.baseDefinition ?? (sd.type ? `${BASE_SD}${sd.type}` : undefined);
  let base = baseUrl ? resolve(baseUrl) : undefined;
  if (!base?.snapshot?.element?.length && sd.type && baseUrl !== `${BASE_SD}${sd.type}`) {
    problems.push({
      severity: 'warning',
      message: `base definition ${baseUrl ?? '(none)'} is not available; the differential is applied onto the core definition of ${sd.type}`,
    });
    base = resolve(`${BASE_SD}${sd.type}`);
  }
  if (!base?.snapshot?.element?.length) {
    problems.push({
      severity: 'error',
      message: `base definition ${baseUrl ?? '(none)'} is not available, so no snapshot could be generated`,
    });
    return { sd, problems };
  }
  const baseElements = ensureIds(clone(base.snapshot.element));
  const gen = new Generator(clone(baseElements), baseElements, resolve, problems);
  for (const d of ensureIds(clone(sd.differential?.element ?? []))) {
    gen.apply(d);
  }
  return { sd: { ...sd, snapshot: { element: gen.elements } }, problems };
}

class Generator {
  constructor(
    readonly elements: ElementDefinition[],
    /** The base snapshot as it was (content references are expanded from it, not from the profile's changes). */
    private readonly baseElements: readonly ElementDefinition[],
    private readonly resolve: SnapshotResolver,
    private readonly problems: SnapshotProblem[],
  ) {}

  private indexOf(id: string): number {
    return this.elements.findIndex((e) => e.id === id);
  }

  apply(d: ElementDefinition): void {
    const id = this.normalize(d.id as string);
    if (!id) {
      this.problems.push({
        severity: 'error',
        element: d.id,
        message: `differential element ${d.id} does not match any element of the base definition; it was not applied`,
      });
      return;
    }
    const i = this.ensure(id);
    if (i < 0) {
      this.problems.push({
        severity: 'error',
        element: d.id,
        message: `differential element ${d.id} could not be placed in the snapshot; it was not applied`,
      });
      return;
    }
    this.merge(this.elements[i], d);
  }

  /**
   * Map a differential id onto snapshot ids: a concrete choice name (`valueQuantity`) becomes
   * `value[x]` when that is its only type, else the type slice `value[x]:valueQuantity`.
   */
  private normalize(id: string): string | undefined {
    const segs = segmentsOf(id);
    let current = segs[0];
    if (this.elements[0]?.id !== current) {
      // A differential written for the type (`Patient.x`) on a base whose root id differs cannot occur
      // for constraints; be lenient and re-root it.
      current = this.elements[0]?.id as string;
    }
    for (const seg of segs.slice(1)) {
      const candidate = `${current}.${seg}`;
      if (this.ensure(candidate) >= 0) {
        current = candidate;
        continue;
      }
      const [name] = seg.split(':');
      const choice = this.elements.find(
        (e) =>
          e.id?.startsWith(`${current}.`) &&
          e.id.slice(current.length + 1).endsWith('[x]') &&
          !e.id.slice(current.length + 1).includes('.') &&
          !e.id.slice(current.length + 1).includes(':') &&
          name.startsWith(e.id.slice(current.length + 1, -3)),
      );
      if (!choice) {
        return undefined;
      }
      const choiceName = (choice.id as string).slice(current.length + 1, -3);
      const typeName = name.slice(choiceName.length);
      const type = (choice.type ?? []).find((t) => upperFirst(t.code as string) === typeName);
      if (!type) {
        return undefined;
      }
      if ((choice.type ?? []).length === 1) {
        current = choice.id as string;
      } else {
        current = `${choice.id as string}:${name}`;
        this.ensure(current);
      }
    }
    return current;
  }

  /** Index of the element with this id, creating it (slice or data type children) when needed; -1 if impossible. */
  private ensure(id: string): number {
    const found = this.indexOf(id);
    if (found >= 0) {
      return found;
    }
    const segs = segmentsOf(id);
    if (segs.length < 2) {
      return -1;
    }
    const parentId = segs.slice(0, -1).join('.');
    const last = segs[segs.length - 1];
    const colon = last.indexOf(':');
    if (colon > 0) {
      return this.addSlice(`${parentId}.${last.slice(0, colon)}`, last.slice(colon + 1));
    }
    const pi = this.ensure(parentId);
    if (pi < 0) {
      return -1;
    }
    if (!this.expandChildren(pi)) {
      return -1;
    }
    return this.indexOf(id);
  }

  /** End (exclusive) of the element at `i` and everything below it, its slices included. */
  private subtreeEnd(i: number): number {
    const id = this.elements[i].id as string;
    let j = i + 1;
    while (j < this.elements.length) {
      const other = this.elements[j].id as string;
      if (!other.startsWith(`${id}.`) && !other.startsWith(`${id}:`)) {
        break;
      }
      j++;
    }
    return j;
  }

  private addSlice(slicedId: string, sliceName: string): number {
    if (sliceName.includes('/')) {
      this.problems.push({
        severity: 'warning',
        element: `${slicedId}:${sliceName}`,
        message: 're-slicing is not supported by the snapshot generator; the re-slice is treated as a slice',
      });
    }
    const si = this.ensure(slicedId);
    if (si < 0) {
      return -1;
    }
    const sliced = this.elements[si];
    // The sliced element and its own children (not its existing slices) are the template of the new slice.
    const template: ElementDefinition[] = [sliced];
    for (let j = si + 1; j < this.elements.length; j++) {
      const other = this.elements[j].id as string;
      if (!other.startsWith(`${slicedId}.`)) {
        break;
      }
      template.push(this.elements[j]);
    }
    const newId = `${slicedId}:${sliceName}`;
    const copies = template.map((e, k) => {
      const c = clone(e);
      c.id = newId + (e.id as string).slice(slicedId.length);
      if (k === 0) {
        c.sliceName = sliceName;
        delete c.slicing;
        // The sliced element's minimum applies to all its values together; a slice starts optional.
        c.min = 0;
      }
      return c;
    });
    const choiceName = (sliced.path ?? '').endsWith('[x]')
      ? (sliced.path as string).split('.').pop()?.slice(0, -3)
      : '';
    if (choiceName && sliceName.startsWith(choiceName)) {
      // A type slice of a choice element (`value[x]:valueQuantity`): only that type.
      const typeName = sliceName.slice(choiceName.length);
      const only = (sliced.type ?? []).filter((t) => upperFirst(t.code as string) === typeName);
      if (only.length === 1) {
        copies[0].type = only;
      }
      sliced.slicing ??= { discriminator: [{ type: 'type', path: '$this' }], ordered: false, rules: 'open' };
    } else if (!sliced.slicing) {
      this.problems.push({
        severity: 'warning',
        element: newId,
        message: `slice ${sliceName} is defined on ${slicedId}, which has no slicing definition; slice matching by its fixed/pattern values is assumed`,
      });
    }
    const at = this.subtreeEnd(si);
    this.elements.splice(at, 0, ...copies);
    return at;
  }

  /** Insert the children of the element at `i` from its data type (or type profile, or content reference). */
  private expandChildren(i: number): boolean {
    const parent = this.elements[i];
    const pid = parent.id as string;
    if (this.elements[i + 1]?.id?.startsWith(`${pid}.`)) {
      return true; // already expanded: a missing child does not exist
    }
    let source: ElementDefinition[] | undefined;
    let sourceRoot: string | undefined;
    if (parent.contentReference) {
      const ref = parent.contentReference.slice(parent.contentReference.indexOf('#') + 1);
      source = this.baseElements.filter((e) => e.id === ref || e.id?.startsWith(`${ref}.`));
      sourceRoot = ref;
    } else {
      const types = parent.type ?? [];
      if (types.length !== 1) {
        return false;
      }
      const t = types[0];
      const code = t.code as string;
      const profile = t.profile?.[0];
      let typeSd = profile ? this.resolve(profile) : undefined;
      if (profile && !typeSd?.snapshot) {
        this.problems.push({
          severity: 'warning',
          element: pid,
          message: `type profile ${profile} is not available; the children of ${pid} come from the core type ${code}`,
        });
      }
      if (!typeSd?.snapshot) {
        typeSd = this.resolve(`${BASE_SD}${code}`);
      }
      const elements = typeSd?.snapshot?.element;
      if (!elements?.length) {
        return false;
      }
      source = ensureIds(clone(elements));
      sourceRoot = source[0].id as string;
    }
    if (!source || !sourceRoot) {
      return false;
    }
    const root = sourceRoot;
    const children = source
      .filter((e) => e.id !== root)
      .map((e) => {
        const c = clone(e);
        c.id = pid + (e.id as string).slice(root.length);
        c.path = (parent.path as string) + (e.path as string).slice((source?.[0].path ?? root).length);
        return c;
      });
    if (children.length === 0) {
      return false;
    }
    this.elements.splice(i + 1, 0, ...children);
    return true;
  }

  private merge(s: ElementDefinition, d: ElementDefinition): void {
    const target = s as unknown as Record<string, unknown>;
    const source = d as unknown as Record<string, unknown>;
    for (const key of Object.keys(source)) {
      const value = source[key];
      switch (key) {
        case 'id':
        case 'path':
          break;
        case 'constraint': {
          const list = [...(s.constraint ?? [])];
          for (const c of d.constraint ?? []) {
            const at = list.findIndex((x) => x.key === c.key);
            if (at >= 0) {
              list[at] = clone(c);
            } else {
              list.push(clone(c));
            }
          }
          s.constraint = list;
          break;
        }
        case 'condition':
          s.condition = [...new Set([...(s.condition ?? []), ...(d.condition ?? [])])];
          break;
        case 'mapping':
          s.mapping = [...(s.mapping ?? []), ...clone(d.mapping ?? [])];
          break;
        case 'binding':
          s.binding = { ...(s.binding ?? {}), ...clone(d.binding) } as ElementDefinition['binding'];
          break;
        case 'slicing':
          s.slicing = { ...(s.slicing ?? {}), ...clone(d.slicing) } as ElementDefinition['slicing'];
          break;
        case 'type':
          this.checkTypes(s, d);
          s.type = clone(d.type);
          break;
        case 'min':
          if (typeof d.min === 'number' && typeof s.min === 'number' && d.min < s.min) {
            this.problems.push({
              severity: 'warning',
              element: d.id,
              message: `min ${d.min} of ${d.id} is below the base minimum ${s.min}`,
            });
          }
          s.min = d.min;
          break;
        case 'max':
          if (s.max !== undefined && s.max !== '*' && (d.max === '*' || Number(d.max) > Number(s.max))) {
            this.problems.push({
              severity: 'warning',
              element: d.id,
              message: `max ${d.max} of ${d.id} is above the base maximum ${s.max}`,
            });
          }
          s.max = d.max;
          break;
        default:
          if (key.startsWith('fixed') || key.startsWith('pattern')) {
            const baseFixed = Object.keys(target).find((k) => k.startsWith('fixed'));
            if (baseFixed && JSON.stringify(target[baseFixed]) !== JSON.stringify(value)) {
              this.problems.push({
                severity: 'error',
                element: d.id,
                message: `${d.id} changes the value fixed by the base definition (${baseFixed}); a profile can only keep it`,
              });
            }
            for (const k of Object.keys(target)) {
              if (k.startsWith('fixed') || k.startsWith('pattern')) {
                delete target[k];
              }
            }
          }
          target[key] = clone(value);
      }
    }
  }

  private checkTypes(s: ElementDefinition, d: ElementDefinition): void {
    const allowed = new Set((s.type ?? []).map((t) => t.code));
    if (allowed.size === 0 || allowed.has('Resource') || allowed.has('*')) {
      return;
    }
    for (const t of d.type ?? []) {
      if (!allowed.has(t.code)) {
        this.problems.push({
          severity: 'warning',
          element: d.id,
          message: `type ${t.code} of ${d.id} is not one of the base types (${[...allowed].join(', ')})`,
        });
      }
    }
  }
}
