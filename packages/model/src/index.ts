export * from './types';
export { parseOrder, parseResultUpdate, parseCanonical, parseCanonicalJson, STRUCTURE_LIMITS } from './parse';
export type { ParseResult, ParseJsonOptions } from './parse';
export { checkOrderRules, checkResultRules } from './rules';
export { translateAjvErrors, capErrors, isSensitivePath, MAX_ERRORS, MAX_SHOWN_CHARS } from './errors';
export { DEFAULT_MAX_JSON_BYTES } from './json-text';
export { isValidDate, isValidTime, isBase64, instantRange } from './formats';
export type { DateFormatName } from './formats';
export { validators, commonSchema, orderSchema, resultUpdateSchema } from './validator';
