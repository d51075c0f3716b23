/**
 * The one checking boundary for every external input: bytes in (canonical JSON or HL7 v2),
 * typed canonical messages and their FHIR transaction Bundles out, or an OperationOutcome saying
 * what is wrong. The CLI, the gateway and the queue's replay all go through here.
 */
import { MappingError, mapOrder, mapResultUpdate, type MappingOptions } from '@marrowbridge/fhir-mapping';
import { parseHl7Batch, translateHl7, type Hl7Error, type Hl7Options } from '@marrowbridge/hl7v2';
import { parseCanonicalJson, type CanonicalMessage, type InputError } from '@marrowbridge/model';
import type { Bundle, OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

export type InputFormat = 'json' | 'hl7v2';

export interface IntakeOptions {
  hl7?: Hl7Options;
  mapping?: MappingOptions;
  /** Largest input accepted, in bytes (default 25 MB). */
  maxBytes?: number;
}

export interface TranslatedItem {
  message: CanonicalMessage;
  bundle: Bundle;
}

export interface Hl7Control {
  messageId: string;
  sendingApplication: string;
  sendingFacility: string;
  version: string;
}

/** What became of one message (a JSON document, or one HL7 message of a batch). */
export type MessageResult =
  | {
      ok: true;
      format: InputFormat;
      raw?: string;
      hl7?: { control: Hl7Control; messageType: string };
      items: TranslatedItem[];
    }
  | {
      ok: false;
      format?: InputFormat;
      raw?: string;
      hl7?: { control?: Hl7Control };
      outcome: OperationOutcome;
      hl7Errors?: Hl7Error[];
    };

export const DEFAULT_MAX_BYTES = 25 * 1024 * 1024;

/** JSON when the first significant character is `{`; HL7 v2 when the text starts with MSH, FHS or BHS. */
export function detectFormat(input: Buffer | string): InputFormat | undefined {
  const head = (typeof input === 'string' ? input.slice(0, 64) : input.subarray(0, 64).toString('latin1'))
    .replace(/^\uFEFF|^\xEF\xBB\xBF/, '')
    .trimStart();
  if (head.startsWith('{')) return 'json';
  if (/^(MSH|FHS|BHS)./.test(head)) return 'hl7v2';
  return undefined;
}

/** Translates input of either format; one result per message (an HL7 batch gives several). */
export function translateInput(input: Buffer | string, options: IntakeOptions = {}): MessageResult[] {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > maxBytes) {
    return [
      { ok: false, outcome: singleIssue(`input is ${size} bytes; the limit is ${maxBytes} bytes`, 'too-costly') },
    ];
  }
  const format = detectFormat(input);
  if (format === 'json') return [translateJson(input, options)];
  if (format === 'hl7v2') return translateHl7Input(input, options);
  return [
    {
      ok: false,
      outcome: singleIssue(
        'input is neither canonical JSON (an object starting with "{") nor HL7 v2 (a message starting with MSH)',
        'structure',
      ),
    },
  ];
}

function translateJson(input: Buffer | string, options: IntakeOptions): MessageResult {
  const parsed = parseCanonicalJson(input, { maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES });
  if (!parsed.ok) return { ok: false, format: 'json', outcome: outcomeFromInputErrors(parsed.errors) };
  // JSON escapes can make strings that are not Unicode (a lone surrogate, "\ud800"); FHIR strings must be.
  const notUnicode = mayHoldLoneSurrogate(input) ? loneSurrogatePath(parsed.value) : undefined;
  if (notUnicode !== undefined) {
    return {
      ok: false,
      format: 'json',
      outcome: outcomeFromInputErrors([
        { path: notUnicode, message: 'is not valid Unicode text (it holds a lone UTF-16 surrogate escape)' },
      ]),
    };
  }
  const mapped = mapItems([parsed.value], options.mapping);
  if (!mapped.ok) return { ok: false, format: 'json', outcome: singleIssue(mapped.reason) };
  return { ok: true, format: 'json', items: mapped.items };
}

function translateHl7Input(input: Buffer | string, options: IntakeOptions): MessageResult[] {
  const batch = parseHl7Batch(input);
  const results: MessageResult[] = batch.errors.map((e) => ({
    ok: false as const,
    format: 'hl7v2' as const,
    outcome: outcomeFromHl7Errors([e]),
    hl7Errors: [e],
  }));
  for (const { text: raw } of batch.messages) {
    const r = translateHl7(raw, options.hl7);
    if (!r.ok) {
      results.push({
        ok: false,
        format: 'hl7v2',
        raw,
        hl7: { control: r.control },
        outcome: outcomeFromHl7Errors(r.errors),
        hl7Errors: r.errors,
      });
      continue;
    }
    const mapped = mapItems(r.items, options.mapping);
    if (!mapped.ok) {
      const errors: Hl7Error[] = [
        {
          segment: 'MSH',
          sequence: 1,
          field: 0,
          code: mapped.duplicateKey ? 205 : 102,
          severity: 'E',
          message: mapped.reason,
        },
      ];
      results.push({
        ok: false,
        format: 'hl7v2',
        raw,
        hl7: { control: r.control },
        outcome: outcomeFromHl7Errors(errors),
        hl7Errors: errors,
      });
      continue;
    }
    results.push({
      ok: true,
      format: 'hl7v2',
      raw,
      hl7: { control: r.control, messageType: r.messageType },
      items: mapped.items,
    });
  }
  return results;
}

/**
 * Maps each message to its Bundle. A message the mapping refuses (two results under one key, an issued time without
 * a UTC offset, …) is rejected with the reason, never thrown: input must not be able to make intake fail.
 */
function mapItems(
  messages: CanonicalMessage[],
  mapping?: MappingOptions,
): { ok: true; items: TranslatedItem[] } | { ok: false; reason: string; duplicateKey: boolean } {
  try {
    return {
      ok: true,
      items: messages.map((message) => ({
        message,
        bundle: message.kind === 'order' ? mapOrder(message, mapping) : mapResultUpdate(message, mapping),
      })),
    };
  } catch (err) {
    if (err instanceof MappingError) {
      return {
        ok: false,
        reason: `the message cannot be mapped to FHIR: ${err.message}`,
        duplicateKey: err.kind === 'duplicate-key',
      };
    }
    // Not a rule of the mapping: say which kind of failure, not its text (it may quote the input).
    const kind = err instanceof Error ? err.name : typeof err;
    return { ok: false, reason: `the message cannot be mapped to FHIR (${kind})`, duplicateKey: false };
  }
}

/**
 * False when the parsed document cannot hold a lone surrogate, so that the walk over all its values is skipped.
 * Bytes that parsed are valid UTF-8, which cannot encode a surrogate: one can only come from a \uD800–\uDFFF
 * escape, which starts with the bytes \ud or \uD. A string may hold one as it is: it is always walked.
 */
function mayHoldLoneSurrogate(input: Buffer | string): boolean {
  return typeof input === 'string' || input.includes('\\ud') || input.includes('\\uD');
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The JSON Pointer of the first string (or key) holding a lone surrogate, or undefined. */
function loneSurrogatePath(value: unknown): string | undefined {
  return loneSurrogateAt(value)?.join('');
}

/** The pointer's steps (`/key`) down to the first lone surrogate, built only when there is one. */
function loneSurrogateAt(value: unknown): string[] | undefined {
  if (typeof value === 'string') return LONE_SURROGATE.test(value) ? [] : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = loneSurrogateAt(value[i]);
      if (found !== undefined) return [`/${i}`, ...found];
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const k of Object.keys(value)) {
      if (LONE_SURROGATE.test(k)) return ['/(a key)'];
      const found = loneSurrogateAt((value as Record<string, unknown>)[k]);
      if (found !== undefined) return [`/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, ...found];
    }
  }
  return undefined;
}

/** Input that failed the canonical JSON Schema or the cross-field rules, as an OperationOutcome. */
export function outcomeFromInputErrors(errors: InputError[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: errors.map((e): OperationOutcomeIssue => ({
      severity: 'error',
      code: 'invalid',
      details: { text: e.path ? `${e.path} ${e.message}` : e.message },
      ...(e.path ? { expression: [e.path] } : {}),
    })),
  };
}

/** HL7 errors (segment, field, table 0357 code) as an OperationOutcome; the location goes in `expression`. */
export function outcomeFromHl7Errors(errors: Hl7Error[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: errors.map((e): OperationOutcomeIssue => {
      const location = hl7Location(e);
      return {
        severity: e.severity === 'F' ? 'fatal' : 'error',
        code: 'invalid',
        details: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0357', code: String(e.code) }],
          text: location ? `${location}: ${e.message}` : e.message,
        },
        ...(location ? { expression: [location] } : {}),
      };
    }),
  };
}

function hl7Location(e: Hl7Error): string | undefined {
  if (!e.segment) return undefined;
  let loc = e.segment;
  if (e.field) loc += `-${e.field}`;
  if (e.field && e.component) loc += `.${e.component}`;
  return loc;
}

/** One issue, for failures that are not about a particular field (unreadable file, unknown format). */
export function singleIssue(message: string, code: OperationOutcomeIssue['code'] = 'invalid'): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text: message } }] };
}
