/** The delimiters a message declares in MSH-1 and MSH-2. */
export interface Delimiters {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
  /** v2.7+ truncation character (5th char of MSH-2), if declared. */
  truncation?: string;
}

export const DEFAULT_DELIMITERS: Delimiters = {
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
};

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function hexToText(hex: string): string {
  const bytes = Buffer.from(hex, 'hex');
  try {
    return utf8Strict.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

const FORMATTING = /^\.(fi|nf|in|ti|sk|ce)/;
const SKIP_LINES = /^\.sp\s*(\d*)$/;
const HEX = /^X((?:[0-9A-Fa-f]{2})+)$/;
const CHARSET_SWITCH = /^(C[0-9A-Fa-f]{4}|M[0-9A-Fa-f]{4,6})$/;

function decodeSequence(seq: string, d: Delimiters): string | undefined {
  switch (seq) {
    case 'F':
      return d.field;
    case 'S':
      return d.component;
    case 'T':
      return d.subcomponent;
    case 'R':
      return d.repetition;
    case 'E':
      return d.escape;
    case 'P':
      return d.truncation ?? '#';
    case '.br':
      return '\n';
    case 'H':
    case 'N':
      // highlighting on / off: formatting, dropped
      return '';
  }
  const sp = SKIP_LINES.exec(seq);
  if (sp) return '\n'.repeat(Math.max(1, Math.min(Number(sp[1] || '1'), 20)));
  if (FORMATTING.test(seq)) return '';
  const hex = HEX.exec(seq);
  if (hex) return hexToText(hex[1]);
  if (CHARSET_SWITCH.test(seq) || seq.startsWith('Z')) return '';
  return undefined;
}

/**
 * Decodes HL7 escape sequences in one leaf value (already split into components / subcomponents):
 * \F\ \S\ \T\ \R\ \E\ (and \P\), \Xhh..\ (hex bytes, UTF-8 when valid, else Latin-1), \.br\ and \.sp n\ → line
 * breaks; other formatting codes (\.fi\ \.in\ \H\ \N\ \Cxxyy\ \Z..\ …) are dropped. An unknown or unterminated
 * sequence is kept literally (senders often forget to escape a backslash).
 */
export function unescapeHl7(text: string, d: Delimiters): string {
  const e = d.escape;
  if (!e || !text.includes(e)) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf(e, i);
    if (at < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, at);
    const end = text.indexOf(e, at + 1);
    if (end < 0) {
      out += text.slice(at);
      break;
    }
    const decoded = decodeSequence(text.slice(at + 1, end), d);
    if (decoded === undefined) {
      // not an escape sequence: keep the escape character as data and go on after it
      out += e;
      i = at + 1;
    } else {
      out += decoded;
      i = end + 1;
    }
  }
  return out;
}

/** Escapes text for one leaf value with the default delimiters (used when building ACKs). */
export function escapeHl7(text: string, d: Delimiters = DEFAULT_DELIMITERS): string {
  let out = '';
  for (const ch of text.replace(/\r\n?/g, '\n')) {
    if (ch === d.escape) out += `${d.escape}E${d.escape}`;
    else if (ch === d.field) out += `${d.escape}F${d.escape}`;
    else if (ch === d.component) out += `${d.escape}S${d.escape}`;
    else if (ch === d.subcomponent) out += `${d.escape}T${d.escape}`;
    else if (ch === d.repetition) out += `${d.escape}R${d.escape}`;
    else if (ch === '\n') out += `${d.escape}.br${d.escape}`;
    else out += ch;
  }
  return out;
}
