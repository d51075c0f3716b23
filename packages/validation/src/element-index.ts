import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';

/** One element of a snapshot, reduced to what the validator needs. */
export interface ElementInfo {
  /** Snapshot path, e.g. `Observation.value[x]`. */
  readonly path: string;
  /** Last path segment without `[x]`, e.g. `value`. */
  readonly name: string;
  readonly choice: boolean;
  /** Type codes (FHIRPath system types normalised to FHIR primitive names). */
  readonly types: readonly TypeRef[];
  readonly min: number;
  readonly max: number;
  /** True when the JSON form is an array (base max is not `1`). */
  readonly isArray: boolean;
  /** Path the element's content is defined at (`#Questionnaire.item` → `Questionnaire.item`). */
  readonly contentReference?: string;
  readonly binding?: { readonly strength: string; readonly valueSet?: string };
}

export interface TypeRef {
  readonly code: string;
  readonly profile?: readonly string[];
  readonly targetProfile?: readonly string[];
}

/** A JSON key resolved against the element index. */
export interface ResolvedChild {
  readonly element: ElementInfo;
  /** The concrete type: the choice suffix for `value[x]`, else the single declared type. */
  readonly type?: string;
}

const SYSTEM_TYPES: Record<string, string> = {
  'http://hl7.org/fhirpath/System.String': 'string',
  'http://hl7.org/fhirpath/System.Boolean': 'boolean',
  'http://hl7.org/fhirpath/System.Integer': 'integer',
  'http://hl7.org/fhirpath/System.Decimal': 'decimal',
  'http://hl7.org/fhirpath/System.Date': 'date',
  'http://hl7.org/fhirpath/System.DateTime': 'dateTime',
  'http://hl7.org/fhirpath/System.Time': 'time',
};

/** On System.* types, names the FHIR type (e.g. `id` for Resource.id). */
const FHIR_TYPE_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';

/** FHIR primitive types (JSON scalars). */
export const PRIMITIVE_TYPES: ReadonlySet<string> = new Set([
  'base64Binary',
  'boolean',
  'canonical',
  'code',
  'date',
  'dateTime',
  'decimal',
  'id',
  'instant',
  'integer',
  'markdown',
  'oid',
  'positiveInt',
  'string',
  'time',
  'unsignedInt',
  'uri',
  'url',
  'uuid',
  'xhtml',
]);

function upperFirst(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

const PRIMITIVE_BY_SUFFIX: ReadonlyMap<string, string> = new Map([...PRIMITIVE_TYPES].map((t) => [upperFirst(t), t]));

/** `Quantity` → Quantity, `DateTime` → dateTime (the choice suffix of a JSON key as a type code). */
export function typeOfSuffix(suffix: string): string {
  return PRIMITIVE_BY_SUFFIX.get(suffix) ?? suffix; // a lookup: no lower-cased copy per key
}

function parseMax(max: string | undefined): number {
  if (max === undefined || max === '*') {
    return Infinity;
  }
  const n = Number(max);
  return Number.isFinite(n) ? n : Infinity;
}

/**
 * Path-keyed index of StructureDefinition snapshots (base R4 types and resources; later also
 * profiles). It answers "what is JSON key k inside the element at path p", including choice
 * types, which is what both the instance walker and the FHIRPath location builder need.
 */
export class ElementIndex {
  private readonly children = new Map<string, Map<string, ElementInfo>>();
  private readonly byPath = new Map<string, ElementInfo>();
  private readonly withChildren = new Set<string>();
  private readonly resourceTypes = new Set<string>();
  private readonly dataTypes = new Set<string>();
  /** Container path → JSON key → resolution (filled lazily). */
  private readonly resolved = new Map<string, Map<string, ResolvedChild>>();

  /**
   * @param sds - specialization StructureDefinitions (types and resources) with snapshots.
   * @param excludedPaths - element paths to leave out (non-R4 additions in the source bundles).
   * @param excludedTypes - type names to leave out.
   */
  constructor(
    sds: readonly StructureDefinition[],
    excludedPaths: ReadonlySet<string> = new Set(),
    excludedTypes: ReadonlySet<string> = new Set(),
  ) {
    for (const sd of sds) {
      if (sd.derivation === 'constraint' || !sd.snapshot?.element || !sd.type || excludedTypes.has(sd.type)) {
        continue;
      }
      if (sd.kind === 'resource' && !sd.abstract) {
        this.resourceTypes.add(sd.type);
      } else if (sd.kind === 'complex-type' || sd.kind === 'primitive-type') {
        this.dataTypes.add(sd.type);
      }
      for (const ed of sd.snapshot.element) {
        if (ed.path && !excludedPaths.has(ed.path) && !ed.sliceName && !ed.id?.includes(':')) {
          this.add(ed, sd.kind === 'resource');
        }
      }
    }
  }

  private add(ed: ElementDefinition, inResource: boolean): void {
    const path = ed.path as string;
    const dot = path.lastIndexOf('.');
    if (dot < 0) {
      return;
    }
    const parent = path.slice(0, dot);
    const last = path.slice(dot + 1);
    const choice = last.endsWith('[x]');
    const baseMax = ed.base?.max ?? ed.max;
    let info: ElementInfo = {
      path,
      name: choice ? last.slice(0, -3) : last,
      choice,
      types: (ed.type ?? []).map((t) => ({
        code:
          t.extension?.find((x) => x.url === FHIR_TYPE_EXTENSION)?.valueUrl ??
          SYSTEM_TYPES[t.code as string] ??
          (t.code as string),
        profile: t.profile,
        targetProfile: t.targetProfile,
      })),
      min: ed.min ?? 0,
      max: parseMax(ed.max),
      isArray: baseMax !== '1' && baseMax !== '0',
      contentReference: ed.contentReference?.startsWith('#') ? ed.contentReference.slice(1) : undefined,
      binding: ed.binding ? { strength: ed.binding.strength as string, valueSet: ed.binding.valueSet } : undefined,
    };
    if (inResource && last === 'id' && !parent.includes('.')) {
      // R4 snapshots type Resource.id as System.String/string, but the specification (and the
      // reference validator) hold it to the id rules.
      info = { ...info, types: [{ code: 'id' }] };
    }
    this.byPath.set(path, info);
    this.withChildren.add(parent);
    let map = this.children.get(parent);
    if (!map) {
      map = new Map();
      this.children.set(parent, map);
    }
    map.set(info.name, info);
  }

  isResourceType(type: string): boolean {
    return this.resourceTypes.has(type);
  }

  allResourceTypes(): ReadonlySet<string> {
    return this.resourceTypes;
  }

  isDataType(type: string): boolean {
    return this.dataTypes.has(type);
  }

  element(path: string): ElementInfo | undefined {
    return this.byPath.get(path);
  }

  /** All elements (used to find the bindings to expand at load time). */
  elements(): IterableIterator<ElementInfo> {
    return this.byPath.values();
  }

  /** Resolve JSON key `key` (without a leading `_`) inside the element/type at `containerPath`. */
  resolveChild(containerPath: string, key: string): ResolvedChild | undefined {
    return this.childKeys(containerPath).get(key);
  }

  /** Every JSON key (without a leading `_`) the element/type at `containerPath` admits, resolved. */
  childKeys(containerPath: string): ReadonlyMap<string, ResolvedChild> {
    let keys = this.resolved.get(containerPath);
    if (!keys) {
      keys = this.keysOf(containerPath);
      this.resolved.set(containerPath, keys);
    }
    return keys;
  }

  /** Every JSON key a container admits (choice elements expanded per type), built once per container. */
  private keysOf(containerPath: string): Map<string, ResolvedChild> {
    const keys = new Map<string, ResolvedChild>();
    for (const el of this.children.get(containerPath)?.values() ?? []) {
      if (el.choice) {
        for (const t of el.types) {
          const key = el.name + upperFirst(t.code);
          if (!keys.has(key)) {
            keys.set(key, { element: el, type: t.code });
          }
        }
      } else {
        keys.set(el.name, { element: el, type: el.types.length === 1 ? el.types[0].code : undefined });
      }
    }
    return keys;
  }

  /**
   * Where the children of a value of element `el` (with concrete type `type`) are defined:
   * the element's own path for backbone elements, the referenced path for contentReference,
   * otherwise the data type's name.
   */
  containerOf(el: ElementInfo, type: string | undefined): string | undefined {
    if (el.contentReference) {
      return el.contentReference;
    }
    if ((type === 'BackboneElement' || type === 'Element') && this.withChildren.has(el.path)) {
      return el.path;
    }
    return type;
  }
}
