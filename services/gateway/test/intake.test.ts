/**
 * Intake over real HTTP: 202 with a tracking id only once the job is in Redis, the same tracking id for a
 * re-sent message, nothing queued for rejected input, content types and body limits.
 */
import fs from 'node:fs';
import path from 'node:path';
import { withTestRedis } from '../../../test/harness/redis';
import { sample } from '../../../test/support/stack';
import { translateInput } from '@marrowbridge/intake';
import type { Hl7Answer, MllpHostContext } from '../src';
import { HL7_HEADERS, JSON_HEADERS, startGatewayStack, type GatewayStack } from './helpers';

const redis = withTestRedis();
const OML = fs.readFileSync(path.join(__dirname, 'fixtures', 'oml-o21-gateway.hl7'), 'utf8');

describe('intake', () => {
  let g: GatewayStack;
  beforeAll(async () => {
    g = await startGatewayStack({
      redisUrl: redis().url,
      env: { GATEWAY_JSON_LIMIT: '64kb', GATEWAY_HL7_LIMIT: '16kb' },
    });
  });
  afterAll(async () => g?.stop());

  async function jobCount(): Promise<number> {
    const counts = await Promise.all(
      [g.stack.queues.orders, g.stack.queues.results].map((q) =>
        q.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed'),
      ),
    );
    return counts.reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0);
  }

  it('POST /orders answers 202 with a tracking id once the job is in Redis; a re-send gets the same id', async () => {
    const body = fs.readFileSync(sample('order-sternum'));
    const res = await g.call('/orders', { method: 'POST', headers: JSON_HEADERS, body });
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as {
      trackingId: string;
      status: string;
      jobs: { jobId: string; kind: string }[];
    };
    expect(accepted.trackingId).toMatch(/^trk-[0-9a-f]{24}$/);
    expect(accepted.status).toBe('queued');
    expect(res.headers.get('location')).toBe(`/orders/${accepted.trackingId}`);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    // Durably queued before the answer: the job is there as soon as the 202 arrives.
    const job = await g.stack.queues.orders.getJob(accepted.jobs[0].jobId);
    expect(job?.data.trackingId).toBe(accepted.trackingId);

    const again = await g.call('/orders', { method: 'POST', headers: JSON_HEADERS, body });
    expect(again.status).toBe(202);
    const second = (await again.json()) as { trackingId: string; status: string };
    expect(second).toMatchObject({ trackingId: accepted.trackingId, status: 'already-queued' });
    expect(await g.stack.queues.orders.getJobCounts('waiting')).toEqual({ waiting: 1 });
  });

  it('POST /results queues a result update; an order sent there is refused with 422', async () => {
    const res = await g.call('/results', {
      method: 'POST',
      headers: JSON_HEADERS,
      body: fs.readFileSync(sample('result-aspirate-1-preliminary')),
    });
    expect(res.status).toBe(202);
    const before = await jobCount();
    const wrong = await g.call('/results', {
      method: 'POST',
      headers: JSON_HEADERS,
      body: fs.readFileSync(sample('order-urgent')),
    });
    expect(wrong.status).toBe(422);
    const o = (await wrong.json()) as { resourceType: string; issue: { details: { text: string } }[] };
    expect(o.resourceType).toBe('OperationOutcome');
    expect(o.issue[0].details.text).toMatch(/POST \/orders/);
    expect(await jobCount()).toBe(before);
  });

  it('rejected input gets a 4xx OperationOutcome and queues nothing', async () => {
    const before = await jobCount();
    const order = JSON.parse(fs.readFileSync(sample('order-urgent'), 'utf8')) as Record<string, unknown>;
    delete order.placerOrderNumber;
    const invalid = await g.call('/orders', { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(order) });
    expect(invalid.status).toBe(422);
    expect(invalid.headers.get('content-type')).toMatch(/application\/fhir\+json/);
    const o = (await invalid.json()) as { issue: { severity: string; details: { text: string } }[] };
    expect(o.issue.some((i) => /placerOrderNumber/.test(i.details.text))).toBe(true);

    const notJson = await g.call('/orders', { method: 'POST', headers: JSON_HEADERS, body: 'hello' });
    expect(notJson.status).toBe(400);
    const syntax = await g.call('/orders', { method: 'POST', headers: JSON_HEADERS, body: '{"kind": "order",' });
    expect([400, 422]).toContain(syntax.status);
    expect(((await syntax.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    expect(await jobCount()).toBe(before);
  });

  it('refuses a wrong content type with 415 and a body over the limit with 413, as OperationOutcomes', async () => {
    const body = fs.readFileSync(sample('order-sternum'));
    const t = await g.call('/orders', { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
    expect(t.status).toBe(415);
    expect(((await t.json()) as { issue: { code: string }[] }).issue[0].code).toBe('not-supported');
    const noType = await g.call('/orders', { method: 'POST', body: new Uint8Array(body) });
    expect(noType.status).toBe(415);
    const hl7AsJson = await g.call('/hl7', { method: 'POST', headers: JSON_HEADERS, body: OML });
    expect(hl7AsJson.status).toBe(415);

    const big = JSON.stringify({ kind: 'order', pad: 'x'.repeat(70 * 1024) });
    const tooLarge = await g.call('/orders', { method: 'POST', headers: JSON_HEADERS, body: big });
    expect(tooLarge.status).toBe(413);
    const o = (await tooLarge.json()) as { resourceType: string; issue: { code: string }[] };
    expect(o).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'too-costly' }] });
    const bigHl7 = await g.call('/hl7', {
      method: 'POST',
      headers: HL7_HEADERS,
      body: OML + 'NTE|1||' + 'y'.repeat(17 * 1024),
    });
    expect(bigHl7.status).toBe(413);
  });

  it('POST /hl7 answers ACK AA after queueing, AA again with the same tracking id for a re-send', async () => {
    const res = await g.call('/hl7', { method: 'POST', headers: HL7_HEADERS, body: OML });
    expect(res.status).toBe(202);
    expect(res.headers.get('content-type')).toMatch(/^application\/hl7-v2/);
    const ack = await res.text();
    const segments = ack.split('\r');
    // Sender and receiver swapped.
    expect(
      segments[0]
        .split('|')
        .slice(2, 6)
        .map((f) => f.split('^')[0]),
    ).toEqual(['LIS', 'GWLAB', 'GWTEST', 'GWHOSP']);
    const msa = segments.find((s) => s.startsWith('MSA|'))!.split('|');
    expect(msa[1]).toBe('AA');
    expect(msa[2]).toBe('GW-OML-0001');
    const trackingId = res.headers.get('x-tracking-id')!;
    expect(trackingId).toMatch(/^trk-/);
    expect(msa[3]).toContain(trackingId);
    const tracked = await g.stack.queues.tracking.resolve(trackingId);
    expect(tracked).toHaveLength(1);

    const again = await g.call('/hl7', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: OML });
    expect(again.status).toBe(202);
    expect(again.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(again.headers.get('x-tracking-id')).toBe(trackingId);
    expect((await again.text()).split('\r')[1]).toMatch(/^MSA\|AA\|GW-OML-0001\|already queued/);
  });

  it('POST /hl7 answers AE / AR with ERR segments for messages it cannot take, and queues nothing', async () => {
    const before = await jobCount();
    const noPatientId = OML.replace(/PID\|1\|\|[^|]*\|/, 'PID|1|||');
    const ae = await g.call('/hl7', { method: 'POST', headers: HL7_HEADERS, body: noPatientId });
    expect(ae.status).toBe(422);
    const aeText = await ae.text();
    expect(aeText).toMatch(/\rMSA\|AE\|GW-OML-0001/);
    expect(aeText).toMatch(/\rERR\|/);

    const unsupported = OML.replace('OML^O21^OML_O21', 'ADT^A01^ADT_A01');
    const ar = await g.call('/hl7', { method: 'POST', headers: HL7_HEADERS, body: unsupported });
    expect(ar.status).toBe(400);
    expect(await ar.text()).toMatch(/\rMSA\|AR\|/);

    const garbage = await g.call('/hl7', { method: 'POST', headers: HL7_HEADERS, body: 'not hl7 at all' });
    expect(garbage.status).toBe(400);
    expect(await garbage.text()).toMatch(/^MSH\|.*\rMSA\|AR\|/s);
    expect(await jobCount()).toBe(before);
  });
  it('POST /hl7 with a batch answers one ACK per message; the status is the worst of them', async () => {
    const second = OML.replace('GW-OML-0001', 'GW-OML-0002').replace(/PID\|1\|\|[^|]*\|/, 'PID|1|||');
    const third = OML.replace('GW-OML-0001', 'GW-OML-0003').replace(/GW-PLC-7001/g, 'GW-PLC-7003');
    const batch = `FHS|^~\\&|GWTEST|GWHOSP\rBHS|^~\\&|GWTEST|GWHOSP\r${OML}${second}${third}BTS|3\rFTS|1\r`;
    const res = await g.call('/hl7', { method: 'POST', headers: HL7_HEADERS, body: batch });
    expect(res.status).toBe(422);
    const msas = (await res.text()).split('\r').filter((s) => s.startsWith('MSA|'));
    expect(msas.map((m) => m.split('|').slice(1, 3).join('|'))).toEqual([
      'AA|GW-OML-0001',
      'AE|GW-OML-0002',
      'AA|GW-OML-0003',
    ]);
    expect(res.headers.get('x-tracking-id')?.split(', ')).toHaveLength(2);
  });
});

describe('hosting an MLLP listener', () => {
  it('hands the listener a handler that queues like POST /hl7, and stops it with the gateway', async () => {
    let ctx: MllpHostContext | undefined;
    let stopped = false;
    const g = await startGatewayStack({
      redisUrl: redis().url,
      overrides: {
        mllp: async (c) => {
          ctx = c;
          return { address: 'mllp://test', stop: async () => void (stopped = true) };
        },
      },
    });
    try {
      expect(g.gateway.mllp?.address).toBe('mllp://test');
      const answer: Hl7Answer = await ctx!.handleMessage(Buffer.from(OML));
      expect(answer.messages[0].code).toBe('AA');
      const job = await g.stack.queues.orders.getJob((await g.stack.queues.orders.getJobs(['waiting']))[0].id!);
      expect(job?.data.source.channel).toBe('mllp');
      expect(job?.data.trackingId).toBe(answer.trackingIds[0]);
      expect((await ctx!.handleMessage(OML)).messages[0]).toMatchObject({ code: 'AA', duplicate: true });
      // A listener that translates by itself hands the result to enqueue(): same identity, same job.
      const [translated] = translateInput(OML, ctx!.intakeOptions);
      if (!translated.ok) throw new Error('fixture does not translate');
      const queued = await ctx!.enqueue(translated, translated.raw!, translated.hl7!.control);
      expect(queued).toMatchObject({ trackingId: answer.trackingIds[0], duplicate: true });
    } finally {
      await g.stop();
    }
    expect(stopped).toBe(true);
  });
});
