import { checkTimeZone } from './datetime';
import { convertDtmAt, Ctx, Hd, hdFrom, ResolvedOptions } from './datatypes';
import { decodeBytes, splitMessages } from './input';
import { Issues } from './issues';
import { componentParts, parseMessage, Seg } from './message';
import { mapOrders, MessageInfo } from './order';
import { mapResults } from './result';
import { buildStructure } from './structure';
import { authorities } from './tables';
import type { Hl7Control, Hl7Error, Hl7Options, Hl7TranslateResult, Hl7Warning, SupportedMessageType } from './types';

const SUPPORTED: Record<string, SupportedMessageType> = {
  'OML^O21': 'OML^O21',
  'ORM^O01': 'ORM^O01',
  'ORU^R01': 'ORU^R01',
};
/** PID-3 CX.5 types that may stand in for a missing MRN ('' = no type given). */
export const DEFAULT_MRN_FALLBACK_TYPES: readonly string[] = ['', 'PI', 'PT', 'PN', 'PE', 'MRT'];
const TYPES = new Set(['OML', 'ORM', 'ORU']);
/** v2.3 to v2.8.x (and 2.9) are read; older versions lack the fields this mapping relies on. */
const VERSION = /^2\.(3(\.1)?|4|5(\.1)?|6|7(\.1)?|8(\.[12])?|9(\.1)?)$/;

function resolveOptions(o: Hl7Options): ResolvedOptions {
  return {
    timeZone: o.timeZone ?? 'UTC',
    acceptAnyService: o.acceptAnyService ?? true,
    acceptAnyReport: o.acceptAnyReport ?? false,
    namespaces: o.namespaces ?? {},
    defaultIdentifierSystem: o.defaultIdentifierSystem ?? authorities.unspecifiedSystem,
    mrnTypes: new Set((o.mrnIdentifierTypes ?? ['MR']).map((t) => t.toUpperCase())),
    mrnFallbackTypes: new Set((o.mrnFallbackTypes ?? DEFAULT_MRN_FALLBACK_TYPES).map((t) => t.toUpperCase())),
    codingSystems: o.codingSystems ?? {},
  };
}

const hdText = (hd: Hd): string => hd.ns || hd.uid;

function fail(
  errors: Hl7Error[],
  warnings: Hl7Warning[],
  control?: Hl7Control,
  messageType?: string,
): Hl7TranslateResult {
  const r: Hl7TranslateResult = { ok: false, errors, warnings };
  if (control) r.control = control;
  if (messageType) r.messageType = messageType;
  return r;
}

function fatal(field: number, code: Hl7Error['code'], message: string, component?: number): Hl7Error {
  const e: Hl7Error = { segment: 'MSH', sequence: 1, field, code, severity: 'F', message };
  if (component !== undefined) e.component = component;
  return e;
}

function translateInner(message: string | Buffer | Uint8Array, options: Hl7Options): Hl7TranslateResult {
  const opts = resolveOptions(options);
  try {
    checkTimeZone(opts.timeZone);
  } catch {
    return fail(
      [fatal(0, 207, `the timeZone option ${JSON.stringify(opts.timeZone)} is not a known IANA time zone`)],
      [],
    );
  }
  const text = typeof message === 'string' ? message : decodeBytes(message);
  const split = splitMessages(text);
  const warnings: Hl7Warning[] = split.errors
    .filter((e) => e.severity !== 'F')
    .map((e) => ({ segment: e.segment, sequence: e.sequence, field: e.field, message: e.message }));
  if (split.messages.length === 0)
    return fail(
      split.errors.filter((e) => e.severity === 'F'),
      warnings,
    );
  if (split.messages.length > 1) {
    return fail(
      [fatal(0, 100, `the input holds ${split.messages.length} messages: split it with parseHl7Batch first`)],
      warnings,
    );
  }
  const parsed = parseMessage(split.messages[0].text);
  if ('error' in parsed) return fail([fatal(parsed.field, 102, parsed.error)], warnings);
  const msh: Seg = parsed.msh;
  const control: Hl7Control = {
    messageId: msh.comp(10, 1),
    sendingApplication: hdText(hdFrom(componentParts(msh, 3))),
    sendingFacility: hdText(hdFrom(componentParts(msh, 4))),
    version: msh.comp(12, 1),
  };
  const type = msh.comp(9, 1).toUpperCase();
  const trigger = msh.comp(9, 2).toUpperCase();
  const typeText = type || trigger ? `${type}^${trigger}` : undefined;
  const errors: Hl7Error[] = [];
  if (!type) errors.push(fatal(9, 101, 'MSH-9 (message type) is required'));
  else if (!TYPES.has(type))
    errors.push(fatal(9, 200, `message type ${type} is not supported (OML^O21, ORM^O01, ORU^R01)`, 1));
  else if (!SUPPORTED[`${type}^${trigger}`]) {
    errors.push(fatal(9, 201, `trigger event ${trigger || '(empty)'} is not supported for ${type}`, 2));
  }
  if (!control.version) errors.push(fatal(12, 101, 'MSH-12 (version id) is required'));
  else if (!VERSION.test(control.version))
    errors.push(fatal(12, 203, `HL7 version ${control.version} is not supported (2.3 to 2.9)`));
  if (errors.length) return fail(errors, warnings, control, typeText);
  const messageType = SUPPORTED[`${type}^${trigger}`];

  const issues = new Issues();
  issues.warnings.push(...warnings);
  if (!control.messageId) issues.error(msh.loc(10), 101, 'MSH-10 (message control id) is required');
  const sendApp = hdFrom(componentParts(msh, 3));
  const sendFac = hdFrom(componentParts(msh, 4));
  const recvApp = hdFrom(componentParts(msh, 5));
  const recvFac = hdFrom(componentParts(msh, 6));
  const isResult = messageType === 'ORU^R01';
  const ctx: Ctx = {
    opts,
    issues,
    d: parsed.delimiters,
    placerApp: isResult ? recvApp : sendApp,
    placerFac: isResult ? recvFac : sendFac,
    fillerApp: isResult ? sendApp : recvApp,
    fillerFac: isResult ? sendFac : recvFac,
  };
  const info: MessageInfo = {
    source: `${control.sendingApplication}|${control.sendingFacility}`,
    messageId: control.messageId,
  };
  const msh7 = msh.comp(7, 1);
  if (msh7) {
    const t = convertDtmAt(msh7, msh.loc(7), ctx, 'dateTime');
    if (t) {
      info.messageTime = t;
      info.messageInstant = convertDtmAt(msh7, msh.loc(7), ctx, 'instant');
    }
  }
  const structure = buildStructure(parsed);
  for (const s of structure.stray) issues.warn(s.loc(0), `${s.name} outside an order group: not mapped`);
  const mapped = isResult ? mapResults(structure, info, ctx) : mapOrders(structure, info, ctx);
  if (issues.failed) return fail(issues.errors, issues.warnings, control, messageType);
  if (mapped.items.length === 0) {
    issues.error({ segment: 'OBR', sequence: 1, field: 0 }, 100, 'the message yields no order or result');
    return fail(issues.errors, issues.warnings, control, messageType);
  }
  return { ok: true, messageType, control, items: mapped.items, details: mapped.details, warnings: issues.warnings };
}

/**
 * One HL7 v2 message (string or bytes; BOM, CR/LF/CRLF, ^~\&# all accepted) → canonical items. Never throws:
 * anything unexpected becomes a 207 error.
 */
export function translateHl7(message: string | Buffer | Uint8Array, options: Hl7Options = {}): Hl7TranslateResult {
  try {
    return translateInner(message, options);
  } catch (e) {
    const name = e instanceof Error ? e.name : 'unknown';
    return fail([fatal(0, 207, `internal error while translating the message (${name})`)], []);
  }
}

/** The ACK code for a translation: AA when accepted, AR for a message we cannot take at all, else AE. */
export function ackCodeFor(result: Hl7TranslateResult): 'AA' | 'AE' | 'AR' {
  return result.ok ? 'AA' : ackCodeForErrors(result.errors);
}

/**
 * The one ACK policy of every HL7 entry point (HTTP and MLLP), after HL7 v2 chapter 2: AE when the content has
 * errors the sender must fix; AR when the message is refused as a whole (unsupported type, event or version, an
 * unreadable header) — and AR 207 (built by the caller) when we cannot take it right now and it should be sent
 * again.
 */
export function ackCodeForErrors(errors: { severity: string; code: number }[]): 'AE' | 'AR' {
  const reject = errors.some((e) => e.severity === 'F' || e.code === 200 || e.code === 201 || e.code === 203);
  return reject ? 'AR' : 'AE';
}
