/**
 * End to end with both real transports: HL7 v2 over MLLP (the listener hosted in the gateway) and JSON over
 * HTTP in, FHIR in the ehr-sandbox out; the tracking endpoint agrees with the EHR, and the metrics count it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MllpClient, readAck } from '@marrowbridge/mllp';
import type { DiagnosticReport } from '@medplum/fhirtypes';
import { withTestRedis } from '../../../test/harness/redis';
import { repoRoot } from '../../../test/support/paths';
import { sample } from '../../../test/support/stack';
import { loadMllpConfig, mllpListener } from '../src';
import { eventually, JSON_HEADERS, startGatewayStack, type GatewayStack } from './helpers';

const redis = withTestRedis();
const hl7 = (name: string) => fs.readFileSync(path.join(repoRoot, 'samples', 'hl7', name), 'utf8');

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') || !wanted.every((w) => line.includes(w))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

describe('MLLP and HTTP in, FHIR out', () => {
  let g: GatewayStack;
  beforeAll(async () => {
    g = await startGatewayStack({
      redisUrl: redis().url,
      workers: 1,
      overrides: { mllp: mllpListener(loadMllpConfig({ MLLP_PORT: '0' })) },
    });
  }, 60_000);
  afterAll(async () => g?.stop());

  it('delivers an HL7 order and its results sent over MLLP, beside a JSON order sent over HTTP', async () => {
    expect(g.gateway.mllp?.port).toBeGreaterThan(0);
    const client = await MllpClient.connect({ port: g.gateway.mllp!.port! });
    try {
      for (const file of ['oml-o21-bma-v251.hl7', 'oru-r01-bma-preliminary.hl7', 'oru-r01-bma-final.hl7']) {
        const ack = readAck(await client.send(hl7(file)));
        expect({ file, code: ack.code }).toEqual({ file, code: 'AA' });
        expect(ack.text).toMatch(/^queued as trk-[0-9a-f]{24}$/);
        await g.stack.waitIdle();
      }
      // The same final again: acknowledged, not processed twice.
      expect(readAck(await client.send(hl7('oru-r01-bma-final.hl7'))).code).toBe('AA');
    } finally {
      await client.close();
    }
    const http = await g.call('/orders', {
      method: 'POST',
      headers: JSON_HEADERS,
      body: fs.readFileSync(sample('order-sternum')),
    });
    expect(http.status).toBe(202);
    await g.stack.waitIdle();

    // The EHR holds the HL7 order's final report; tracking says the same.
    const res = await g.call('/orders/PLC-5001');
    expect(res.status).toBe(200);
    const tracking = (await res.json()) as {
      reports: Record<string, string>;
      resources: Record<string, string[]>;
      updates: { outcome: string }[];
    };
    expect(tracking.reports).toEqual({ '48807-2': 'final' });
    expect(tracking.updates.map((u) => u.outcome)).toEqual(['delivered', 'delivered', 'delivered']);
    const [drRef] = tracking.resources.DiagnosticReport;
    const dr = (await g.stack.sandbox.repo.readResource('DiagnosticReport', drRef.split('/')[1])) as DiagnosticReport;
    expect(dr.status).toBe('final');
    expect(dr.result?.length).toBeGreaterThan(0);
    expect((await g.stack.sandbox.countResources()).ServiceRequest).toBe(2);

    await eventually(
      async () => {
        const text = await (await g.call('/metrics')).text();
        return (
          metricValue(text, 'marrowbridge_deliveries_total', { queue: 'result-deliveries', outcome: 'delivered' }) ===
            2 &&
          metricValue(text, 'marrowbridge_deliveries_total', { queue: 'order-deliveries', outcome: 'delivered' }) === 2
        );
      },
      15_000,
      'delivery metrics',
    );
    const text = await (await g.call('/metrics')).text();
    expect(metricValue(text, 'marrowbridge_intake_messages_total', { channel: 'http', result: 'accepted' })).toBe(1);
    expect(metricValue(text, 'marrowbridge_intake_messages_total', { channel: 'mllp' })).toBeGreaterThanOrEqual(3);
    expect(metricValue(text, 'marrowbridge_delivery_latency_seconds_count', { queue: 'result-deliveries' })).toBe(2);
  }, 90_000);
});
