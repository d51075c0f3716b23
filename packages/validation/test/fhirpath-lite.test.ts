/**
 * The fast invariant evaluator must agree with @medplum/core's FHIRPath engine wherever it does
 * not decline: compared on every invariant of every typed node of the example corpora.
 */
import { loadStructureDefinitions } from '@marrowbridge/fhir-profiles';
import type { TypedValue } from '@medplum/core';
import { evalFhirPathTyped, toTypedValue, tryGetDataType } from '@medplum/core';
import { loadBaseR4 } from '../src/definitions';
import { corpusResources, hasExternalCorpora } from './fixtures';
import { compileFast, evaluateFast } from '../src/fhirpath-lite';

loadBaseR4();

function medplum(expression: string, node: TypedValue, root: TypedValue): boolean {
  const out = evalFhirPathTyped(expression, [node], {
    '%context': node,
    '%resource': root,
    '%rootResource': root,
    '%ucum': { type: 'string', value: 'http://unitsofmeasure.org' },
  });
  return out.length === 1 && out[0].value === true;
}

describe('fast FHIRPath evaluator', () => {
  it('follows three-valued logic and declines what it does not cover', () => {
    const obs = {
      resourceType: 'Observation',
      status: 'final',
      effectiveDateTime: '2021-03-04',
      valueQuantity: { value: 3, code: 'mL' },
    };
    const ev = (e: string): boolean | undefined => evaluateFast(compileFast(e)!, obs, 'Observation', obs, obs);
    expect(ev("status = 'final' and value.ofType(Quantity).value > 2")).toBe(true);
    expect(ev('issued.exists() implies effective.exists()')).toBe(true); // false implies anything
    expect(ev('(issued = status) implies true')).toBe(true);
    expect(ev('(issued = status) and true')).toBe(false); // empty and true = empty: not true
    expect(ev("value.ofType(Quantity).code.startsWith('m')")).toBe(true);
    expect(ev("%resource.type().name = 'Observation'")).toBe(true);
    expect(compileFast('value + 1 > 2')).toBeUndefined(); // arithmetic: not covered
    expect(compileFast('reference.resolve().exists()')).toBeUndefined();
    expect(ev("effective.ofType(dateTime) <= '2020'")).toBeUndefined(); // dates of different precision: declined
  });

  it('covers intersect() of an empty collection only (obs-7 on an Observation without components)', () => {
    const obs7 = compileFast(
      'value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()',
    )!;
    const plain = { resourceType: 'Observation', code: { coding: [{ code: 'a' }] }, valueString: 'x' };
    const withComponent = { ...plain, component: [{ code: { coding: [{ code: 'b' }] } }] };
    expect(evaluateFast(obs7, plain, 'Observation', plain, plain)).toBe(true);
    expect(evaluateFast(obs7, withComponent, 'Observation', withComponent, withComponent)).toBeUndefined();
  });

  it('agrees with @medplum/core on every invariant over the example corpora', () => {
    const resources = corpusResources();
    const profileInvariants = loadStructureDefinitions().flatMap((sd) =>
      (sd.snapshot?.element ?? []).flatMap((e) =>
        (e.constraint ?? [])
          .filter((c) => c.key?.startsWith('bma-'))
          .map((c) => ({ type: sd.type as string, path: e.path as string, expression: c.expression as string })),
      ),
    );
    let compared = 0;
    let falses = 0;
    const mismatches: string[] = [];
    for (const r of resources) {
      const root = toTypedValue(r);
      let nodes: TypedValue[];
      try {
        nodes = [root, ...evalFhirPathTyped('descendants()', [root])];
      } catch {
        continue;
      }
      const checks: { node: TypedValue; key: string; expression: string }[] = [];
      for (const node of nodes) {
        for (const c of tryGetDataType(node.type)?.constraints ?? []) {
          checks.push({ node, key: c.key, expression: c.expression });
        }
      }
      for (const inv of profileInvariants.filter((p) => p.type === r.resourceType)) {
        const rel = inv.path.split('.').slice(1).join('.');
        for (const node of rel ? evalFhirPathTyped(rel, [root]) : [root]) {
          checks.push({ node, key: 'profile', expression: inv.expression });
        }
      }
      for (const c of checks) {
        const fast = compileFast(c.expression);
        const result = fast ? evaluateFast(fast, c.node.value, c.node.type, r, r) : undefined;
        if (result === undefined) continue;
        let reference: boolean;
        try {
          reference = medplum(c.expression, c.node, root);
        } catch {
          continue;
        }
        compared++;
        if (!reference) falses++;
        if (result !== reference)
          mismatches.push(`${r.resourceType} ${c.node.type} ${c.key}: fast ${result}, medplum ${reference}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(hasExternalCorpora() ? 500 : 200);
    expect(falses).toBeGreaterThan(5);
  });
});
