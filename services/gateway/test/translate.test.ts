/**
 * POST /$translate: a dry run (Bundles and their validation, nothing queued), and with diff=true what a push
 * would do in the EHR: create, update (with the JSON Patch) or nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { withTestRedis } from '../../../test/harness/redis';
import { sample } from '../../../test/support/stack';
import { HL7_HEADERS, JSON_HEADERS, startGatewayStack, type GatewayStack } from './helpers';

const redis = withTestRedis();

interface DiffEntry {
  resourceType: string;
  action: 'create' | 'update' | 'unchanged' | 'kept';
  reference?: string;
  note?: string;
  patch?: { op: string; path: string; value?: unknown }[];
}
interface Translated {
  dryRun: boolean;
  messages: {
    ok: boolean;
    format: string;
    messageId?: string;
    items: {
      kind: string;
      valid: boolean;
      bundle: { resourceType: string; type: string; entry: unknown[] };
      outcome: { resourceType: string };
      diff?: {
        entries?: DiffEntry[];
        precedence?: { action: string };
        outcome?: { issue: { details: { text: string } }[] };
      };
    }[];
  }[];
}

describe('POST /$translate', () => {
  let g: GatewayStack;
  beforeAll(async () => {
    g = await startGatewayStack({ redisUrl: redis().url });
  });
  afterAll(async () => g?.stop());

  const translate = async (body: string, query = '', headers = JSON_HEADERS): Promise<Translated> => {
    const res = await g.call(`/$translate${query}`, { method: 'POST', headers, body });
    expect(res.status).toBe(200);
    return (await res.json()) as Translated;
  };
  const pending = async () => {
    const counts = await Promise.all(
      [g.stack.queues.orders, g.stack.queues.results].map((q) =>
        q.getJobCounts('waiting', 'active', 'delayed', 'completed'),
      ),
    );
    return counts.reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0);
  };

  it('returns the transaction Bundle and its validation outcome, and queues nothing', async () => {
    const t = await translate(fs.readFileSync(sample('order-aspiration-left-ilium'), 'utf8'));
    expect(t.dryRun).toBe(true);
    expect(t.messages).toHaveLength(1);
    const item = t.messages[0].items[0];
    expect(item.kind).toBe('order');
    expect(item.bundle).toMatchObject({ resourceType: 'Bundle', type: 'transaction' });
    expect(item.bundle.entry.length).toBeGreaterThan(4);
    expect(item.outcome.resourceType).toBe('OperationOutcome');
    expect(item.valid).toBe(true);
    expect(item.diff).toBeUndefined();

    const hl7 = await translate(
      fs.readFileSync(path.join(__dirname, 'fixtures', 'oml-o21-gateway.hl7'), 'utf8'),
      '',
      HL7_HEADERS,
    );
    expect(hl7.messages[0]).toMatchObject({ ok: true, format: 'hl7v2', messageId: 'GW-OML-0001' });
    expect(await pending()).toBe(0);
  });

  it('rejects input that does not translate with an OperationOutcome', async () => {
    const res = await g.call('/$translate', { method: 'POST', headers: JSON_HEADERS, body: '{"kind":"order"}' });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });

  it('with diff=true says per resource: create, then unchanged after delivery, update with a patch after a change', async () => {
    const orderText = fs.readFileSync(sample('order-aspiration-left-ilium'), 'utf8');
    const first = await translate(orderText, '?diff=true');
    const entries = first.messages[0].items[0].diff!.entries!;
    expect(entries.length).toBe(first.messages[0].items[0].bundle.entry.length);
    expect(entries.every((e) => e.action === 'create')).toBe(true);

    // Deliver it for real, then the same input changes nothing.
    await g.call('/orders', { method: 'POST', headers: JSON_HEADERS, body: orderText });
    const worker = await g.stack.startWorker();
    await g.stack.waitIdle();
    await worker.close();
    const after = await translate(orderText, '?diff=true');
    // The report is the worker's to keep (an order never resets it); everything else is as sent.
    const afterEntries = after.messages[0].items[0].diff!.entries!;
    expect(afterEntries.map((e) => e.action)).toEqual(
      entries.map((e) => (e.resourceType === 'DiagnosticReport' ? 'kept' : 'unchanged')),
    );
    expect(afterEntries.find((e) => e.action === 'kept')?.note).toMatch(/an order never resets it/);
    expect(after.messages[0].items[0].diff!.entries!.every((e) => /^[A-Za-z]+\/[^/]+$/.test(e.reference ?? ''))).toBe(
      true,
    );

    // A changed order: only the ServiceRequest differs, with a JSON Patch that says how.
    const changed = JSON.parse(orderText) as { priority: string };
    changed.priority = 'urgent';
    const diff = (await translate(JSON.stringify(changed), '?diff=true')).messages[0].items[0].diff!.entries!;
    const updated = diff.filter((e) => e.action === 'update');
    expect(updated.map((e) => e.resourceType)).toContain('ServiceRequest');
    const sr = updated.find((e) => e.resourceType === 'ServiceRequest')!;
    expect(sr.patch).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/priority', value: 'urgent' })]));
    expect(diff.filter((e) => e.resourceType === 'Patient').map((e) => e.action)).toEqual(['unchanged']);
  });

  it('with diff=true reports a result whose order is not in the EHR as a diff outcome, not an error', async () => {
    const t = await translate(fs.readFileSync(sample('result-mixed-values'), 'utf8'), '?diff=true');
    const d = t.messages[0].items[0].diff!;
    expect(d.precedence?.action).toBe('apply');
    expect(d.outcome?.issue[0].details.text).toMatch(/EHR could not be read: .*not found/);
  });
});
