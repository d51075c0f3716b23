import type { ElementInfo } from './element-index';
import { BASE_SD } from './common';

const LITERAL = /(?:^|\/)([A-Z][A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;
const CONDITIONAL = /^([A-Z][A-Za-z]+)\?/;

const targetsCache = new WeakMap<ElementInfo, readonly string[] | null>();

/** The resource types a Reference element may point to; undefined when any type is allowed or the list is unknown. */
export function allowedTargets(el: ElementInfo): readonly string[] | undefined {
  let targets = targetsCache.get(el);
  if (targets === undefined) {
    targets = targetTypesOf(el) ?? null;
    targetsCache.set(el, targets); // asked for every Reference value: work it out once per element
  }
  return targets ?? undefined;
}

function targetTypesOf(el: ElementInfo): readonly string[] | undefined {
  const profiles = el.types.find((t) => t.code === 'Reference')?.targetProfile;
  if (!profiles || profiles.length === 0) {
    return undefined;
  }
  const names: string[] = [];
  for (const p of profiles) {
    if (!p.startsWith(BASE_SD)) {
      return undefined; // a profile (not a base type) as target: judged in the profile step
    }
    const name = p.slice(BASE_SD.length);
    if (name === 'Resource') {
      return undefined;
    }
    names.push(name);
  }
  return names;
}

export type ReferenceTarget =
  | { readonly kind: 'type'; readonly type: string }
  | { readonly kind: 'unresolved-in-bundle' }
  | { readonly kind: 'unknown' };

/**
 * The resource type a (non-local) reference points to: from `Type/id`, an absolute URL ending
 * in `Type/id[/_history/v]`, a conditional reference `Type?search`, or a `urn:` fullUrl of an
 * entry of the enclosing Bundle.
 */
export function referenceTarget(
  reference: string,
  bundleTypes: ReadonlyMap<string, string> | undefined,
): ReferenceTarget {
  if (reference.startsWith('urn:')) {
    if (!bundleTypes) {
      return { kind: 'unknown' };
    }
    const type = bundleTypes.get(reference);
    return type ? { kind: 'type', type } : { kind: 'unresolved-in-bundle' };
  }
  const inBundle = bundleTypes?.get(reference);
  if (inBundle) {
    return { kind: 'type', type: inBundle };
  }
  const conditional = CONDITIONAL.exec(reference);
  if (conditional) {
    return { kind: 'type', type: conditional[1] };
  }
  const literal = LITERAL.exec(reference);
  return literal ? { kind: 'type', type: literal[1] } : { kind: 'unknown' };
}
