import type { ElementIndex, ElementInfo } from './element-index';
import type { Segments } from './issues';
import { isObject } from './common';

/** A JSON location rendered as FHIRPath, with what the index knows about it. */
export interface Location {
  /** e.g. `Bundle.entry[2].resource.collection.bodySite.coding[0].code`, `Observation.value.ofType(Quantity)`. */
  readonly path: string;
  /** The element at the location (undefined for unknown properties and the root). */
  readonly element?: ElementInfo;
  /** Concrete FHIR type at the location, when known. */
  readonly type?: string;
  /** Index path of the element's parent (e.g. `Specimen.collection`), when known. */
  readonly parentPath?: string;
}

/**
 * Render a JSON location as FHIRPath: choice elements as `name.ofType(Type)`, array items with
 * their index, primitive extensions (`_status`) at the primitive (`status`), nested resources
 * (`contained`, `Bundle.entry.resource`) continue with the nested resource's own type.
 */
export function locate(index: ElementIndex, root: unknown, segments: Segments): Location {
  const rootType = isObject(root) && typeof root.resourceType === 'string' ? root.resourceType : 'Resource';
  let path = rootType;
  let container: string | undefined = rootType;
  let value: unknown = root;
  let element: ElementInfo | undefined;
  let type: string | undefined = rootType;
  let parentPath: string | undefined;
  for (const seg of segments) {
    if (typeof seg === 'number') {
      path += `[${seg}]`;
      value = Array.isArray(value) ? value[seg] : undefined;
      if (type === 'Resource' && isObject(value) && typeof value.resourceType === 'string') {
        container = value.resourceType;
      }
      continue;
    }
    const extension = seg.startsWith('_');
    const key = extension ? seg.slice(1) : seg;
    const resolved = container ? index.resolveChild(container, key) : undefined;
    value = isObject(value) ? value[seg] : undefined;
    if (!resolved) {
      path += `.${seg}`;
      parentPath = container;
      container = undefined;
      element = undefined;
      type = undefined;
      continue;
    }
    parentPath = container;
    element = resolved.element;
    type = extension ? 'Element' : resolved.type;
    path +=
      resolved.element.choice && resolved.type
        ? `.${resolved.element.name}.ofType(${resolved.type})`
        : `.${resolved.element.name}`;
    if (extension) {
      container = 'Element';
    } else if (type === 'Resource') {
      container = isObject(value) && typeof value.resourceType === 'string' ? value.resourceType : undefined;
    } else {
      container = index.containerOf(resolved.element, type);
    }
  }
  return { path, element, type, parentPath };
}

/**
 * Turn a @medplum/core issue expression (`Bundle.entry[0].resource.value[x].code`) into JSON
 * segments, resolving `[x]` against the instance. Undefined when it does not start at the root.
 */
export function medplumPathToSegments(index: ElementIndex, root: unknown, expression: string): Segments | undefined {
  if (!isObject(root)) {
    return undefined;
  }
  const parts = expression.split('.');
  const rootType = root.resourceType as string;
  if (parts[0] !== rootType) {
    // Relative expressions (Medplum reports some warnings as a bare property name).
    if (parts.length === 1 && /^[a-z_]/.test(parts[0]) && parts[0] in root) {
      return [parts[0]];
    }
    return undefined;
  }
  const segments: (string | number)[] = [];
  let value: unknown = root;
  let container: string | undefined = rootType;
  for (const part of parts.slice(1)) {
    const m = /^([^[]+)((?:\[(?:\d+|x)\])*)$/.exec(part);
    if (!m) {
      return undefined;
    }
    let key = m[1];
    const brackets = m[2];
    const isChoice = brackets.startsWith('[x]');
    if (isChoice) {
      if (!isObject(value) || !container) {
        return undefined;
      }
      const found = Object.keys(value).find((k) => {
        const r = index.resolveChild(container as string, k);
        return r?.element.choice && r.element.name === key;
      });
      if (!found) {
        segments.push(`${key}[x]`);
        return segments;
      }
      key = found;
    }
    segments.push(key);
    const resolved = container ? index.resolveChild(container, key.replace(/^_/, '')) : undefined;
    value = isObject(value) ? value[key] : undefined;
    container = resolved ? index.containerOf(resolved.element, resolved.type) : undefined;
    for (const idx of brackets.matchAll(/\[(\d+)\]/g)) {
      const n = Number(idx[1]);
      segments.push(n);
      value = Array.isArray(value) ? value[n] : undefined;
    }
    if (resolved?.type === 'Resource') {
      container = isObject(value) && typeof value.resourceType === 'string' ? value.resourceType : undefined;
    }
  }
  return segments;
}

/** Decode an ajv instancePath (JSON pointer) into segments, using the instance to tell indexes from keys. */
export function pointerToSegments(root: unknown, pointer: string): (string | number)[] {
  if (pointer === '') {
    return [];
  }
  const out: (string | number)[] = [];
  let value: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(value) && /^\d+$/.test(key)) {
      const n = Number(key);
      out.push(n);
      value = value[n];
    } else {
      out.push(key);
      value = isObject(value) ? value[key] : undefined;
    }
  }
  return out;
}
