import type { Hl7BatchResult, Hl7Error, RawHl7 } from './types';

/** MSH-18 character set names (table 0211) → WHATWG TextDecoder labels, for input that is not valid UTF-8. */
const CHARSETS: Record<string, string> = {
  ASCII: 'windows-1252',
  '8859/1': 'windows-1252',
  '8859/2': 'iso-8859-2',
  '8859/3': 'iso-8859-3',
  '8859/4': 'iso-8859-4',
  '8859/5': 'iso-8859-5',
  '8859/6': 'iso-8859-6',
  '8859/7': 'iso-8859-7',
  '8859/8': 'iso-8859-8',
  '8859/9': 'windows-1254',
  '8859/15': 'iso-8859-15',
  'WINDOWS-1252': 'windows-1252',
};

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * Bytes → text. Valid UTF-8 is read as UTF-8 (whatever MSH-18 says: it is by far the common case and a valid
 * UTF-8 byte string is rarely anything else). Otherwise the charset named in the first MSH-18 is used when it
 * is a single-byte set we know, else Latin-1 (every byte is a character, nothing is lost).
 */
export function decodeBytes(input: Buffer | Uint8Array): string {
  try {
    return utf8Strict.decode(input);
  } catch {
    const latin1 = Buffer.from(input).toString('latin1');
    const label = charsetFromMsh18(latin1);
    if (label) {
      try {
        return new TextDecoder(label).decode(input);
      } catch {
        // unknown label in this runtime: fall through to Latin-1
      }
    }
    return latin1;
  }
}

function charsetFromMsh18(text: string): string | undefined {
  const start = text.indexOf('MSH');
  if (start < 0) return undefined;
  const end = text.slice(start).search(/[\r\n]/);
  const line = end < 0 ? text.slice(start) : text.slice(start, start + end);
  const fs = line.charAt(3);
  if (!fs) return undefined;
  // MSH-1 is the separator itself, so MSH-n is split index n-1.
  const msh18 = (line.split(fs)[17] ?? '').split(line.charAt(5) || '~')[0].split(line.charAt(4) || '^')[0];
  return CHARSETS[msh18.trim().toUpperCase()];
}

const SEGMENT_START = /^[A-Z][A-Z0-9]{2}$/;
const ENVELOPE = new Set(['FHS', 'BHS', 'BTS', 'FTS']);

interface Line {
  text: string;
  line: number;
}

/**
 * Text → lines of segments: a byte-order mark anywhere at a line start is dropped, MLLP framing bytes (VT, FS)
 * are dropped, CR, LF and CRLF all end a segment, a literal "<CR>" marker before a line end (as printed in some
 * specifications) is dropped, blank lines are skipped. A line that does not start with a segment id continues
 * the previous segment (a raw line break inside a text field); it is re-joined with the message's own
 * `\.br\` escape so that it decodes back to a line break.
 */
function toLines(text: string): Line[] {
  const cleaned = text
    .replaceAll('\u000b', '')
    .replaceAll('\u001c', '')
    .replace(/<CR>(?=\r\n|\n|\r|$)/g, '');
  const raw = cleaned.split(/\r\n|\n|\r/);
  const out: Line[] = [];
  let escape = '\\';
  for (let i = 0; i < raw.length; i++) {
    let l = raw[i];
    if (l.charCodeAt(0) === 0xfeff) l = l.slice(1);
    if (l.trim() === '') continue;
    const name = l.slice(0, 3);
    const isSegment = SEGMENT_START.test(name) && (l.length === 3 || !/[A-Za-z0-9]/.test(l.charAt(3)));
    if (isSegment) {
      if (name === 'MSH' && l.length > 6) escape = l.charAt(6);
      out.push({ text: l, line: i + 1 });
    } else if (out.length > 0) {
      out[out.length - 1].text += `${escape}.br${escape}${l}`;
    } else {
      out.push({ text: l, line: i + 1 });
    }
  }
  return out;
}

/**
 * Splits text holding one or more messages into normalised messages. FHS/BHS/BTS/FTS batch envelope segments are
 * ignored; anything else before the first MSH is reported (code 100) and skipped.
 */
export function splitMessages(text: string): Hl7BatchResult {
  const messages: RawHl7[] = [];
  const errors: Hl7Error[] = [];
  let current: { line: number; segs: string[] } | undefined;
  const flush = (): void => {
    if (current) messages.push({ index: messages.length, line: current.line, text: current.segs.join('\r') });
    current = undefined;
  };
  let stray = 0;
  for (const l of toLines(text)) {
    const name = l.text.slice(0, 3);
    if (name === 'MSH') {
      flush();
      current = { line: l.line, segs: [l.text] };
    } else if (ENVELOPE.has(name)) {
      // Batch/file envelope: closes the current message, carries nothing we map.
      flush();
    } else if (current) {
      current.segs.push(l.text);
    } else {
      stray++;
      if (stray === 1) {
        errors.push({
          segment: SEGMENT_START.test(name) ? name : '',
          sequence: 1,
          field: 0,
          code: 100,
          severity: 'E',
          message: `content before the first MSH segment was skipped (input line ${l.line})`,
        });
      }
    }
  }
  flush();
  if (messages.length === 0) {
    errors.push({
      segment: 'MSH',
      sequence: 1,
      field: 0,
      code: 100,
      severity: 'F',
      message: 'no MSH segment found: the input holds no HL7 v2 message',
    });
  }
  return { messages, errors };
}

export function parseHl7Batch(input: string | Buffer | Uint8Array): Hl7BatchResult {
  try {
    const text = typeof input === 'string' ? input : decodeBytes(input);
    return splitMessages(text);
  } catch {
    return {
      messages: [],
      errors: [
        { segment: 'MSH', sequence: 1, field: 0, code: 207, severity: 'F', message: 'the input could not be read' },
      ],
    };
  }
}
