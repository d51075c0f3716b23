import type { ElementIndex } from './element-index';
import { PRIMITIVE_TYPES } from './element-index';
import { loadBaseR4 } from './definitions';

/**
 * FHIR XML → FHIR JSON for conformance resources given as XML (`--ig` folders, the HL7 test
 * cases). A small XML reader (elements, attributes, comments, processing instructions, CDATA,
 * character entities) and the R4 element index to tell arrays, primitives and numbers apart.
 */

interface XmlNode {
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly children: XmlNode[];
  /** Offsets of the element in the source text (for the XHTML narrative, kept as text). */
  readonly start: number;
  end: number;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (m, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? m;
  });
}

function localName(qname: string): string {
  const colon = qname.indexOf(':');
  return colon < 0 ? qname : qname.slice(colon + 1);
}

/** Parse XML text into an element tree (text content is ignored: FHIR XML keeps values in attributes). */
function parseXml(text: string): XmlNode {
  const stack: XmlNode[] = [];
  let root: XmlNode | undefined;
  let i = 0;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    if (lt < 0) break;
    if (text.startsWith('<!--', lt)) {
      const end = text.indexOf('-->', lt + 4);
      if (end < 0) throw new Error('unterminated comment');
      i = end + 3;
    } else if (text.startsWith('<?', lt)) {
      const end = text.indexOf('?>', lt + 2);
      if (end < 0) throw new Error('unterminated processing instruction');
      i = end + 2;
    } else if (text.startsWith('<![CDATA[', lt)) {
      const end = text.indexOf(']]>', lt);
      if (end < 0) throw new Error('unterminated CDATA section');
      i = end + 3;
    } else if (text.startsWith('<!', lt)) {
      const end = text.indexOf('>', lt);
      if (end < 0) throw new Error('unterminated declaration');
      i = end + 1;
    } else if (text[lt + 1] === '/') {
      const end = text.indexOf('>', lt);
      if (end < 0) throw new Error('unterminated end tag');
      const node = stack.pop();
      if (!node || node.name !== text.slice(lt + 2, end).trim()) {
        throw new Error(`mismatched end tag at offset ${lt}`);
      }
      node.end = end + 1;
      i = end + 1;
    } else {
      const m = /^<([A-Za-z_][\w.:-]*)/.exec(text.slice(lt, lt + 200));
      if (!m) throw new Error(`malformed tag at offset ${lt}`);
      let j = lt + m[0].length;
      const attrs: Record<string, string> = {};
      const attrRe = /\s*([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/y;
      for (;;) {
        attrRe.lastIndex = j;
        const a = attrRe.exec(text);
        if (!a) break;
        attrs[a[1]] = decode(a[3] ?? a[4] ?? '');
        j = attrRe.lastIndex;
      }
      while (j < text.length && /\s/.test(text[j])) j++;
      const selfClosing = text[j] === '/';
      const close = text.indexOf('>', j);
      if (close < 0) throw new Error('unterminated start tag');
      const node: XmlNode = { name: m[1], attrs, children: [], start: lt, end: close + 1 };
      if (stack.length > 0) stack[stack.length - 1].children.push(node);
      else if (!root) root = node;
      if (!selfClosing) stack.push(node);
      i = close + 1;
    }
  }
  if (!root || stack.length > 0) throw new Error('not a complete XML document');
  return root;
}

const NUMERIC = new Set(['integer', 'decimal', 'positiveInt', 'unsignedInt']);

function primitiveValue(type: string | undefined, raw: string): unknown {
  if (type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  if (type && NUMERIC.has(type) && raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
  return raw;
}

function convertObject(index: ElementIndex, node: XmlNode, container: string, text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (node.attrs.id !== undefined) out.id = node.attrs.id;
  if (node.attrs.url !== undefined) out.url = node.attrs.url;
  for (const child of node.children) {
    const name = localName(child.name);
    const resolved = index.resolveChild(container, name);
    if (!resolved) {
      throw new Error(`unknown element '${name}' in ${container}`);
    }
    const type = resolved.type;
    const isArray = resolved.element.isArray;
    const put = (key: string, value: unknown): void => {
      if (isArray) {
        const list = (out[key] as unknown[] | undefined) ?? [];
        list.push(value);
        out[key] = list;
      } else {
        out[key] = value;
      }
    };
    if (type === 'xhtml') {
      put(name, text.slice(child.start, child.end));
    } else if (type && PRIMITIVE_TYPES.has(type)) {
      const hasExtras = child.children.length > 0 || child.attrs.id !== undefined;
      const value = child.attrs.value !== undefined ? primitiveValue(type, child.attrs.value) : null;
      put(name, value);
      if (hasExtras) {
        const ext = convertObject(index, { ...child, attrs: { id: child.attrs.id } }, 'Element', text);
        if (child.attrs.id === undefined) delete ext.id;
        put(`_${name}`, ext);
      } else if (isArray) {
        put(`_${name}`, null);
      }
    } else if (type === 'Resource') {
      const inner = child.children[0];
      if (inner) put(name, convertResource(index, inner, text));
    } else {
      const sub = index.containerOf(resolved.element, type);
      put(name, convertObject(index, child, sub ?? type ?? 'Element', text));
    }
  }
  // Drop `_x` arrays that only hold nulls (no primitive in the list had an id or extension).
  for (const key of Object.keys(out)) {
    const v = out[key];
    if (key.startsWith('_') && Array.isArray(v) && v.every((x) => x === null)) delete out[key];
  }
  return out;
}

function convertResource(index: ElementIndex, node: XmlNode, text: string): Record<string, unknown> {
  const type = localName(node.name);
  if (!index.isResourceType(type)) {
    throw new Error(`unknown resource type '${type}'`);
  }
  return { resourceType: type, ...convertObject(index, node, type, text) };
}

/** Convert a FHIR XML resource to its JSON form (throws with a short reason when it cannot). */
export function parseFhirXml(text: string, index: ElementIndex = loadBaseR4().index): Record<string, unknown> {
  return convertResource(index, parseXml(text), text);
}
