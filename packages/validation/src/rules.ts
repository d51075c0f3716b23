import { searchParameterTypes } from './definitions';
import type { ElementIndex } from './element-index';
import type { RawIssue, Segments } from './issues';
import { isObject, stripVersion } from './common';

/**
 * Base R4 rules that are stated in the specification's prose (not as FHIRPath invariants) and
 * that the HL7 reference validator enforces. Each returns issues for one value.
 */

const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;
const UNIQUE_LINK_RELATIONS: ReadonlySet<string> = new Set(['self', 'first', 'previous', 'prev', 'next', 'last']);

/** Bundle: entry.fullUrl is an absolute URI; navigation links (self, first, next, ...) occur once. */
export function bundleRules(bundle: Record<string, unknown>, segments: Segments): RawIssue[] {
  const issues: RawIssue[] = [];
  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  entries.forEach((entry, i) => {
    if (isObject(entry) && typeof entry.fullUrl === 'string' && !ABSOLUTE_URI.test(entry.fullUrl)) {
      issues.push({
        severity: 'error',
        code: 'value',
        category: 'value',
        segments: [...segments, 'entry', i, 'fullUrl'],
        text: 'Bundle entry fullUrl at {path} must be an absolute URL (e.g. https://server/fhir/Patient/123 or urn:uuid:…), not a relative reference',
        diagnostics: 'FHIR R4 Bundle.entry.fullUrl: SHALL be an absolute URL',
      });
    }
  });
  const seen = new Set<string>();
  const links = Array.isArray(bundle.link) ? bundle.link : [];
  links.forEach((link, i) => {
    if (isObject(link) && typeof link.relation === 'string' && UNIQUE_LINK_RELATIONS.has(link.relation)) {
      if (seen.has(link.relation)) {
        issues.push({
          severity: 'error',
          code: 'invariant',
          category: 'invariant',
          segments: [...segments, 'link', i],
          text: `Bundle link relation '${link.relation}' at {path} occurs more than once; a Bundle has at most one ${link.relation} link`,
          diagnostics: 'FHIR R4 Bundle.link: navigation relations (self, first, previous, next, last) are unique',
        });
      }
      seen.add(link.relation);
    }
  });
  return issues;
}

function base64Length(data: string): number | undefined {
  const s = data.replace(/\s+/g, '');
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) {
    return undefined;
  }
  const padding = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return (s.length / 4) * 3 - padding;
}

/** Attachment: a stated size must equal the number of bytes in data. */
export function attachmentRules(attachment: Record<string, unknown>, segments: Segments): RawIssue[] {
  if (typeof attachment.size !== 'number' || typeof attachment.data !== 'string') {
    return [];
  }
  const actual = base64Length(attachment.data);
  if (actual === undefined || actual === attachment.size) {
    return [];
  }
  return [
    {
      severity: 'error',
      code: 'value',
      category: 'invariant',
      segments: [...segments, 'size'],
      text: `Attachment size at {path} (${attachment.size} bytes) does not match the decoded data (${actual} bytes)`,
      diagnostics: 'FHIR R4 Attachment.size: number of bytes of content (if url provided); must agree with data',
    },
  ];
}

/** CapabilityStatement: a searchParam that names a base R4 SearchParameter must state that parameter's type. */
export function capabilityStatementRules(cs: Record<string, unknown>, segments: Segments): RawIssue[] {
  const issues: RawIssue[] = [];
  const rests = Array.isArray(cs.rest) ? cs.rest : [];
  const check = (params: unknown, at: Segments): void => {
    if (!Array.isArray(params)) {
      return;
    }
    params.forEach((p, i) => {
      if (!isObject(p) || typeof p.definition !== 'string' || typeof p.type !== 'string') {
        return;
      }
      const url = stripVersion(p.definition);
      const expected = searchParameterTypes().get(url);
      if (expected && expected !== p.type) {
        issues.push({
          severity: 'error',
          code: 'value',
          category: 'invariant',
          segments: [...at, i, 'type'],
          text: `Search parameter type at {path} is '${p.type}', but its definition ${url} has type '${expected}'`,
          diagnostics: 'FHIR R4 CapabilityStatement searchParam.type: the type of the referenced SearchParameter',
        });
      }
    });
  };
  rests.forEach((rest, r) => {
    if (!isObject(rest)) {
      return;
    }
    check(rest.searchParam, [...segments, 'rest', r, 'searchParam']);
    (Array.isArray(rest.resource) ? rest.resource : []).forEach((res, j) => {
      if (isObject(res)) {
        check(res.searchParam, [...segments, 'rest', r, 'resource', j, 'searchParam']);
      }
    });
  });
  return issues;
}

/** True when an element path of a profile on `type` names an element of the base type. */
function pathExists(index: ElementIndex, type: string, path: string): boolean {
  const parts = path.split('.');
  if (parts[0] !== type) {
    return false;
  }
  let container: string | undefined = type;
  for (const part of parts.slice(1)) {
    if (!container) {
      return false;
    }
    let resolved;
    if (part.endsWith('[x]')) {
      const el = index.element(`${container}.${part}`);
      resolved = el ? { element: el, type: el.types.length === 1 ? el.types[0].code : undefined } : undefined;
    } else {
      resolved = index.resolveChild(container, part);
    }
    if (!resolved) {
      return false;
    }
    container = index.containerOf(resolved.element, resolved.type ?? resolved.element.types[0]?.code);
  }
  return true;
}

/** StructureDefinition (constraint): every differential element must name an element of the constrained type. */
export function structureDefinitionRules(
  index: ElementIndex,
  sd: Record<string, unknown>,
  segments: Segments,
): RawIssue[] {
  const type = sd.type;
  if (
    sd.derivation !== 'constraint' ||
    typeof type !== 'string' ||
    !(index.isResourceType(type) || index.isDataType(type))
  ) {
    return [];
  }
  const issues: RawIssue[] = [];
  const differential =
    isObject(sd.differential) && Array.isArray(sd.differential.element) ? sd.differential.element : [];
  differential.forEach((el, i) => {
    if (isObject(el) && typeof el.path === 'string' && !pathExists(index, type, el.path)) {
      issues.push({
        severity: 'error',
        code: 'invalid',
        category: 'invariant',
        segments: [...segments, 'differential', 'element', i, 'path'],
        text: `Element path '${el.path.slice(0, 200)}' at {path} does not exist in ${type} (FHIR R4); choice elements are written name[x] or with a type suffix such as valueQuantity`,
        diagnostics: `StructureDefinition differential paths must resolve against the base type ${type}`,
      });
    }
  });
  return issues;
}
