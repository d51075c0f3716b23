/**
 * Idempotence end to end: a translated order Bundle POSTed twice as a transaction to a real FHIR server
 * (the ehr-sandbox, over HTTP) creates its resources the first time and nothing new the second time.
 */
import fs from 'node:fs';
import { startEhrSandbox, type EhrSandbox } from '@marrowbridge/ehr-sandbox';
import { translateInput } from '@marrowbridge/intake';
import type { Bundle } from '@medplum/fhirtypes';
import { sample } from '../support/stack';

describe('pushing a translated order Bundle twice', () => {
  let sandbox: EhrSandbox;
  beforeAll(async () => {
    sandbox = await startEhrSandbox({ auth: 'off' });
  });
  afterAll(async () => sandbox?.stop());

  async function post(bundle: Bundle): Promise<Bundle> {
    const res = await fetch(sandbox.baseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify(bundle),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as Bundle;
  }

  it.each(['order-aspiration-trephine-biopsy', 'order-pediatric-tibia', 'order-sternum'])('%s', async (name) => {
    await sandbox.resetData();
    const [result] = translateInput(fs.readFileSync(sample(name)));
    if (!result.ok) throw new Error('sample does not translate');
    const bundle = result.items[0].bundle;

    const first = await post(bundle);
    const afterFirst = await sandbox.countResources();
    expect(first.entry?.every((e) => e.response?.status?.startsWith('201'))).toBe(true);
    expect(Object.values(afterFirst).reduce((a, b) => a + b, 0)).toBe(bundle.entry!.length);

    const second = await post(bundle);
    expect(await sandbox.countResources()).toEqual(afterFirst);
    expect(second.entry?.some((e) => e.response?.status?.startsWith('201'))).toBe(false);
    // Same resources, same ids: the second push resolved every conditional key to what the first created.
    const ids = (b: Bundle) => b.entry?.map((e) => e.response?.location?.split('/_history')[0]);
    expect(ids(second)).toEqual(ids(first));
  });
});
