/**
 * Unfold extension slices in snapshots.
 *
 * SUSHI's snapshot shows an extension slice (e.g. `Procedure.bodySite.extension:laterality`) as one element whose
 * type names the extension's profile; it does not copy the extension's own elements under the slice. @medplum/core
 * matches extension slices by `<slice>.url` (discriminator value:url), so without those children no extension ever
 * matches its slice (stack-notes.md). This copies the extension definition's snapshot elements (url with its
 * fixedUri, value[x] with its type and binding, …) under every extension slice that has none.
 */
import type { FhirJson } from './run-sushi';

interface ElementDefinition {
  id: string;
  path: string;
  sliceName?: string;
  type?: { code: string; profile?: string[] }[];
  fixedUri?: string;
  [key: string]: unknown;
}

interface StructureDefinitionJson extends FhirJson {
  snapshot?: { element: ElementDefinition[] };
}

export interface UnfoldStats {
  /** `<profile id>: <slice element id> <- <extension url>` for each unfolded slice. */
  unfolded: string[];
}

function isExtensionSlice(e: ElementDefinition): boolean {
  return (
    !!e.sliceName && (e.type?.length ?? 0) === 1 && e.type?.[0].code === 'Extension' && !!e.type[0].profile?.length
  );
}

/**
 * Unfold the extension slices of every StructureDefinition in `resources` (in place).
 * @param resources - the SUSHI output; extension definitions are looked up among them first
 * @param lookupExtension - resolves an extension url that is not in `resources` (e.g. a core extension)
 */
export function unfoldExtensionSlices(
  resources: FhirJson[],
  lookupExtension: (url: string) => StructureDefinitionJson | undefined = () => undefined,
): UnfoldStats {
  const byUrl = new Map<string, StructureDefinitionJson>();
  for (const r of resources) {
    if (r.resourceType === 'StructureDefinition' && r.url) byUrl.set(r.url, r as StructureDefinitionJson);
  }
  const stats: UnfoldStats = { unfolded: [] };
  for (const r of resources) {
    if (r.resourceType !== 'StructureDefinition') continue;
    const sd = r as StructureDefinitionJson;
    const elements = sd.snapshot?.element;
    if (!elements) continue;
    const out: ElementDefinition[] = [];
    for (let i = 0; i < elements.length; i++) {
      const e = elements[i];
      out.push(e);
      if (!isExtensionSlice(e)) continue;
      const next = elements[i + 1];
      if (next && next.id.startsWith(e.id + '.')) continue; // already unfolded
      const url = e.type![0].profile![0];
      const ext = byUrl.get(url) ?? lookupExtension(url);
      const extElements = ext?.snapshot?.element;
      if (!extElements || extElements[0]?.path !== 'Extension') {
        throw new Error(`${sd.id}: cannot unfold ${e.id}: no snapshot for extension ${url}`);
      }
      for (const child of extElements.slice(1)) {
        const copy = structuredClone(child) as ElementDefinition;
        copy.id = e.id + child.id.slice('Extension'.length);
        copy.path = e.path + child.path.slice('Extension'.length);
        if (child.path === 'Extension.url') copy.fixedUri = url;
        out.push(copy);
      }
      stats.unfolded.push(`${sd.id}: ${e.id} <- ${url}`);
    }
    sd.snapshot!.element = out;
  }
  return stats;
}
