import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';
import corrections from './extension-context-corrections.json';

const CONTEXT_ADDITIONS: Record<string, string[]> = corrections.additions;
const CROSS_VERSION_TYPES: Record<string, string[] | string> = corrections.crossVersionTypes;

/** What the validator needs from an extension definition. */
export interface ExtensionDefinition {
  readonly url: string;
  readonly title: string;
  /** Context expressions of type `element` (R4 core extensions only use that type). */
  readonly contexts: readonly string[];
  /** Allowed value[x] types; empty for a complex extension (value[x] max 0). */
  readonly valueTypes: readonly string[];
  readonly complex: boolean;
  readonly modifier: boolean;
}

/** Where an extension is used: the element holding the `extension` array. */
export interface ExtensionHost {
  /** Definition path of the holding element (`Patient.name`, `HumanName.family`), or the resource type at a root. */
  readonly elementPath: string;
  /** FHIR type of the holding element (`HumanName`, `date`, `Patient`, `BackboneElement`). */
  readonly type: string;
  readonly isResource: boolean;
}

const QUANTITY_FAMILY: ReadonlySet<string> = new Set([
  'Quantity',
  'Age',
  'Count',
  'Distance',
  'Duration',
  'MoneyQuantity',
  'SimpleQuantity',
]);

/** True when the extension may be used at `host` according to its `element` contexts. */
export function contextAllows(def: ExtensionDefinition, host: ExtensionHost): boolean {
  if (def.contexts.length === 0) {
    return true;
  }
  return def.contexts.some((expr) => {
    if (expr === 'Element' || expr === host.type || expr === host.elementPath) {
      return true;
    }
    if ((expr === 'Resource' || expr === 'DomainResource') && host.isResource) {
      return true;
    }
    const crossVersion = CROSS_VERSION_TYPES[expr];
    if (Array.isArray(crossVersion) && host.isResource && crossVersion.includes(host.type)) {
      return true;
    }
    return expr === 'Quantity' && QUANTITY_FAMILY.has(host.type);
  });
}

/** Extension definitions by URL (base R4's extension-definitions bundle; later also project extensions). */
export class ExtensionRegistry {
  private readonly byUrl = new Map<string, ExtensionDefinition>();

  /** @param parent - registry consulted for URLs this one does not define (base R4 under project extensions). */
  constructor(private readonly parent?: ExtensionRegistry) {}

  addBundle(bundle: Bundle): void {
    for (const entry of bundle.entry ?? []) {
      const sd = entry.resource;
      if (sd?.resourceType === 'StructureDefinition' && sd.type === 'Extension' && sd.url && sd.snapshot?.element) {
        this.add(sd);
      }
    }
  }

  add(sd: StructureDefinition): void {
    const elements = sd.snapshot?.element ?? [];
    const value = elements.find((e) => e.id === 'Extension.value[x]');
    const complex = value?.max === '0';
    this.byUrl.set(sd.url as string, {
      url: sd.url as string,
      title: sd.title ?? sd.name ?? (sd.url as string),
      contexts: [
        ...(sd.context ?? []).filter((c) => c.type === 'element').map((c) => c.expression as string),
        ...(CONTEXT_ADDITIONS[sd.url as string] ?? []),
      ],
      valueTypes: complex ? [] : (value?.type ?? []).map((t) => t.code as string),
      complex,
      modifier: elements[0]?.isModifier === true,
    });
  }

  get(url: string): ExtensionDefinition | undefined {
    return this.byUrl.get(url) ?? this.parent?.get(url);
  }

  /** Definitions held by this registry (not counting the parent's). */
  get size(): number {
    return this.byUrl.size;
  }
}
