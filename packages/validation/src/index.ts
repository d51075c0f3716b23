export type { StartupTimings } from './definitions';
export type { OutcomeSummary } from './issues';
export { hasErrors, summarize } from './issues';
export { parseJsonText } from './json-text';
export type { ParsedJson } from './json-text';
export type { CreateValidatorOptions, ValidateOptions, Validator } from './validator';
export { createValidator, sharedValidator, validate, validateJson } from './validator';
