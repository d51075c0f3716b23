/**
 * A small FHIRPath evaluator for the common shape of invariants (paths, where/all/exists/empty/
 * count/ofType/hasValue, =, !=, comparisons of numbers and plain strings, and/or/xor/implies,
 * not(), type(), unions, intersect() of an empty collection, string/number/boolean literals,
 * %ucum/%resource/%context, $this), working on plain JSON. It is several times faster than
 * @medplum/core's engine, which matters because invariants are evaluated on every validation. Whatever it does not cover (dates, arithmetic,
 * resolve(), extensions of primitives, types it cannot see in JSON, …) it declines, at compile
 * time or while evaluating, and the caller falls back to @medplum/core's engine. A test compares
 * both engines on every invariant over the example corpora.
 */
import { typeOfSuffix } from './element-index';
import { UCUM, isObject } from './common';

type Item = { readonly v: unknown; readonly t?: string };

type Node =
  | { readonly k: 'lit'; readonly value: string | number | boolean; readonly coll: Item[] }
  | { readonly k: 'empty' }
  | { readonly k: 'var'; readonly name: string }
  | { readonly k: 'this' }
  | {
      readonly k: 'name';
      readonly name: string;
      /** `_name` (the key of the primitive's extensions) and whether the name is a type name, worked out once. */
      readonly ext: string;
      readonly typeName: boolean;
      readonly from?: Node;
    }
  | { readonly k: 'fn'; readonly name: string; readonly args: Node[]; readonly from?: Node }
  | { readonly k: 'bin'; readonly op: string; readonly left: Node; readonly right: Node };

/** A compiled expression (opaque). */
export interface FastExpression {
  readonly node: Node;
}

/** Thrown (as a singleton, without a stack) when the evaluator declines: use the full engine. */
const DECLINE = { declined: true } as const;

const FUNCTIONS: ReadonlySet<string> = new Set([
  'exists',
  'empty',
  'not',
  'count',
  'hasValue',
  'where',
  'all',
  'first',
  'ofType',
  'length',
  'startsWith',
  'type',
  'intersect',
]);

// ---------------------------------------------------------------- tokenizer and parser

type Token = { readonly kind: 'id' | 'str' | 'num' | 'op' | 'var'; readonly text: string };

function tokenize(src: string): Token[] | undefined {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let j = i + 1;
      let text = '';
      while (j < src.length && src[j] !== "'") {
        if (src[j] === '\\') {
          const e = src[j + 1];
          const map: Record<string, string> = {
            "'": "'",
            '\\': '\\',
            '"': '"',
            '`': '`',
            '/': '/',
            n: '\n',
            t: '\t',
            r: '\r',
            f: '\f',
          };
          if (!(e in map)) return undefined;
          text += map[e];
          j += 2;
        } else {
          text += src[j++];
        }
      }
      if (j >= src.length) return undefined;
      out.push({ kind: 'str', text });
      i = j + 1;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ kind: 'num', text: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ kind: 'id', text: m[0] });
      i += m[0].length;
    } else if (c === '%' || c === '$') {
      const m = /^[%$][A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
      if (!m) return undefined;
      out.push({ kind: 'var', text: m[0] });
      i += m[0].length;
    } else {
      const two = src.slice(i, i + 2);
      if (two === '<=' || two === '>=' || two === '!=') {
        out.push({ kind: 'op', text: two });
        i += 2;
      } else if ('.(),=<>|{}'.includes(c)) {
        out.push({ kind: 'op', text: c });
        i++;
      } else {
        return undefined; // arithmetic, indexers, ~, @dates, backticks, …
      }
    }
  }
  return out;
}

/** A literal with its one-item collection, built once (evaluation never modifies a collection). */
function literal(value: string | number | boolean): Node {
  const t = typeof value === 'string' ? 'string' : typeof value === 'number' ? 'decimal' : 'boolean';
  return { k: 'lit', value, coll: [{ v: value, t }] };
}

class Parser {
  private i = 0;

  constructor(private readonly tokens: Token[]) {}

  parse(): Node {
    const node = this.implies();
    if (this.i !== this.tokens.length) throw DECLINE;
    return node;
  }

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private isOp(text: string): boolean {
    const t = this.peek();
    return !!t && t.kind === 'op' && t.text === text;
  }

  private isWord(text: string): boolean {
    const t = this.peek();
    return !!t && t.kind === 'id' && t.text === text;
  }

  private expect(text: string): void {
    if (!this.isOp(text)) throw DECLINE;
    this.i++;
  }

  private implies(): Node {
    let left = this.or();
    while (this.isWord('implies')) {
      this.i++;
      left = { k: 'bin', op: 'implies', left, right: this.or() };
    }
    return left;
  }

  private or(): Node {
    let left = this.and();
    while (this.isWord('or') || this.isWord('xor')) {
      const op = (this.tokens[this.i++] as Token).text;
      left = { k: 'bin', op, left, right: this.and() };
    }
    return left;
  }

  private and(): Node {
    let left = this.equality();
    while (this.isWord('and')) {
      this.i++;
      left = { k: 'bin', op: 'and', left, right: this.equality() };
    }
    return left;
  }

  private equality(): Node {
    let left = this.comparison();
    while (this.isOp('=') || this.isOp('!=')) {
      const op = (this.tokens[this.i++] as Token).text;
      left = { k: 'bin', op, left, right: this.comparison() };
    }
    return left;
  }

  private comparison(): Node {
    let left = this.union();
    while (this.isOp('<') || this.isOp('<=') || this.isOp('>') || this.isOp('>=')) {
      const op = (this.tokens[this.i++] as Token).text;
      left = { k: 'bin', op, left, right: this.union() };
    }
    return left;
  }

  private union(): Node {
    let left = this.term();
    while (this.isOp('|')) {
      this.i++;
      left = { k: 'bin', op: '|', left, right: this.term() };
    }
    if (this.isWord('is') || this.isWord('as') || this.isWord('in') || this.isWord('contains')) {
      throw DECLINE;
    }
    return left;
  }

  private term(): Node {
    let node = this.primary(undefined);
    while (this.isOp('.')) {
      this.i++;
      node = this.invocation(node);
    }
    return node;
  }

  private primary(from: Node | undefined): Node {
    const t = this.peek();
    if (!t) throw DECLINE;
    if (t.kind === 'str') {
      this.i++;
      return literal(t.text);
    }
    if (t.kind === 'num') {
      this.i++;
      return literal(Number(t.text));
    }
    if (t.kind === 'var') {
      this.i++;
      return t.text === '$this' ? { k: 'this' } : { k: 'var', name: t.text };
    }
    if (t.kind === 'op' && t.text === '(') {
      this.i++;
      const inner = this.implies();
      this.expect(')');
      return inner;
    }
    if (t.kind === 'op' && t.text === '{') {
      this.i++;
      this.expect('}');
      return { k: 'empty' };
    }
    if (t.kind === 'id') {
      if (t.text === 'true' || t.text === 'false') {
        this.i++;
        return literal(t.text === 'true');
      }
      return this.invocation(from);
    }
    throw DECLINE;
  }

  private invocation(from: Node | undefined): Node {
    const t = this.peek();
    if (!t || t.kind !== 'id') throw DECLINE;
    this.i++;
    if (this.isOp('(')) {
      this.i++;
      if (!FUNCTIONS.has(t.text)) throw DECLINE;
      const args: Node[] = [];
      if (!this.isOp(')')) {
        if (t.text === 'ofType') {
          const type = this.peek();
          if (!type || type.kind !== 'id') throw DECLINE;
          this.i++;
          args.push(literal(type.text));
        } else {
          args.push(this.implies());
          while (this.isOp(',')) {
            this.i++;
            args.push(this.implies());
          }
        }
      }
      this.expect(')');
      return { k: 'fn', name: t.text, args, from };
    }
    return { k: 'name', name: t.text, ext: `_${t.text}`, typeName: /^[A-Z]/.test(t.text), from };
  }
}

const compiled = new Map<string, FastExpression | null>();

/** Compile an expression once; undefined when it uses something this evaluator does not cover. */
export function compileFast(expression: string): FastExpression | undefined {
  let c = compiled.get(expression);
  if (c === undefined) {
    const tokens = tokenize(expression);
    c = null;
    if (tokens) {
      try {
        c = { node: new Parser(tokens).parse() };
      } catch {
        c = null;
      }
    }
    compiled.set(expression, c);
  }
  return c ?? undefined;
}

// ---------------------------------------------------------------- evaluation

interface Env {
  readonly resource: Item;
  readonly rootResource: Item;
  readonly context: Item;
  readonly self: Item | undefined;
}

function itemOf(v: unknown, t?: string): Item {
  if (t === undefined && isObject(v) && typeof v.resourceType === 'string') {
    return { v, t: v.resourceType };
  }
  return t === undefined ? { v } : { v, t };
}

function navigate(focus: Item[], step: Extract<Node, { k: 'name' }>, first: boolean): Item[] {
  const { name, ext } = step;
  const out: Item[] = [];
  for (const item of focus) {
    const obj = item.v;
    if (!isObject(obj)) {
      continue;
    }
    if (first && step.typeName) {
      // A type name as the first step (`Observation.value`): only the focus of that type.
      if (obj.resourceType === name) {
        out.push(item);
        continue;
      }
      throw DECLINE;
    }
    if (obj[ext] !== undefined) {
      throw DECLINE; // a primitive with extensions: element semantics beyond the JSON value
    }
    const direct = obj[name];
    if (direct !== undefined) {
      if (Array.isArray(direct)) {
        for (const x of direct) {
          if (x !== null && x !== undefined) out.push(itemOf(x));
        }
      } else if (direct !== null) {
        out.push(itemOf(direct));
      }
      continue;
    }
    for (const key of Object.keys(obj)) {
      if (key.length > name.length && key.startsWith(name) && isUpper(key, name.length)) {
        const v = obj[key];
        if (v !== null && v !== undefined && !Array.isArray(v)) {
          out.push(itemOf(v, typeOfSuffix(key.slice(name.length))));
        }
      } else if (key.length > ext.length && key.startsWith(ext) && isUpper(key, ext.length)) {
        throw DECLINE;
      }
    }
  }
  return out;
}

/** True when the character at `i` is an ASCII capital (a choice type suffix starts there). */
function isUpper(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 65 && c <= 90;
}

/** Boolean value of a collection in a logical context: undefined for empty. */
function toBool(c: Item[]): boolean | undefined {
  if (c.length === 0) return undefined;
  if (c.length === 1 && typeof c[0].v === 'boolean') return c[0].v;
  throw DECLINE;
}

function boolColl(b: boolean | undefined): Item[] {
  return b === undefined ? [] : [{ v: b, t: 'boolean' }];
}

function singleton(c: Item[]): unknown {
  if (c.length !== 1) throw DECLINE;
  return c[0].v;
}

const UCUM_COLL: Item[] = [{ v: UCUM, t: 'string' }];
const TRUE: Item[] = [{ v: true, t: 'boolean' }];
const FALSE: Item[] = [{ v: false, t: 'boolean' }];

function looksTemporal(s: string): boolean {
  return /^\d{4}(-|$)|^T?\d{2}:\d{2}/.test(s);
}

function compare(op: string, left: Item[], right: Item[]): Item[] {
  if (left.length === 0 || right.length === 0) return [];
  const a = singleton(left);
  const b = singleton(right);
  if (op === '=' || op === '!=') {
    if (typeof a === 'object' || typeof b === 'object') throw DECLINE;
    if (
      typeof a === 'string' &&
      typeof b === 'string' &&
      looksTemporal(a) &&
      looksTemporal(b) &&
      a.length !== b.length
    ) {
      throw DECLINE; // dates of different precision
    }
    const eq =
      typeof a === 'number' || typeof b === 'number' ? Number(a) === Number(b) && typeof a === typeof b : a === b;
    return (op === '=') === eq ? TRUE : FALSE;
  }
  let r: number;
  if (typeof a === 'number' && typeof b === 'number') {
    r = a - b;
  } else if (typeof a === 'string' && typeof b === 'string' && !looksTemporal(a) && !looksTemporal(b)) {
    r = a < b ? -1 : a > b ? 1 : 0;
  } else {
    throw DECLINE;
  }
  const ok = op === '<' ? r < 0 : op === '<=' ? r <= 0 : op === '>' ? r > 0 : r >= 0;
  return ok ? TRUE : FALSE;
}

function union(a: Item[], b: Item[]): Item[] {
  const out: Item[] = [];
  for (const x of [...a, ...b]) {
    if (!out.some((y) => y.v === x.v)) out.push(x);
  }
  return out;
}

function evaluate(node: Node, focus: Item[], env: Env, atRoot: boolean): Item[] {
  switch (node.k) {
    case 'lit':
      return node.coll;
    case 'empty':
      return [];
    case 'this':
      if (!env.self) throw DECLINE;
      return [env.self];
    case 'var':
      switch (node.name) {
        case '%ucum':
          return UCUM_COLL;
        case '%resource':
          return [env.resource];
        case '%rootResource':
          return [env.rootResource];
        case '%context':
          return [env.context];
        default:
          throw DECLINE;
      }
    case 'name': {
      const base = node.from ? evaluate(node.from, focus, env, atRoot) : focus;
      return navigate(base, node, !node.from && atRoot);
    }
    case 'fn':
      return callFunction(node, node.from ? evaluate(node.from, focus, env, atRoot) : focus, env);
    case 'bin': {
      if (node.op === '|') {
        return union(evaluate(node.left, focus, env, atRoot), evaluate(node.right, focus, env, atRoot));
      }
      if (node.op === 'and' || node.op === 'or' || node.op === 'xor' || node.op === 'implies') {
        const l = toBool(evaluate(node.left, focus, env, atRoot));
        if (node.op === 'and' && l === false) return FALSE;
        if (node.op === 'or' && l === true) return TRUE;
        if (node.op === 'implies' && l === false) return TRUE;
        const r = toBool(evaluate(node.right, focus, env, atRoot));
        switch (node.op) {
          case 'and':
            return boolColl(l === true && r === true ? true : r === false ? false : undefined);
          case 'or':
            return boolColl(r === true ? true : l === false && r === false ? false : undefined);
          case 'xor':
            return boolColl(l === undefined || r === undefined ? undefined : l !== r);
          default:
            // implies with l true or empty
            return boolColl(l === true ? r : r === true ? true : undefined);
        }
      }
      return compare(node.op, evaluate(node.left, focus, env, atRoot), evaluate(node.right, focus, env, atRoot));
    }
  }
}

function callFunction(node: Extract<Node, { k: 'fn' }>, input: Item[], env: Env): Item[] {
  const args = node.args;
  switch (node.name) {
    case 'exists':
      if (args.length === 0) return input.length > 0 ? TRUE : FALSE;
      return input.some((x) => toBool(evaluate(args[0], [x], { ...env, self: x }, false)) === true) ? TRUE : FALSE;
    case 'empty':
      return input.length === 0 ? TRUE : FALSE;
    case 'not': {
      const b = toBool(input);
      return b === undefined ? [] : b ? FALSE : TRUE;
    }
    case 'count':
      return [{ v: input.length, t: 'integer' }];
    case 'hasValue':
      return input.length === 1 &&
        (typeof input[0].v === 'string' || typeof input[0].v === 'number' || typeof input[0].v === 'boolean')
        ? TRUE
        : FALSE;
    case 'where':
      return input.filter((x) => toBool(evaluate(args[0], [x], { ...env, self: x }, false)) === true);
    case 'all':
      return input.every((x) => toBool(evaluate(args[0], [x], { ...env, self: x }, false)) === true) ? TRUE : FALSE;
    case 'first':
      return input.length > 0 ? [input[0]] : [];
    case 'ofType': {
      const type = (args[0] as { value: string }).value;
      return input.filter((x) => {
        if (x.t === undefined) throw DECLINE;
        return x.t === type;
      });
    }
    case 'type':
      return input.map((x) => {
        if (x.t === undefined) throw DECLINE;
        return { v: { namespace: 'FHIR', name: x.t }, t: 'TypeInfo' };
      });
    case 'length': {
      if (input.length === 0) return [];
      const v = singleton(input);
      if (typeof v !== 'string') throw DECLINE;
      return [{ v: [...v].length, t: 'integer' }];
    }
    case 'startsWith': {
      if (input.length === 0) return [];
      const v = singleton(input);
      const prefix = singleton(evaluate(args[0], [], env, false));
      if (typeof v !== 'string' || typeof prefix !== 'string') throw DECLINE;
      return v.startsWith(prefix) ? TRUE : FALSE;
    }
    case 'intersect':
      // Only the empty input is covered (obs-7 reaches it for every Observation without components).
      if (input.length === 0) return [];
      throw DECLINE;
    default:
      throw DECLINE;
  }
}

/**
 * Evaluate an invariant on a value: true/false when the expression gave a single boolean (or
 * anything else: false), undefined when this evaluator declines (use the full engine then).
 */
export function evaluateFast(
  expr: FastExpression,
  value: unknown,
  type: string | undefined,
  resource: unknown,
  rootResource: unknown,
): boolean | undefined {
  const self = itemOf(value, type);
  const env: Env = {
    resource: itemOf(resource),
    rootResource: itemOf(rootResource),
    context: self,
    self,
  };
  try {
    const out = evaluate(expr.node, [self], env, true);
    return out.length === 1 && out[0].v === true;
  } catch (err) {
    if (err === DECLINE) return undefined;
    throw err;
  }
}
