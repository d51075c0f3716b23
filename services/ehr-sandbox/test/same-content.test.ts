import type { Resource } from '@medplum/fhirtypes';
import { makeRandom } from '../src/faults';
import { canonicalContent, sameContent } from '../src/repo';

// sameContent walks both resources in place; its answer must be the one of the canonical text comparison
// (stringify, meta.versionId/lastUpdated removed, keys sorted) on any pair, including empty values that
// stringify drops, key order, kept nulls inside arrays and values JSON cannot hold.

type Random = () => number;

function pick<T>(r: Random, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

const KEYS = ['status', 'code', 'value', 'system', 'display', 'text', 'extension', 'item', 'id', 'note'];
// Primitives that are easy to confuse after serialization: 0/false/'0', 1/'1', -0, spaces.
const PRIMITIVES: readonly unknown[] = ['a', 'b', 'A', ' ', '0', '1', 0, -0, 1, 1.5, 1e21, true, false];
const EMPTIES: readonly unknown[] = [undefined, null, '', {}, [], [null], [''], { x: undefined }, [{}, []]];

/** A fresh copy of one of the empty values (mutations change containers in place). */
function anEmpty(r: Random): unknown {
  return copy(pick(r, EMPTIES));
}
// Values JSON cannot hold (sameContent hands these to the canonical comparison).
const NOT_JSON: readonly (() => unknown)[] = [
  () => NaN,
  () => Infinity,
  () => () => 1,
  () => new Date(0),
  () => ({ toJSON: () => 'a' }),
  () => Object.create({ inherited: 1 }) as unknown,
];

function randomValue(r: Random, depth: number): unknown {
  const x = r();
  if (x < 0.12) {
    return anEmpty(r);
  }
  if (x < 0.13) {
    return pick(r, NOT_JSON)();
  }
  if (depth <= 0 || x < 0.55) {
    return pick(r, PRIMITIVES);
  }
  if (x < 0.75) {
    return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth - 1));
  }
  return randomObject(r, depth - 1);
}

function randomObject(r: Random, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const n = Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    out[pick(r, KEYS)] = randomValue(r, depth);
  }
  return out;
}

function randomMeta(r: Random): unknown {
  const x = r();
  if (x < 0.2) {
    return undefined;
  }
  if (x < 0.25) {
    return anEmpty(r);
  }
  const meta: Record<string, unknown> = {};
  if (r() < 0.8) meta.versionId = pick(r, ['1', '2', '']);
  if (r() < 0.6) meta.lastUpdated = pick(r, ['2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z']);
  if (r() < 0.3) meta.profile = pick(r, [['http://x.org/p'], [], ['']]);
  if (r() < 0.2) meta.source = pick(r, ['s', '', undefined]);
  return meta;
}

function randomResource(r: Random): Resource {
  const resource: Record<string, unknown> = { resourceType: 'Observation', id: pick(r, ['o1', 'o2']) };
  Object.assign(resource, randomObject(r, 3));
  resource.resourceType = 'Observation';
  const meta = randomMeta(r);
  if (meta !== undefined || r() < 0.5) {
    resource.meta = meta;
  }
  return resource as unknown as Resource;
}

/** A structural copy that keeps undefined, functions and other odd values as they are. */
function copy(v: unknown): unknown {
  if (Array.isArray(v)) {
    return v.map(copy);
  }
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copy(x)]));
  }
  return v;
}

/** The containers (objects, arrays) inside a value, itself included. */
function containers(
  v: unknown,
  out: (Record<string, unknown> | unknown[])[] = [],
): (Record<string, unknown> | unknown[])[] {
  if (Array.isArray(v)) {
    out.push(v);
    v.forEach((x) => containers(x, out));
  } else if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    out.push(v as Record<string, unknown>);
    Object.values(v).forEach((x) => containers(x, out));
  }
  return out;
}

function shuffleKeys(o: Record<string, unknown>, r: Random): void {
  const entries = Object.entries(o).sort(() => r() - 0.5);
  for (const k of Object.keys(o)) delete o[k];
  for (const [k, v] of entries) o[k] = v;
}

/** One small change somewhere in the resource: most keep the content, some change it. */
function mutate(resource: Resource, r: Random): Resource {
  const root = copy(resource) as Record<string, unknown>;
  const steps = 1 + Math.floor(r() * 3);
  for (let s = 0; s < steps; s++) {
    const targets = containers(root);
    const t = pick(r, targets);
    const op = r();
    if (Array.isArray(t)) {
      if (t.length === 0 || op < 0.3) {
        t.push(op < 0.15 ? anEmpty(r) : randomValue(r, 1));
      } else if (op < 0.5) {
        t.splice(Math.floor(r() * t.length), 1);
      } else if (op < 0.7) {
        t[Math.floor(r() * t.length)] = op < 0.6 ? anEmpty(r) : pick(r, PRIMITIVES);
      } else {
        t.reverse();
      }
      continue;
    }
    const keys = Object.keys(t);
    if (op < 0.2) {
      shuffleKeys(t, r);
    } else if (op < 0.35) {
      t[pick(r, KEYS)] = anEmpty(r);
    } else if (op < 0.5 && keys.length) {
      delete t[pick(r, keys)];
    } else if (op < 0.65 && keys.length) {
      t[pick(r, keys)] = pick(r, PRIMITIVES);
    } else if (op < 0.75) {
      t[pick(r, KEYS)] = randomValue(r, 2);
    } else if (op < 0.9) {
      // The version fields: ignored at the top level only.
      const meta = (t === root ? ((root.meta ??= {}) as Record<string, unknown>) : t) as Record<string, unknown>;
      if (meta && typeof meta === 'object') {
        meta[pick(r, ['versionId', 'lastUpdated'])] = pick(r, ['3', '', undefined, '2026-03-01T00:00:00.000Z']);
      }
    } else {
      root.meta = op < 0.95 ? randomMeta(r) : pick(r, ['m', 5, true, ['x']] as const);
    }
  }
  return root as unknown as Resource;
}

/** The answer, or what was thrown (a resource left with nothing at all cannot be compared). */
function answer(fn: () => boolean): boolean | string {
  try {
    return fn();
  } catch (err) {
    return `throws ${String(err)}`;
  }
}

test('sameContent gives the canonical comparison’s answer on randomly mutated pairs', () => {
  const r = makeRandom(20260311); // seeded: a failure can be replayed
  const counts = { same: 0, different: 0, throws: 0 };
  for (let i = 0; i < 6000; i++) {
    const a = randomResource(r);
    const b = r() < 0.1 ? randomResource(r) : mutate(a, r);
    const expected = answer(() => canonicalContent(a) === canonicalContent(b));
    const actual = [answer(() => sameContent(a, b)), answer(() => sameContent(b, a))];
    if (actual[0] !== expected || actual[1] !== expected) {
      // Shown in full so that the pair can be looked at.
      expect({ i, a, b, actual }).toEqual({ i, a, b, actual: [expected, expected] });
    }
    counts[expected === true ? 'same' : expected === false ? 'different' : 'throws']++;
  }
  // Both answers must be common, or the comparison proves little.
  expect(counts.same).toBeGreaterThan(1000);
  expect(counts.different).toBeGreaterThan(1000);
});

test('sameContent on the cases stringify treats specially', () => {
  const obs = (extra: object): Resource => ({ resourceType: 'Observation', status: 'final', ...extra }) as Resource;
  const pairs: [Resource, Resource, boolean][] = [
    [obs({ meta: { versionId: '1', lastUpdated: 'x' } }), obs({}), true],
    [obs({ meta: { versionId: '1', source: 's' } }), obs({ meta: { source: 's' } }), true],
    [obs({ meta: { source: 's' } }), obs({}), false],
    [obs({ note: [] }), obs({ note: [{ text: '' }] }), true],
    [obs({ note: [null, { text: 'a' }] }), obs({ note: [{}, { text: 'a' }] }), true],
    [obs({ note: [null, { text: 'a' }] }), obs({ note: [{ text: 'a' }] }), false],
    [obs({ valueInteger: 0 }), obs({ valueInteger: false }), false],
    [obs({ valueInteger: 0 }), obs({ valueInteger: -0 }), true],
    [
      obs({ contained: [{ resourceType: 'Patient', meta: { versionId: '1' } }] }),
      obs({ contained: [{ resourceType: 'Patient' }] }),
      false,
    ],
    [obs({ valueQuantity: { value: NaN } }), obs({ valueQuantity: { value: null } }), false],
    [obs({ note: [NaN, 'a'] }), obs({ note: [null, 'a'] }), true],
  ];
  for (const [a, b, expected] of pairs) {
    expect({ a, b, same: sameContent(a, b) }).toEqual({ a, b, same: expected });
    expect(canonicalContent(a) === canonicalContent(b)).toBe(expected);
  }
});
