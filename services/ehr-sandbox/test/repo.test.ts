import { parseSearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { makeRandom } from '../src/faults';
import { loadR4Definitions } from '../src/fhir/definitions';
import { matchesSearch, SandboxRepository } from '../src/repo';
import { isTokenSearch } from '../src/token-index';

// Identifier searches come from an index; these tests hold it to what a scan of the store finds.

const TYPES = ['Patient', 'Observation'] as const;
// Upper and lower case, a `|` inside a system or value, a comma, a letter whose lowercase is longer.
const SYSTEMS = [undefined, '', 'urn:oid:1.2.3', 'URN:OID:1.2.3', 'http://x.org/a|b', 'http://x.org/a', 'İs'];
const VALUES = [undefined, '', 'v1', 'V1', 'b|v1', 'v,2', 'İx'];

/** Every query form of the token semantics, over the systems and values above. */
function queries(ids: string[]): string[] {
  const out = new Set<string>();
  const enc = encodeURIComponent;
  for (const s of SYSTEMS) {
    for (const v of VALUES) {
      out.add(`identifier=${enc(s ?? '')}|${enc(v ?? '')}`);
      out.add(`identifier=${enc(v ?? '')}`);
      out.add(`identifier=${enc((s ?? '').toUpperCase())}|${enc((v ?? '').toLowerCase())}`);
    }
  }
  out.add(`identifier=v1,${enc('urn:oid:1.2.3|V1')}`);
  out.add(`identifier=${enc('v\\,2')}`);
  out.add(`identifier=v1&identifier=${enc('urn:oid:1.2.3|')}`);
  for (const id of ids.slice(0, 4)) {
    out.add(`_id=${id}`);
    out.add(`_id=${id},nope&identifier=v1`);
  }
  return [...out];
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function randomResource(r: () => number, resourceType: string, id: string): Resource {
  const identifier = Array.from({ length: Math.floor(r() * 3) }, () => {
    const system = pick(r, SYSTEMS);
    // Neither system nor value would be stored as a null element (see the irregular case below).
    return { system, value: system ? pick(r, VALUES) : pick(r, VALUES.slice(2)) };
  });
  return { resourceType, id, identifier, status: pick(r, ['a', 'b']) } as unknown as Resource;
}

/** The ids found, or the error thrown (a scan throws on some malformed identifiers; so must the index). */
async function outcome(find: () => Promise<string[]>): Promise<string[] | string> {
  try {
    return await find();
  } catch (err) {
    return `throws ${(err as Error).message}`;
  }
}

async function idsBySearch(repo: SandboxRepository, type: string, query: string): Promise<string[]> {
  const bundle = await repo.search(parseSearchRequest(`${type}?${query}`));
  expect(bundle.total).toBe(bundle.entry?.length ?? 0);
  return (bundle.entry ?? []).map((e) => e.resource?.id as string);
}

/** What the search would find by checking every stored resource with the token matcher, in the store's order. */
async function idsByScan(repo: SandboxRepository, type: string, query: string): Promise<string[]> {
  const all = await repo.search({ resourceType: type as 'Patient', filters: [] });
  const search = parseSearchRequest(`${type}?${query}`);
  return (all.entry ?? [])
    .map((e) => e.resource as Resource)
    .filter((r) => matchesSearch(r, search))
    .map((r) => r.id as string);
}

async function expectIndexMatchesScan(repo: SandboxRepository): Promise<number> {
  let found = 0;
  for (const type of TYPES) {
    const ids = Object.keys(repo.countByType()).includes(type)
      ? ((await repo.search({ resourceType: type, filters: [] })).entry ?? []).map((e) => e.resource?.id as string)
      : [];
    for (const q of queries(ids)) {
      const expected = await outcome(() => idsByScan(repo, type, q));
      const actual = await outcome(() => idsBySearch(repo, type, q));
      expect({ type, q, ids: actual }).toEqual({ type, q, ids: expected });
      found += Array.isArray(expected) ? expected.length : 0;
    }
  }
  return found;
}

/** The whole store, order included (maps → arrays). */
function contents(repo: SandboxRepository): unknown {
  const s = repo.snapshot();
  const flat = <V>(m: Map<string, Map<string, V>>): unknown => [...m].map(([t, byId]) => [t, [...byId]]);
  return { resources: flat(s.resources), history: flat(s.history) };
}

beforeAll(() => {
  loadR4Definitions();
});

describe('identifier index', () => {
  test('searches find exactly what a scan finds, after creates, updates, deletes, rollbacks and restores', async () => {
    // Seeded, so a failure can be replayed.
    const r = makeRandom(20260305);
    const repo = new SandboxRepository();
    const ids = Array.from({ length: 12 }, (_, i) => `r${i}`);
    let found = 0;
    for (let step = 0; step < 60; step++) {
      const type = pick(r, TYPES);
      const id = pick(r, ids);
      const op = r();
      if (op < 0.45) {
        await repo.updateResource(randomResource(r, type, id));
      } else if (op < 0.6) {
        if (repo.peek(type, id)) {
          await repo.deleteResource(type, id);
        }
      } else if (op < 0.65) {
        await repo.expungeResource(type, id);
      } else if (op < 0.85) {
        // A unit of work that fails halfway: everything it wrote is undone.
        const before = contents(repo);
        await expect(
          repo.atomically(async () => {
            await repo.updateResource(randomResource(r, type, id));
            await repo.createResource(randomResource(r, pick(r, TYPES), `new-${step}`));
            const other = pick(r, ids);
            if (repo.peek(type, other)) {
              await repo.deleteResource(type, other);
            }
            await repo.updateResource(randomResource(r, 'Specimen', `s-${step}`));
            throw new Error('fails');
          }),
        ).rejects.toThrow('fails');
        expect(contents(repo)).toEqual(before);
      } else if (op < 0.95) {
        const snapshot = repo.snapshot();
        await repo.updateResource(randomResource(r, type, id));
        repo.restore(snapshot);
      } else {
        // Malformed identifiers (validation is optional): not an array; an element stored as null.
        const identifier = pick(r, ['not-an-array', [{ system: '' }], [{ value: 7 }]]);
        await repo.updateResource({ resourceType: type, id, identifier } as unknown as Resource);
      }
      found += await expectIndexMatchesScan(repo);
    }
    // The queries must have found something, or the comparison proves little.
    expect(found).toBeGreaterThan(100);
    repo.clear();
    expect(await idsBySearch(repo, 'Patient', 'identifier=v1')).toEqual([]);
  });

  test('matches come in the store’s order, also after a delete and a re-create', async () => {
    const repo = new SandboxRepository();
    for (const id of ['a', 'b', 'c']) {
      await repo.updateResource({ resourceType: 'Patient', id, identifier: [{ system: 'S', value: id }] });
    }
    await repo.deleteResource('Patient', 'a');
    await repo.updateResource({ resourceType: 'Patient', id: 'a', identifier: [{ system: 's', value: 'A' }] });
    await repo.updateResource({ resourceType: 'Patient', id: 'b', identifier: [{ system: 's', value: 'B2' }] });
    expect(await idsBySearch(repo, 'Patient', 'identifier=s|')).toEqual(['b', 'c', 'a']);
    expect(await idsBySearch(repo, 'Patient', 'identifier=s|b')).toEqual([]);
    expect(await idsBySearch(repo, 'Patient', 'identifier=S|b2')).toEqual(['b']);
  });

  test('types whose identifier parameter is not their own Identifier list are searched as the scan does', async () => {
    const repo = new SandboxRepository();
    await repo.createResource({
      resourceType: 'QuestionnaireResponse',
      id: 'q1',
      status: 'completed',
      identifier: { system: 's', value: 'q1' }, // one Identifier, not a list
    });
    await repo.createResource({
      resourceType: 'DocumentReference',
      id: 'd1',
      status: 'current',
      content: [],
      masterIdentifier: { system: 's', value: 'd1' }, // also searched by `identifier`
    } as unknown as Resource);
    expect(await idsBySearch(repo, 'QuestionnaireResponse', 'identifier=s|q1')).toEqual(['q1']);
    expect(await idsBySearch(repo, 'DocumentReference', 'identifier=s|d1')).toEqual(['d1']);
    // The types the mapping writes keep the index.
    for (const type of [
      'Patient',
      'Practitioner',
      'ServiceRequest',
      'Specimen',
      'Procedure',
      'DiagnosticReport',
      'Observation',
    ]) {
      expect({ type, indexed: isTokenSearch(parseSearchRequest(`${type}?identifier=s|v`)) }).toEqual({
        type,
        indexed: true,
      });
    }
    expect(isTokenSearch(parseSearchRequest('QuestionnaireResponse?identifier=s|q1'))).toBe(false);
  });
});

describe('atomically', () => {
  test('a failure undoes creates, updates and deletes, map order and history included', async () => {
    const repo = new SandboxRepository();
    for (const id of ['a', 'b', 'c']) {
      await repo.updateResource({ resourceType: 'Patient', id, identifier: [{ system: 's', value: id }] });
    }
    await repo.updateResource({
      resourceType: 'Patient',
      id: 'b',
      identifier: [{ system: 's', value: 'b' }],
      active: true,
    });
    const before = contents(repo);
    const failing = repo.atomically(async () => {
      await repo.deleteResource('Patient', 'a');
      await repo.updateResource({ resourceType: 'Patient', id: 'b', identifier: [{ system: 's', value: 'x' }] });
      await repo.createResource({ resourceType: 'Patient', id: 'd', identifier: [{ system: 's', value: 'a' }] });
      await repo.createResource({ resourceType: 'Specimen', identifier: [{ system: 's', value: 'a' }] });
      await repo.updateResource({ resourceType: 'Patient', id: 'a', identifier: [{ system: 's', value: 'a2' }] });
      throw new Error('entry 5 fails');
    });
    await expect(failing).rejects.toThrow('entry 5 fails');
    expect(contents(repo)).toEqual(before);
    expect(repo.countByType()).toEqual({ Patient: 3 });
    expect(await idsBySearch(repo, 'Patient', 'identifier=s|a')).toEqual(['a']);
    expect(await idsBySearch(repo, 'Patient', 'identifier=s|x')).toEqual([]);
    expect(await idsBySearch(repo, 'Patient', 'identifier=s|')).toEqual(['a', 'b', 'c']);
    expect(await idsBySearch(repo, 'Specimen', 'identifier=s|a')).toEqual([]);
  });

  test('a failed update is undone in the index too', async () => {
    const repo = new SandboxRepository();
    await repo.updateResource({ resourceType: 'Patient', id: 'a', identifier: [{ system: 's', value: 'old' }] });
    await expect(
      repo.atomically(async () => {
        await repo.updateResource({ resourceType: 'Patient', id: 'a', identifier: [{ system: 's', value: 'new' }] });
        throw new Error('fails');
      }),
    ).rejects.toThrow('fails');
    expect(await idsBySearch(repo, 'Patient', 'identifier=s|old')).toEqual(['a']);
    expect(await idsBySearch(repo, 'Patient', 'identifier=s|new')).toEqual([]);
  });

  test('success keeps every write; a unit may not start inside another', async () => {
    const repo = new SandboxRepository();
    await repo.atomically(async () => {
      await repo.createResource({ resourceType: 'Patient', id: 'a', identifier: [{ value: 'v' }] });
      await expect(repo.atomically(async () => undefined)).rejects.toThrow('not reentrant');
    });
    expect(await idsBySearch(repo, 'Patient', 'identifier=|v')).toEqual(['a']);
    // The journal ended with the unit: a later failure outside one undoes nothing.
    await repo.deleteResource('Patient', 'a');
    expect(repo.countByType()).toEqual({});
  });
});

describe('shared reads', () => {
  test('shared hands out the stored resources; the repository’s own reads still copy', async () => {
    const repo = new SandboxRepository();
    const created: Resource = await repo.createResource({
      resourceType: 'Patient',
      id: 'a',
      identifier: [{ value: 'v' }],
    });
    const versionId = created.meta?.versionId as string;
    const stored = repo.peek('Patient', 'a');
    const search = parseSearchRequest('Patient?identifier=v');

    expect(await repo.shared.readResource('Patient', 'a')).toBe(stored);
    expect(await repo.shared.readVersion('Patient', 'a', versionId)).toBe(stored);
    expect((await repo.shared.readHistory('Patient', 'a')).entry?.[0]?.resource).toBe(stored);
    expect((await repo.shared.search(search)).entry?.[0]?.resource).toBe(stored);

    const copies = [
      await repo.readResource('Patient', 'a'),
      await repo.readVersion('Patient', 'a', versionId),
      (await repo.readHistory('Patient', 'a')).entry?.[0]?.resource,
      (await repo.search(search)).entry?.[0]?.resource,
    ];
    for (const copy of copies) {
      expect(copy).not.toBe(stored);
      expect(copy).toEqual(stored);
    }

    // Writes are refused on the view (they would run with the view as `this`).
    expect(() => repo.shared.createResource({ resourceType: 'Patient' })).toThrow(/read-only: createResource/);
    expect(() => repo.shared.atomically(async () => 1)).toThrow(/read-only: atomically/);
    expect(() => repo.shared.restore(repo.snapshot())).toThrow(/read-only: restore/);

    // Same answers as the repository's own reads for what is not there.
    await expect(repo.shared.readResource('Patient', 'nope')).rejects.toThrow('Not found');
    await expect(repo.shared.readVersion('Patient', 'a', 'nope')).rejects.toThrow('Not found');
    await repo.deleteResource('Patient', 'a');
    await expect(repo.shared.readResource('Patient', 'a')).rejects.toThrow('Not found');
    await expect(repo.readResource('Patient', 'a')).rejects.toThrow('Not found');
  });

  test('shared sees every write made through the repository, rollbacks included', async () => {
    const repo = new SandboxRepository();
    await repo.createResource({ resourceType: 'Patient', id: 'a', active: true });
    await expect(
      repo.atomically(async () => {
        await repo.updateResource({ resourceType: 'Patient', id: 'a', active: false });
        expect(await repo.shared.readResource('Patient', 'a')).toMatchObject({ active: false });
        throw new Error('fails');
      }),
    ).rejects.toThrow('fails');
    expect(await repo.shared.readResource('Patient', 'a')).toMatchObject({ active: true });
    expect((await repo.shared.readHistory('Patient', 'a')).total).toBe(1);
  });
});
