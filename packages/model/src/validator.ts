/**
 * The one ajv instance of the model: the schemas under ./schemas, compiled once, on first use
 * (packages that import only the types pay nothing).
 */
import Ajv2020, { type ErrorObject, type Format, type ValidateFunction } from 'ajv/dist/2020';
import { fullFormats } from 'ajv-formats/dist/formats';
import commonSchema from './schemas/common.schema.json';
import orderSchema from './schemas/bma-order.schema.json';
import resultUpdateSchema from './schemas/result-update.schema.json';
import { DATE_FORMATS, type DateFormatName, isBase64, isValidDate, isValidTime } from './formats';

export { commonSchema, orderSchema, resultUpdateSchema };

/** Longest URI the `uri` format looks at; longer strings fail (the schemas allow 500 characters). */
const MAX_URI_LENGTH = 2048;

function formatTest(f: Format): (s: string) => boolean {
  if (typeof f === 'function') return f;
  if (f instanceof RegExp) return (s) => f.test(s);
  if (typeof f === 'string') return (s) => new RegExp(f, 'u').test(s);
  if (f === true) return () => true;
  const v = f.validate;
  if (typeof v === 'function') return v as (s: string) => boolean;
  return formatTest(v);
}

function createAjv(allErrors: boolean): Ajv2020 {
  const ajv = new Ajv2020({
    allErrors,
    // parentSchema and data on every error: the messages name the field and show the offending value.
    verbose: true,
    discriminator: true,
    strict: true,
    strictTypes: true,
    strictTuples: true,
    // NaN and ±Infinity are not numbers here (they cannot come from JSON, but can from code).
    strictNumbers: true,
  });
  ajv.addVocabulary(['x-hint']);
  // ajv-formats' RFC 3986 check, behind a length guard so that a huge string is rejected without a long regex run.
  const uri = formatTest(fullFormats.uri);
  ajv.addFormat('uri', { type: 'string', validate: (s: string) => s.length <= MAX_URI_LENGTH && uri(s) });
  for (const name of Object.keys(DATE_FORMATS) as DateFormatName[]) {
    ajv.addFormat(name, { type: 'string', validate: (s: string) => isValidDate(name, s) });
  }
  ajv.addFormat('mb-time', { type: 'string', validate: isValidTime });
  ajv.addFormat('mb-base64', { type: 'string', validate: isBase64 });
  ajv.addSchema(commonSchema);
  return ajv;
}

export interface CompiledValidators {
  order: ValidateFunction;
  result: ValidateFunction;
}

const compiled: { all?: CompiledValidators; first?: CompiledValidators } = {};

function compile(allErrors: boolean): CompiledValidators {
  const ajv = createAjv(allErrors);
  return { order: ajv.compile(orderSchema), result: ajv.compile(resultUpdateSchema) };
}

/** The compiled validators that report every error (compiled on the first call, then reused). */
export function validators(): CompiledValidators {
  return (compiled.all ??= compile(true));
}

/**
 * Validators that stop at the first error, for large documents: with every error reported, a large
 * document full of mistakes would cost time in proportion to its mistakes. Compiled on first use.
 */
export function firstErrorValidators(): CompiledValidators {
  return (compiled.first ??= compile(false));
}

export type { ErrorObject };
