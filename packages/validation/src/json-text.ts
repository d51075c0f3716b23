import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

export type ParsedJson = { ok: true; value: unknown } | { ok: false; issue: OperationOutcomeIssue };

function lineAndColumn(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < position && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, column: position - last };
}

/**
 * Parse FHIR JSON strictly (RFC 8259: no comments, trailing commas or unquoted names). A parse
 * error becomes a fatal issue with the line and column; the message never quotes the input.
 */
export function parseJsonText(text: string): ParsedJson {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // V8 may append a quoted excerpt of the input (`..., "...text..." is not valid JSON`): drop it.
    const reason = message
      .replace(/,? ".*" is not valid JSON$/s, '')
      .replace(/ in JSON at position \d+.*$/s, '')
      .replace(/^Unexpected token '(.)'.*$/s, "Unexpected character '$1'")
      .trim();
    const pos = /at position (\d+)/.exec(message);
    const where = pos ? lineAndColumn(body, Number(pos[1])) : undefined;
    return {
      ok: false,
      issue: {
        severity: 'fatal',
        code: 'invalid',
        details: {
          text: `The content is not valid JSON${where ? ` (line ${where.line}, column ${where.column})` : ''}: ${reason || 'parse error'}. FHIR JSON must be strict JSON: no comments, no trailing commas, property names in double quotes`,
        },
        diagnostics: where ? `[${where.line},${where.column}] JSON.parse` : 'JSON.parse',
      },
    };
  }
}
