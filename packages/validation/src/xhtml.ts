/**
 * Checks on Narrative.div (FHIR R4 narrative rules, invariants txt-1 and txt-2): well-formed
 * XHTML, a single `div` root in the XHTML namespace, only the basic formatting elements FHIR
 * allows, no event handler attributes, and only the five XML entities (there is no DTD, so
 * HTML entities such as `&nbsp;` are not defined). Returns problems without quoting the text.
 */

const XHTML_NS = 'http://www.w3.org/1999/xhtml';

/** Elements allowed in FHIR narrative (no scripts, forms, frames, objects, head/body, base/link). */
const ALLOWED_ELEMENTS: ReadonlySet<string> = new Set([
  'a',
  'abbr',
  'acronym',
  'address',
  'area',
  'b',
  'bdo',
  'big',
  'blockquote',
  'br',
  'caption',
  'cite',
  'code',
  'col',
  'colgroup',
  'dd',
  'del',
  'dfn',
  'div',
  'dl',
  'dt',
  'em',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
  'i',
  'img',
  'ins',
  'kbd',
  'li',
  'map',
  'ol',
  'p',
  'pre',
  'q',
  'samp',
  'small',
  'span',
  'strong',
  'sub',
  'sup',
  'table',
  'tbody',
  'td',
  'tfoot',
  'th',
  'thead',
  'tr',
  'tt',
  'u',
  'ul',
  'var',
]);

const XML_ENTITIES: ReadonlySet<string> = new Set(['lt', 'gt', 'amp', 'quot', 'apos']);

function entityProblem(text: string): string | undefined {
  let i = text.indexOf('&');
  while (i >= 0) {
    const m = /^&(#[0-9]+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);/.exec(text.slice(i, i + 40));
    if (!m) {
      return "an '&' that does not start an entity reference (write &amp;)";
    }
    if (!m[1].startsWith('#') && !XML_ENTITIES.has(m[1])) {
      return `the entity '&${m[1]};', which is not defined in XHTML without a DTD (use the character itself or a numeric reference)`;
    }
    i = text.indexOf('&', i + m[0].length);
  }
  return undefined;
}

const NAME = /^[A-Za-z_][\w.:-]*/;

export interface XhtmlCheck {
  /** Problems found (empty when the div is acceptable). */
  readonly problems: string[];
  /** Targets of internal hyperlinks (`href="#x"` gives `x`). */
  readonly internalLinks: string[];
  /** Values of `id` and `name` attributes (anchors internal links may point to). */
  readonly anchors: Set<string>;
}

/** Check a Narrative.div. */
export function checkNarrativeXhtml(div: string): XhtmlCheck {
  const problems: string[] = [];
  const internalLinks: string[] = [];
  const anchors = new Set<string>();
  const stack: string[] = [];
  let roots = 0;
  let pos = 0;
  const n = div.length;
  while (pos < n) {
    const lt = div.indexOf('<', pos);
    const text = lt < 0 ? div.slice(pos) : div.slice(pos, lt);
    if (text) {
      if (stack.length === 0 && text.trim()) {
        problems.push('text outside the root div element');
      }
      const p = entityProblem(text);
      if (p) {
        problems.push(`the text contains ${p}`);
      }
    }
    if (lt < 0) {
      break;
    }
    if (div.startsWith('<!--', lt)) {
      const end = div.indexOf('-->', lt + 4);
      if (end < 0) {
        problems.push('an unterminated comment');
        break;
      }
      pos = end + 3;
      continue;
    }
    if (div.startsWith('<![CDATA[', lt)) {
      const end = div.indexOf(']]>', lt);
      if (end < 0) {
        problems.push('an unterminated CDATA section');
        break;
      }
      pos = end + 3;
      continue;
    }
    if (div.startsWith('<!', lt) || div.startsWith('<?', lt)) {
      problems.push('a DOCTYPE or processing instruction, which narrative cannot contain');
      const end = div.indexOf('>', lt);
      pos = end < 0 ? n : end + 1;
      continue;
    }
    if (div.startsWith('</', lt)) {
      const m = /^<\/([A-Za-z_][\w.:-]*)\s*>/.exec(div.slice(lt, lt + 80));
      if (!m) {
        problems.push('a malformed end tag');
        break;
      }
      const open = stack.pop();
      if (open !== m[1]) {
        problems.push(
          open
            ? `the end tag of '${m[1]}' does not match the open element '${open}'`
            : `an end tag '${m[1]}' without a start tag`,
        );
        break;
      }
      pos = lt + m[0].length;
      continue;
    }
    // Start tag.
    const nameMatch = NAME.exec(div.slice(lt + 1, lt + 80));
    if (!nameMatch) {
      problems.push("a '<' that does not start a tag (write &lt;)");
      break;
    }
    const name = nameMatch[0];
    let p = lt + 1 + name.length;
    const attributes = new Map<string, string>();
    let closed = false;
    let selfClosing = false;
    while (p < n) {
      while (p < n && /\s/.test(div[p])) p++;
      if (div.startsWith('/>', p)) {
        selfClosing = true;
        closed = true;
        p += 2;
        break;
      }
      if (div[p] === '>') {
        closed = true;
        p += 1;
        break;
      }
      const am = /^([A-Za-z_][\w.:-]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(div.slice(p, p + 100000));
      if (!am) {
        break;
      }
      const attrName = am[1];
      const value = am[3] ?? am[4] ?? '';
      if (attributes.has(attrName)) {
        problems.push(`a duplicated attribute '${attrName}'`);
      }
      attributes.set(attrName, value);
      const ep = entityProblem(value);
      if (ep) {
        problems.push(`an attribute value contains ${ep}`);
      }
      p += am[0].length;
    }
    if (!closed) {
      problems.push(`a malformed start tag '${name}'`);
      break;
    }
    if (stack.length === 0) {
      roots++;
      if (roots === 1) {
        if (name !== 'div') {
          problems.push(`the root element is '${name}', not 'div'`);
        }
        if (attributes.get('xmlns') !== XHTML_NS) {
          problems.push(`the root div does not declare the XHTML namespace (xmlns="${XHTML_NS}")`);
        }
      } else {
        problems.push('more than one root element');
      }
    }
    const local = name.includes(':') ? name.slice(name.indexOf(':') + 1) : name;
    if (!ALLOWED_ELEMENTS.has(local.toLowerCase())) {
      problems.push(
        `the element '${local}', which FHIR narrative does not allow (no scripts, forms, frames, objects, head or body)`,
      );
    }
    for (const [attrName, value] of attributes) {
      if (attrName === 'id' || attrName === 'name') {
        anchors.add(value);
      } else if (attrName === 'href' && local.toLowerCase() === 'a' && value.startsWith('#') && value.length > 1) {
        internalLinks.push(value.slice(1));
      }
      if (/^on/i.test(attrName)) {
        problems.push(`the event handler attribute '${attrName}', which FHIR narrative does not allow`);
      }
    }
    pos = p;
    if (!selfClosing) {
      stack.push(name);
    }
  }
  if (stack.length > 0 && !problems.some((x) => x.startsWith('a malformed') || x.startsWith('the end tag'))) {
    problems.push(`the element '${stack[stack.length - 1]}' is not closed`);
  }
  if (roots === 0 && problems.length === 0) {
    problems.push('no div element');
  }
  return { problems: [...new Set(problems)], internalLinks, anchors };
}
