/**
 * A full run through the gateway: every sample (JSON) and an HL7 order in, a sync-worker delivering them to
 * the ehr-sandbox, then tracking, metrics, a retry, a dead letter and its replay. The gateway's and the
 * worker's logs of the whole run are captured and must not contain the synthetic patients' names, MRNs or
 * birth dates.
 */
import fs from 'node:fs';
import path from 'node:path';
import { withTestRedis } from '../../../test/harness/redis';
import { repoRoot } from '../../../test/support/paths';
import { captureLogs, eventually, HL7_HEADERS, JSON_HEADERS, startGatewayStack, type GatewayStack } from './helpers';

const redis = withTestRedis();
const samplesDir = path.join(repoRoot, 'samples');
const files = (dir: string) =>
  fs
    .readdirSync(path.join(samplesDir, dir))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(samplesDir, dir, f));
const ORDERS = files('orders');
const RESULTS = files('results'); // sorted: aspirate-1..4, flow cytometry, mixed values (the story order)
const HL7_ORDER = fs.readFileSync(path.join(__dirname, 'fixtures', 'oml-o21-gateway.hl7'), 'utf8');
const STORY = 'ORD-26-000214';

interface OrderStatus {
  orderKey: string;
  resources: Record<string, string[]>;
  reports: Record<string, string>;
  updates: { trackingId: string; kind: string; reportCode?: string; status?: string; outcome: string }[];
  history: { event: string }[];
}

/** Names, MRNs and birth dates of every synthetic patient the run sends (JSON samples and the HL7 fixture). */
function patientSecrets(): string[] {
  const out = new Set<string>(['ZEPHYRINE', 'TESTCASE', 'MRN-77000123', '19720311', '1972-03-11']);
  for (const f of [...ORDERS, ...RESULTS]) {
    const doc = JSON.parse(fs.readFileSync(f, 'utf8')) as {
      patient?: { mrn?: { value?: string }; name?: { family?: string; given?: string[] }; birthDate?: string };
    };
    const p = doc.patient ?? {};
    if (p.mrn?.value) out.add(p.mrn.value);
    if (p.name?.family) out.add(p.name.family);
    for (const given of p.name?.given ?? []) out.add(given);
    if (p.birthDate) {
      out.add(p.birthDate);
      out.add(p.birthDate.replace(/-/g, ''));
    }
  }
  return [...out];
}

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '').split(',');
    if (want.every((w) => have.includes(w))) sum += Number(m[3]);
  }
  return sum;
}

describe('full run through the gateway', () => {
  let g: GatewayStack;
  const gatewayLogs = captureLogs('trace');
  const workerLogs = captureLogs('trace', 'sync-worker');

  beforeAll(async () => {
    g = await startGatewayStack({
      redisUrl: redis().url,
      env: { LOG_LEVEL: 'trace' },
      overrides: { log: gatewayLogs.log },
    });
  });
  afterAll(async () => g?.stop());

  const post = (p: string, body: string, headers = JSON_HEADERS) => g.call(p, { method: 'POST', headers, body });
  const status = async (id: string): Promise<OrderStatus> => {
    const res = await g.call(`/orders/${encodeURIComponent(id)}`);
    expect(res.status).toBe(200);
    return (await res.json()) as OrderStatus;
  };
  const metrics = async () => (await g.call('/metrics')).text();

  it('delivers every sample; tracking shows the EHR resources, report status and each update', async () => {
    const tracking: string[] = [];
    for (const f of ORDERS) {
      const res = await post('/orders', fs.readFileSync(f, 'utf8'));
      expect(res.status).toBe(202);
      tracking.push(((await res.json()) as { trackingId: string }).trackingId);
    }
    const hl7 = await post('/hl7', HL7_ORDER, HL7_HEADERS);
    expect(hl7.status).toBe(202);
    await g.stack.startWorker({ log: workerLogs.log });
    await g.stack.waitIdle();
    for (const f of RESULTS) expect((await post('/results', fs.readFileSync(f, 'utf8'))).status).toBe(202);
    await g.stack.waitIdle();

    const story = await status(STORY);
    expect(story.orderKey).toBe(`urn:oid:2.16.840.1.113883.3.9999.2|${STORY}`);
    for (const type of ['Patient', 'ServiceRequest', 'Specimen', 'Procedure', 'DiagnosticReport', 'Observation']) {
      expect(story.resources[type]?.length).toBeGreaterThan(0);
    }
    // The EHR holds exactly what tracking says.
    for (const ref of story.resources.DiagnosticReport) {
      const [type, id] = ref.split('/');
      expect((await g.stack.sandbox.repo.readResource(type as 'DiagnosticReport', id)).id).toBe(id);
    }
    expect(story.reports).toEqual({ '48807-2': 'amended', '101119-6': 'final' });
    expect(story.updates).toHaveLength(1 + 5);
    expect(story.updates[0]).toMatchObject({ kind: 'order', outcome: 'delivered' });
    for (const u of story.updates.slice(1)) expect(['delivered', 'superseded', 'unchanged']).toContain(u.outcome);
    expect(story.updates.filter((u) => u.outcome === 'delivered').length).toBeGreaterThanOrEqual(3);

    // The same order by its tracking id, by system|value; an HL7 order by its placer number.
    const story2 = await status(tracking[ORDERS.findIndex((f) => f.includes('trephine'))]);
    expect(story2.orderKey).toBe(story.orderKey);
    expect((await status(story.orderKey)).orderKey).toBe(story.orderKey);
    expect((await status('GW-PLC-7001')).updates[0]).toMatchObject({ kind: 'order', outcome: 'delivered' });
    const unknown = await g.call('/orders/ORD-00-000000');
    expect(unknown.status).toBe(404);

    await eventually(
      async () =>
        metricValue(await metrics(), 'marrowbridge_deliveries_total', { queue: 'result-deliveries' }) >= RESULTS.length,
      10_000,
      'delivery metrics',
    );
    const text = await metrics();
    expect(metricValue(text, 'marrowbridge_intake_messages_total', { channel: 'http', result: 'accepted' })).toBe(
      ORDERS.length + RESULTS.length,
    );
    expect(metricValue(text, 'marrowbridge_intake_messages_total', { channel: 'hl7-http', result: 'accepted' })).toBe(
      1,
    );
    expect(
      metricValue(text, 'marrowbridge_deliveries_total', { queue: 'order-deliveries', outcome: 'delivered' }),
    ).toBe(ORDERS.length + 1);
    expect(metricValue(text, 'marrowbridge_delivery_latency_seconds_count', { queue: 'order-deliveries' })).toBe(
      ORDERS.length + 1,
    );
    expect(metricValue(text, 'marrowbridge_ehr_delivery_attempts_total', { status: '2xx' })).toBe(
      ORDERS.length + 1 + RESULTS.length,
    );
    expect(metricValue(text, 'marrowbridge_jobs', { queue: 'order-deliveries', state: 'completed' })).toBe(
      ORDERS.length + 1,
    );
    expect(metricValue(text, 'marrowbridge_queue_depth', { queue: 'order-deliveries' })).toBe(0);
    expect(text).toMatch(
      /marrowbridge_http_request_duration_seconds_count\{method="POST",route="\/orders",status="202"\}/,
    );
  });

  it('records a retry when the EHR fails for a while, and the delivery after it', async () => {
    g.stack.sandbox.setFaults({ errorRate: 1, errorStatuses: [503] });
    const order = JSON.parse(fs.readFileSync(ORDERS[0], 'utf8')) as {
      placerOrderNumber: { value: string };
      priority: string;
    };
    order.placerOrderNumber.value = 'ORD-26-RETRY1';
    const res = await post('/orders', JSON.stringify(order));
    const { trackingId } = (await res.json()) as { trackingId: string };
    await eventually(async () => (await status(trackingId)).updates[0].outcome === 'retrying', 10_000, 'a retry');
    g.stack.sandbox.setFaults({});
    await g.stack.waitIdle();
    const s = await status(trackingId);
    expect(s.updates[0].outcome).toBe('delivered');
    expect(s.history.map((h) => h.event)).toEqual(expect.arrayContaining(['queued', 'retrying', 'delivered']));
    await eventually(
      async () => metricValue(await metrics(), 'marrowbridge_ehr_delivery_attempts_total', { status: '503' }) >= 1,
      10_000,
      '503 counted',
    );
  });

  it('lists a dead-lettered delivery, shows it, and replays it once the EHR takes it', async () => {
    g.stack.sandbox.setFaults({ errorRate: 1, errorStatuses: [422] });
    const order = JSON.parse(fs.readFileSync(ORDERS[1], 'utf8')) as { placerOrderNumber: { value: string } };
    order.placerOrderNumber.value = 'ORD-26-DLQ1';
    const { trackingId } = (await (await post('/orders', JSON.stringify(order))).json()) as { trackingId: string };
    await eventually(
      async () => (await status(trackingId)).updates[0].outcome === 'dead-lettered',
      10_000,
      'dead letter',
    );
    g.stack.sandbox.setFaults({});

    const list = (await (await g.call('/admin/dead-letters')).json()) as {
      total: number;
      entries: { id: string; trackingId: string; lastHttpStatus?: number; attempts: number; reason: string }[];
    };
    expect(list.total).toBe(1);
    const entry = list.entries[0];
    expect(entry).toMatchObject({ trackingId, lastHttpStatus: 422, attempts: 1 });
    expect(JSON.stringify(list)).not.toContain('Brightwater'); // the list leaves the payload out
    const full = (await (await g.call(`/admin/dead-letters/${entry.id}`)).json()) as { data: { raw: string } };
    expect(full.data.raw).toContain('ORD-26-DLQ1');
    await eventually(
      async () => metricValue(await metrics(), 'marrowbridge_queue_depth', { queue: 'dead-letter' }) === 1,
      5_000,
      'dead-letter depth',
    );
    expect(metricValue(await metrics(), 'marrowbridge_ehr_delivery_attempts_total', { status: '422' })).toBe(1);

    const replay = await g.call(`/admin/dead-letters/${entry.id}/replay`, { method: 'POST' });
    expect(replay.status).toBe(202);
    expect(await replay.json()).toMatchObject({ replayed: entry.id, trackingId });
    await g.stack.waitIdle();
    const s = await status(trackingId);
    expect(s.history.map((h) => h.event)).toEqual(
      expect.arrayContaining(['queued', 'dead-lettered', 'replayed', 'delivered']),
    );
    expect(s.resources.ServiceRequest).toHaveLength(1);
    expect(((await (await g.call('/admin/dead-letters')).json()) as { total: number }).total).toBe(0);
    const again = await g.call(`/admin/dead-letters/${entry.id}/replay`, { method: 'POST' });
    expect(again.status).toBe(404);
  });

  it('the logs of the whole run carry request ids and no patient names, MRNs or birth dates', async () => {
    // A few more requests that fail, so error paths are in the logs too.
    await post('/orders', '{"kind":"order","patient":{"name":{"family":"Brightwater"},"birthDate":"1958-07-22"}}');
    await post('/orders', '{"kind": "order", "patient": {"mrn": "MRN-40021873", ');
    await post('/hl7', HL7_ORDER.replace('OML^O21', 'ADT^A01'), HL7_HEADERS);
    await g.call('/fhir/Patient/$validate', {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Brightwater' }], birthDate: '1958-99-22' }),
    });

    const lines = [...gatewayLogs.lines, ...workerLogs.lines];
    expect(gatewayLogs.lines.length).toBeGreaterThan(30);
    expect(workerLogs.lines.length).toBeGreaterThan(5);
    const secrets = patientSecrets();
    expect(secrets).toEqual(expect.arrayContaining(['Brightwater', 'MRN-40021873', '1958-07-22', '19580722']));
    const leaks = secrets.filter((s) => lines.some((l) => l.includes(s)));
    expect(leaks).toEqual([]);

    // Every line a request wrote carries its id.
    const requestLines = gatewayLogs.lines
      .map((l) => JSON.parse(l) as { msg: string; reqId?: string })
      .filter((l) =>
        ['request completed', 'input rejected', 'message queued', 'HL7 message rejected', 'validated'].includes(l.msg),
      );
    expect(requestLines.length).toBeGreaterThan(20);
    expect(requestLines.filter((l) => !l.reqId)).toEqual([]);
    // Routes are logged as templates, never as concrete paths.
    const routes = new Set(requestLines.map((l) => (l as { route?: string }).route).filter(Boolean));
    expect([...routes]).toEqual(
      expect.arrayContaining(['/orders', '/results', '/hl7', '/orders/:id', '/admin/dead-letters/:id/replay']),
    );
    expect([...routes].filter((r) => /ORD-|trk-|dlq-|GW-/.test(r!))).toEqual([]);
  });
});
