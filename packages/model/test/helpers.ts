import type { InputError, ParseResult } from '../src';

/** The errors of a failed result (fails the test when the result is ok). */
export function errorsOf<T>(r: ParseResult<T>): InputError[] {
  if (r.ok) throw new Error('expected the input to be rejected, but it was accepted');
  return r.errors;
}

/** Asserts that exactly one error has this path, and that its message contains every fragment. */
export function expectError<T>(r: ParseResult<T>, path: string, ...fragments: string[]): InputError {
  const errors = errorsOf(r);
  const at = errors.filter((e) => e.path === path);
  if (at.length !== 1) {
    throw new Error(`expected one error at "${path}", got ${at.length}: ${JSON.stringify(errors, null, 1)}`);
  }
  for (const f of fragments) expect(at[0].message).toContain(f);
  return at[0];
}

/** Asserts the result is ok, showing the errors when it is not. */
export function expectOk<T>(r: ParseResult<T>): T {
  if (!r.ok) throw new Error(`expected the input to be accepted: ${JSON.stringify(r.errors, null, 1)}`);
  return r.value;
}

/** A deep copy as a loosely typed object, to break on purpose. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loose(v: unknown): any {
  return structuredClone(v);
}
