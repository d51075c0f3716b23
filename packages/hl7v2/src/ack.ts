/**
 * ACK building that works on any input, garbage included: the incoming MSH is read by hand with its own
 * delimiters (no parser that could refuse it), and every value copied over is re-encoded with the standard ones.
 */
import errorCodesJson from './data/error-codes.json';
import { DEFAULT_DELIMITERS, Delimiters, escapeHl7, unescapeHl7 } from './escape';
import { decodeBytes } from './input';
import type { AckOptions, AckRequest, Hl7Control, Hl7Error, RawHl7 } from './types';

const ERROR_TEXT = new Map<string, string>(Object.entries(errorCodesJson.codes));

interface IncomingMsh {
  fields: string[];
  d: Delimiters;
}

function readMsh(input: string | Buffer | Uint8Array | RawHl7): IncomingMsh | undefined {
  let text: string;
  if (typeof input === 'string') text = input;
  else if (input instanceof Uint8Array) text = decodeBytes(input);
  else if (input && typeof input === 'object' && typeof (input as RawHl7).text === 'string')
    text = (input as RawHl7).text;
  else return undefined;
  const start = text.indexOf('MSH');
  if (start < 0) return undefined;
  const rest = text.slice(start);
  const end = rest.search(/[\r\n]/);
  const line = (end < 0 ? rest : rest.slice(0, end)).replace(/<CR>$/, '');
  const fs = line.charAt(3);
  const enc = line.slice(4).split(fs, 1)[0] ?? '';
  const chars = [fs, ...enc.slice(0, 4)];
  if (!fs || enc.length < 4 || new Set(chars).size !== 5 || chars.some((c) => /[A-Za-z0-9\s]/.test(c))) {
    return undefined;
  }
  const d: Delimiters = {
    field: fs,
    component: enc.charAt(0),
    repetition: enc.charAt(1),
    escape: enc.charAt(2),
    subcomponent: enc.charAt(3),
  };
  return { fields: line.split(fs), d };
}

/** MSH-n of the incoming message, re-encoded with the default delimiters (first repetition only). */
function field(msh: IncomingMsh | undefined, n: number): string {
  if (!msh) return '';
  const raw = msh.fields[n - 1] ?? '';
  const rep = raw.split(msh.d.repetition)[0];
  return rep
    .split(msh.d.component)
    .map((c) =>
      c
        .split(msh.d.subcomponent)
        .map((s) => escapeHl7(unescapeHl7(s, msh.d)))
        .join(DEFAULT_DELIMITERS.subcomponent),
    )
    .join(DEFAULT_DELIMITERS.component)
    .replace(/\^+$/, '');
}

function component(msh: IncomingMsh | undefined, n: number, c: number): string {
  return (field(msh, n).split('^')[c - 1] ?? '').replace(/&.*$/, '');
}

/** MSH-n component c (1-based), first repetition, escapes decoded, trimmed. */
function decoded(msh: IncomingMsh, n: number, c: number): string {
  const raw = (msh.fields[n - 1] ?? '').split(msh.d.repetition)[0];
  const comp = (raw.split(msh.d.component)[c - 1] ?? '').split(msh.d.subcomponent)[0];
  return unescapeHl7(comp, msh.d).trim();
}

/**
 * The control fields of a message's MSH (MSH-3/4 as HD.1 else HD.2, MSH-10, MSH-12), read by hand with the
 * message's own delimiters, without parsing the rest: what a listener needs before translating (sender
 * allow-list, duplicate detection). The values are the ones translateHl7 reports in `control`. Undefined when
 * there is no readable MSH. Never throws.
 */
export function peekControl(
  message: string | Buffer | Uint8Array | RawHl7,
): (Hl7Control & { messageType: string }) | undefined {
  let msh: IncomingMsh | undefined;
  try {
    msh = readMsh(message);
  } catch {
    return undefined;
  }
  if (!msh) return undefined;
  const m = msh;
  const type = decoded(m, 9, 1).toUpperCase();
  const trigger = decoded(m, 9, 2).toUpperCase();
  return {
    messageId: decoded(m, 10, 1),
    sendingApplication: decoded(m, 3, 1) || decoded(m, 3, 2),
    sendingFacility: decoded(m, 4, 1) || decoded(m, 4, 2),
    version: decoded(m, 12, 1),
    messageType: type || trigger ? `${type}^${trigger}` : '',
  };
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function hl7Now(d: Date): string {
  return (
    `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}` +
    `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}+0000`
  );
}

let counter = 0;
function newControlId(now: Date): string {
  counter = (counter + 1) % 1_000_000;
  return `ACK${now.getTime().toString(36).toUpperCase()}${process.pid.toString(36).toUpperCase()}${pad(counter, 6)}`;
}

function versionBefore25(version: string): boolean {
  const m = /^2\.(\d+)/.exec(version);
  return !!m && Number(m[1]) < 5;
}

function errLocation(e: Hl7Error): string {
  const parts = [escapeHl7(e.segment), String(e.sequence)];
  if (e.field > 0) {
    parts.push(String(e.field));
    if (e.component !== undefined || e.repetition !== undefined) {
      parts.push(String(e.repetition ?? 1));
      if (e.component !== undefined) parts.push(String(e.component));
    }
  }
  return parts.join('^');
}

function errSegment(e: Hl7Error, oldVersion: boolean): string {
  const text = escapeHl7(ERROR_TEXT.get(String(e.code)) ?? '');
  const code = `${e.code}^${text}^HL70357`;
  // ERR-1 (ELD) is what v2.3/2.4 receivers read; ERR-2..8 is the v2.5+ form.
  const eld = oldVersion
    ? [escapeHl7(e.segment), String(e.sequence), e.field > 0 ? String(e.field) : '', `${e.code}&${text}&HL70357`].join(
        '^',
      )
    : '';
  return ['ERR', eld, errLocation(e), code, e.severity, '', '', '', escapeHl7(e.message)].join('|');
}

/**
 * An ACK for `message`: MSH with sender and receiver swapped, a new control id and the incoming version,
 * MSA (MSA-1 code, MSA-2 the incoming MSH-10, MSA-3 text), and one ERR per error (ERR-2 location
 * SEG^seq^field^rep^component, ERR-3 0357 code as CWE, ERR-4 severity, ERR-8 message). For an unreadable input
 * MSA-2 is empty and the version 2.5.1.
 */
export function buildAck(
  message: string | Buffer | Uint8Array | RawHl7,
  result: AckRequest,
  options: AckOptions = {},
): string {
  let msh: IncomingMsh | undefined;
  try {
    msh = readMsh(message);
  } catch {
    msh = undefined;
  }
  const now = options.now ?? new Date();
  const incomingVersion = component(msh, 12, 1);
  const version = /^\d\.\d+(\.\d+)?$/.test(incomingVersion) ? incomingVersion : '2.5.1';
  const trigger = /^[A-Z0-9]{3}$/.test(component(msh, 9, 2)) ? component(msh, 9, 2) : '';
  const processing = /^[PTD]$/.test(component(msh, 11, 1)) ? component(msh, 11, 1) : 'P';
  // MSH-9.3 (message structure) exists from v2.3.1 on
  const type = trigger ? (version === '2.3' ? `ACK^${trigger}` : `ACK^${trigger}^ACK`) : 'ACK';
  const controlId = escapeHl7(options.controlId ?? newControlId(now));
  const mshOut = [
    'MSH',
    '^~\\&',
    field(msh, 5),
    field(msh, 6),
    field(msh, 3),
    field(msh, 4),
    hl7Now(now),
    '',
    type,
    controlId,
    processing,
    version,
  ].join('|');
  const msa = ['MSA', result.code, field(msh, 10).split('^')[0]];
  if (result.text) msa.push(escapeHl7(result.text));
  const segments = [mshOut, msa.join('|')];
  const old = versionBefore25(version);
  for (const e of result.errors ?? []) segments.push(errSegment(e, old));
  return segments.join('\r');
}
