/**
 * Readable documentation generated from the compiled StructureDefinitions: one Markdown page per profile and
 * extension listing its rules (what the profile changes from its base), plus an index page.
 */
import type { ExpansionContains } from './expand';
import type { FhirJson } from './run-sushi';

interface TypeRef {
  code: string;
  profile?: string[];
  targetProfile?: string[];
}
interface Constraint {
  key: string;
  severity?: string;
  human?: string;
  expression?: string;
}
interface Element {
  id: string;
  path: string;
  sliceName?: string;
  min?: number;
  max?: string;
  base?: { path: string; min: number; max: string };
  type?: TypeRef[];
  mustSupport?: boolean;
  binding?: { strength: string; valueSet?: string; description?: string };
  constraint?: Constraint[];
  slicing?: {
    discriminator?: { type: string; path: string }[];
    rules?: string;
    ordered?: boolean;
    description?: string;
  };
  [key: string]: unknown;
}
export interface StructureDefinitionJson extends FhirJson {
  name: string;
  title?: string;
  description?: string;
  type: string;
  baseDefinition: string;
  derivation?: string;
  status?: string;
  version?: string;
  context?: { type: string; expression: string }[];
  snapshot: { element: Element[] };
  differential: { element: Element[] };
}

/** One rule of a profile, as listed in its documentation. */
export interface ProfileRule {
  kind: 'cardinality' | 'must-support' | 'fixed' | 'pattern' | 'type' | 'binding' | 'invariant' | 'slice' | 'extension';
  /** Element id (e.g. `Procedure.bodySite`, `ServiceRequest.identifier:placer.type`). */
  element: string;
  /** One line for a person. */
  text: string;
  /** Invariant key, for kind invariant. */
  key?: string;
}

export interface DocsContext {
  /** Conformance resources of the project, by canonical url. */
  byUrl: Map<string, FhirJson>;
  /** ValueSet expansions by url. */
  expansions: Map<string, ExpansionContains[]>;
  /** Base (core) StructureDefinitions by url, for base cardinalities and types. */
  baseSd: (url: string) => StructureDefinitionJson | undefined;
}

const CORE_SD = 'http://hl7.org/fhir/StructureDefinition/';

function shortUrl(url: string, ctx: DocsContext): string {
  if (url.startsWith(CORE_SD)) return url.slice(CORE_SD.length);
  const r = ctx.byUrl.get(url);
  return r ? `${(r.title as string) ?? r.id} (${r.id})` : url;
}

function card(min: number | undefined, max: string | undefined): string {
  return `${min ?? 0}..${max ?? '*'}`;
}

function formatType(t: TypeRef, ctx: DocsContext): string {
  const targets = t.targetProfile?.map((u) => shortUrl(u, ctx));
  const profiles = t.profile?.map((u) => shortUrl(u, ctx));
  if (targets?.length) return `${t.code}(${targets.join(' | ')})`;
  if (profiles?.length) return `${t.code}(${profiles.join(' | ')})`;
  return t.code;
}

function valueKeys(e: Element, prefix: 'fixed' | 'pattern'): [string, unknown][] {
  return Object.entries(e).filter(([k]) => k.startsWith(prefix) && k.length > prefix.length);
}

function json(v: unknown): string {
  return JSON.stringify(v);
}

function code(s: string): string {
  return '`' + s.replace(/`/g, "'") + '`';
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The rules a profile adds to its base, in differential order. */
export function profileRules(sd: StructureDefinitionJson, ctx: DocsContext): ProfileRule[] {
  const rules: ProfileRule[] = [];
  const snap = new Map(sd.snapshot.element.map((e) => [e.id, e]));
  const base = ctx.baseSd(sd.baseDefinition);
  const baseById = new Map((base?.snapshot.element ?? []).map((e) => [e.id, e]));
  for (const d of sd.differential.element) {
    const s = snap.get(d.id) ?? d;
    const id = d.id;
    if (
      d.slicing &&
      !(
        d.slicing.discriminator?.[0]?.path === 'url' &&
        d.slicing.discriminator.length === 1 &&
        id.endsWith('extension')
      )
    ) {
      const disc = (d.slicing.discriminator ?? []).map((x) => `${x.type}:${x.path}`).join(', ');
      rules.push({
        kind: 'slice',
        element: id,
        text: `sliced by ${disc} (${d.slicing.rules ?? 'open'})${d.slicing.description ? ': ' + d.slicing.description : ''}`,
      });
    }
    const isExtSlice =
      !!d.sliceName && s.type?.length === 1 && s.type[0].code === 'Extension' && !!s.type[0].profile?.length;
    if (isExtSlice) {
      const url = s.type![0].profile![0];
      rules.push({
        kind: 'extension',
        element: id,
        text: `extension ${shortUrl(url, ctx)} <${url}>, ${card(s.min, s.max)}`,
      });
    } else if (d.sliceName) {
      rules.push({ kind: 'slice', element: id, text: `slice "${d.sliceName}" ${card(s.min, s.max)}` });
    } else if (d.min !== undefined || d.max !== undefined) {
      const bmin = s.base?.min ?? 0;
      const bmax = s.base?.max ?? '*';
      if (s.min !== bmin || s.max !== bmax || id.includes(':')) {
        rules.push({ kind: 'cardinality', element: id, text: `${card(s.min, s.max)} (base ${card(bmin, bmax)})` });
      }
    }
    if (d.mustSupport) rules.push({ kind: 'must-support', element: id, text: 'must support' });
    for (const [k, v] of valueKeys(d, 'fixed')) rules.push({ kind: 'fixed', element: id, text: `${k} = ${json(v)}` });
    for (const [k, v] of valueKeys(d, 'pattern'))
      rules.push({ kind: 'pattern', element: id, text: `${k} = ${json(v)}` });
    if (d.type && !isExtSlice) {
      const baseTypes = baseById.get(id)?.type;
      const from = !baseTypes
        ? ''
        : baseTypes.length > 8
          ? ` (base: any of ${baseTypes.length} types)`
          : ` (base: ${baseTypes.map((t) => formatType(t, ctx)).join(', ')})`;
      rules.push({
        kind: 'type',
        element: id,
        text: `only ${d.type.map((t) => formatType(t, ctx)).join(' or ')}${from}`,
      });
    }
    if (d.binding?.valueSet) {
      const vs = ctx.byUrl.get(d.binding.valueSet);
      const codes = ctx.expansions.get(d.binding.valueSet);
      const list = codes ? `: ${codes.map((c) => c.code).join(', ')}` : '';
      rules.push({
        kind: 'binding',
        element: id,
        text: `${d.binding.strength} binding to ${(vs?.title as string) ?? d.binding.valueSet} <${d.binding.valueSet}>${list}`,
      });
    }
    const baseKeys = new Set((baseById.get(id)?.constraint ?? []).map((c) => c.key));
    for (const c of d.constraint ?? []) {
      if (baseKeys.has(c.key)) continue;
      rules.push({
        kind: 'invariant',
        element: id,
        key: c.key,
        text: `${c.key} (${c.severity ?? 'error'}): ${c.human ?? ''} — ${c.expression ?? ''}`,
      });
    }
  }
  return rules;
}

function bindingSection(sd: StructureDefinitionJson, ctx: DocsContext): string[] {
  const lines: string[] = [];
  for (const d of sd.differential.element) {
    if (!d.binding?.valueSet) continue;
    const vs = ctx.byUrl.get(d.binding.valueSet);
    lines.push(`### ${code(d.id)}: ${d.binding.strength}`, '');
    lines.push(
      `Value set: **${(vs?.title as string) ?? d.binding.valueSet}** (${code(d.binding.valueSet)})${vs?.description ? '. ' + (vs.description as string) : ''}`,
      '',
    );
    const codes = ctx.expansions.get(d.binding.valueSet);
    if (codes) {
      lines.push('| System | Code | Display |', '| --- | --- | --- |');
      for (const c of codes) lines.push(`| ${code(c.system)} | ${code(c.code)} | ${cell(c.display ?? '')} |`);
      lines.push('');
    }
    if (d.binding.strength === 'required') {
      lines.push(
        `A CodeableConcept meets a required binding when at least one of its codings is in the value set (other codings may be added beside it).`,
        '',
      );
    }
  }
  return lines;
}

function table(header: string[], rows: string[][]): string[] {
  if (!rows.length) return ['None.', ''];
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
    '',
  ];
}

/** Markdown page for one profile or extension. */
export function renderStructureDefinitionDoc(sd: StructureDefinitionJson, ctx: DocsContext): string {
  const rules = profileRules(sd, ctx);
  const isExtension = sd.type === 'Extension';
  const out: string[] = [];
  out.push(`# ${sd.title ?? sd.name} (${code(sd.id)})`, '');
  out.push(
    '<!-- Generated by fhir-profiles/scripts/build.ts from the compiled StructureDefinition. Do not edit. -->',
    '',
  );
  if (sd.description) out.push(sd.description, '');
  out.push('| | |', '| --- | --- |');
  out.push(`| Canonical URL | ${code(sd.url as string)} |`);
  out.push(`| Kind | ${isExtension ? 'extension' : 'profile'} of ${sd.type} |`);
  out.push(`| Base | ${code(sd.baseDefinition)} |`);
  if (sd.context?.length)
    out.push(`| Context | ${sd.context.map((c) => `${c.type}: ${code(c.expression)}`).join(', ')} |`);
  out.push(`| Status, version | ${sd.status ?? ''}, ${sd.version ?? ''} |`);
  out.push(`| FHIR version | ${(sd.fhirVersion as string) ?? '4.0.1'} |`);
  out.push('');

  const enforced = rules.filter((r) => r.kind !== 'must-support');
  out.push(
    '## All rules',
    '',
    `${enforced.length} rules that an instance must meet (Must Support flags are listed apart); each kind is detailed in the sections below.`,
    '',
  );
  out.push(
    ...table(
      ['#', 'Kind', 'Element', 'Rule'],
      enforced.map((r, i) => [String(i + 1), r.kind, code(r.element), r.text]),
    ),
  );

  const by = (k: ProfileRule['kind']) => rules.filter((r) => r.kind === k);
  out.push('## Cardinality (differs from the base)', '');
  out.push(
    ...table(
      ['Element', 'Rule'],
      by('cardinality').map((r) => [code(r.element), r.text]),
    ),
  );
  out.push(
    '## Must Support',
    '',
    'Elements a sender populates when it has the data and a receiver processes (not checked by validation).',
    '',
  );
  const ms = by('must-support');
  out.push(ms.length ? ms.map((r) => `- ${code(r.element)}`).join('\n') + '\n' : 'None.\n');
  out.push('## Fixed and pattern values', '');
  out.push(
    ...table(
      ['Element', 'Kind', 'Value'],
      [...by('fixed'), ...by('pattern')].map((r) => [
        code(r.element),
        r.kind,
        code(r.text.slice(r.text.indexOf('= ') + 2)),
      ]),
    ),
  );
  out.push(
    'A pattern requires the listed properties (other properties and codings may be present); a fixed value must match exactly.',
    '',
  );
  out.push('## Type restrictions', '');
  out.push(
    ...table(
      ['Element', 'Rule'],
      by('type').map((r) => [code(r.element), r.text]),
    ),
  );
  out.push('## Bindings', '');
  const bindings = bindingSection(sd, ctx);
  out.push(...(bindings.length ? bindings : ['None.', '']));
  out.push('## Invariants', '');
  const invariants = sd.differential.element.flatMap((d) => {
    const baseKeys = new Set(
      (ctx.baseSd(sd.baseDefinition)?.snapshot.element.find((b) => b.id === d.id)?.constraint ?? []).map((c) => c.key),
    );
    return (d.constraint ?? []).filter((c) => !baseKeys.has(c.key)).map((c) => ({ c, id: d.id }));
  });
  out.push(
    ...table(
      ['Key', 'Severity', 'Context', 'Human', 'Expression (FHIRPath)'],
      invariants.map(({ c, id }) => [
        code(c.key),
        c.severity ?? 'error',
        code(id),
        c.human ?? '',
        code(c.expression ?? ''),
      ]),
    ),
  );
  out.push('## Slices', '');
  const sliceRows: string[][] = [];
  for (const d of sd.differential.element) {
    if (!d.sliceName) continue;
    const s = sd.snapshot.element.find((e) => e.id === d.id) ?? d;
    const parent = sd.snapshot.element.find((e) => e.id === d.id.slice(0, d.id.lastIndexOf(':')));
    const disc = (parent?.slicing?.discriminator ?? []).map((x) => `${x.type}:${x.path}`).join(', ');
    const inner = rules
      .filter((r) => r.element.startsWith(d.id + '.') && r.kind !== 'must-support')
      .map((r) => `${r.element.slice(d.id.length + 1)}: ${r.kind} ${r.text}`);
    sliceRows.push([code(d.id), disc, card(s.min, s.max), inner.join('; ')]);
  }
  out.push(...table(['Slice', 'Discriminator', 'Cardinality', 'Rules inside the slice'], sliceRows));
  out.push('## Extensions', '');
  out.push(
    ...table(
      ['Element', 'Extension', 'Cardinality', 'Value'],
      by('extension').map((r) => {
        const s = sd.snapshot.element.find((e) => e.id === r.element)!;
        const url = s.type![0].profile![0];
        const ext = ctx.byUrl.get(url) as StructureDefinitionJson | undefined;
        const value = ext?.snapshot.element.find((e) => e.path === 'Extension.value[x]');
        const valueText = value
          ? `${card(value.min, value.max)} ${(value.type ?? []).map((t) => t.code).join(' or ')}${value.binding?.valueSet ? `, ${value.binding.strength} binding to ${code(value.binding.valueSet)}` : ''}`
          : '';
        return [code(r.element), `${(ext?.title as string) ?? url} (${code(url)})`, card(s.min, s.max), valueText];
      }),
    ),
  );
  return (
    out
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd() + '\n'
  );
}

/** Index page: profiles, extensions, value sets and code systems. */
export function renderIndexDoc(resources: FhirJson[], ctx: DocsContext, buildInfo: { sushiVersion: string }): string {
  const sds = resources.filter((r) => r.resourceType === 'StructureDefinition') as StructureDefinitionJson[];
  const out: string[] = ['# marrowbridge FHIR profiles', ''];
  out.push('<!-- Generated by fhir-profiles/scripts/build.ts. Do not edit. -->', '');
  out.push(
    `Compiled from fhir-profiles/input/fsh by SUSHI ${buildInfo.sushiVersion} (snapshots, offline against hl7.fhir.r4.core#4.0.1). Canonical base: ${code('http://marrowbridge.org/fhir')}.`,
    '',
  );
  out.push('## Profiles', '');
  out.push(
    ...table(
      ['Profile', 'Base', 'Rules', 'Description'],
      sds
        .filter((s) => s.type !== 'Extension')
        .map((s) => [
          `[${s.title ?? s.name}](${s.id}.md)`,
          s.type,
          String(profileRules(s, ctx).filter((r) => r.kind !== 'must-support').length),
          s.description ?? '',
        ]),
    ),
  );
  out.push('## Extensions', '');
  out.push(
    ...table(
      ['Extension', 'URL', 'Description'],
      sds
        .filter((s) => s.type === 'Extension')
        .map((s) => [`[${s.title ?? s.name}](${s.id}.md)`, code(s.url as string), s.description ?? '']),
    ),
  );
  out.push('## Value sets', '');
  out.push(
    ...table(
      ['Value set', 'URL', 'Codes'],
      resources
        .filter((r) => r.resourceType === 'ValueSet')
        .map((v) => [
          (v.title as string) ?? v.id,
          code(v.url as string),
          (ctx.expansions.get(v.url as string) ?? []).map((c) => `${c.code} ${c.display ?? ''}`.trim()).join('; '),
        ]),
    ),
  );
  out.push('## Code systems', '');
  out.push(
    ...table(
      ['Code system', 'URL', 'Codes'],
      resources
        .filter((r) => r.resourceType === 'CodeSystem')
        .map((c) => [
          (c.title as string) ?? c.id,
          code(c.url as string),
          ((c.concept as { code: string }[]) ?? []).map((x) => x.code).join(', '),
        ]),
    ),
  );
  return (
    out
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd() + '\n'
  );
}
