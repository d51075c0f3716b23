/**
 * The demo run: sends the sample orders and their staged results the way real senders would (JSON over HTTP,
 * HL7 v2 over MLLP), follows each update through the gateway's tracking endpoint until it is delivered (or
 * superseded, or dead-lettered), then prints what the EHR holds per order.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MllpClient, readAck } from '@marrowbridge/mllp';
import type { Stack } from './launcher';

export const SAMPLES_DIR = path.resolve(__dirname, '..', '..', '..', 'samples');

/** The staged story (samples/README.md): orders first, then each report version in the order a lab sends them. */
const STORY: { file: string; via: 'http' | 'mllp'; resentAs?: string }[] = [
  ...[
    'order-aspiration-trephine-biopsy',
    'order-several-reasons',
    'order-aspiration-left-ilium',
    'order-sternum',
    'order-pediatric-tibia',
    'order-urgent',
  ].map((f) => ({ file: `orders/${f}.json`, via: 'http' as const })),
  { file: 'hl7/oml-o21-bma-v251.hl7', via: 'mllp' },
  { file: 'results/result-aspirate-1-preliminary.json', via: 'http' },
  { file: 'hl7/oru-r01-bma-preliminary.hl7', via: 'mllp' },
  { file: 'results/result-flow-cytometry-pdf.json', via: 'http' },
  { file: 'results/result-aspirate-2-final.json', via: 'http' },
  { file: 'results/result-mixed-values.json', via: 'http' },
  { file: 'hl7/oru-r01-bma-final.hl7', via: 'mllp' },
  { file: 'results/result-aspirate-3-corrected.json', via: 'http' },
  { file: 'hl7/oru-r01-bma-corrected.hl7', via: 'mllp' },
  { file: 'results/result-aspirate-4-amended.json', via: 'http' },
  // The preliminary again, late, as a new message: the worker must not let it overwrite the amended report.
  { file: 'results/result-aspirate-1-preliminary.json', via: 'http', resentAs: 'LATE-RESEND-1' },
];

const FINAL_EVENTS = new Set(['delivered', 'unchanged', 'superseded', 'review', 'dead-lettered']);

interface UpdateView {
  trackingId: string;
  jobId: string;
  kind: string;
  reportCode?: string;
  status?: string;
  outcome: string;
  detail?: string;
}

interface OrderView {
  orderKey: string;
  placerOrderNumber: { value: string };
  resources: Record<string, string[]>;
  reports: Record<string, string>;
  updates: UpdateView[];
}

export async function runDemo(stack: Stack, say: (line: string) => void): Promise<{ ok: boolean }> {
  const api = stack.gateway.url;
  const headers: Record<string, string> = stack.token ? { authorization: `Bearer ${stack.token}` } : {};
  let mllp: MllpClient | undefined;
  const tracked: string[] = [];
  let problems = 0;

  say('\nSending the samples (JSON over HTTP, HL7 v2 over MLLP) and following each update:');
  for (const step of STORY) {
    const full = path.join(SAMPLES_DIR, step.file);
    let body = fs.readFileSync(full, 'utf8');
    if (step.resentAs) {
      const doc = JSON.parse(body) as { source?: { system: string; messageId: string } };
      body = JSON.stringify({ ...doc, source: { system: doc.source?.system ?? 'demo', messageId: step.resentAs } });
    }
    let trackingIds: string[];
    if (step.via === 'http') {
      const route = step.file.startsWith('orders/') ? '/orders' : '/results';
      const res = await fetch(api + route, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body,
      });
      const answer = (await res.json()) as {
        trackingId?: string;
        status?: string;
        issue?: { details?: { text?: string } }[];
      };
      if (res.status !== 202 || !answer.trackingId) {
        problems++;
        say(`  ✗ ${step.file}: HTTP ${res.status} ${answer.issue?.map((i) => i.details?.text).join('; ') ?? ''}`);
        continue;
      }
      const note = step.resentAs ? ' — sent again late, as a new message' : '';
      say(`  → POST ${route} ${step.file}${note}: 202 ${answer.status ?? 'queued'} (${answer.trackingId})`);
      trackingIds = [answer.trackingId];
    } else {
      mllp ??= await MllpClient.connect({ port: stack.mllpPort! });
      const ack = readAck(await mllp.send(body));
      if (ack.code !== 'AA') {
        problems++;
        say(`  ✗ MLLP ${step.file}: ACK ${ack.code} ${ack.text}`);
        continue;
      }
      // MSA-3 of the AA names the tracking id ("queued as trk-…"), as POST /hl7 does.
      const trackingId = /(trk-[0-9a-f]+)/.exec(ack.text)?.[1];
      say(`  → MLLP ${step.file}: ACK AA (control id ${ack.messageId}, ${trackingId ?? 'no tracking id'})`);
      trackingIds = trackingId ? [trackingId] : [];
      if (!trackingId) problems++;
    }
    for (const id of trackingIds) {
      tracked.push(id);
      const update = await follow(api, headers, id);
      const what = update.kind === 'order' ? 'order' : `report ${update.reportCode} ${update.status}`;
      const mark =
        update.outcome === 'delivered' || update.outcome === 'unchanged' || update.outcome === 'superseded' ? '✓' : '✗';
      if (mark === '✗') problems++;
      say(`    ${mark} ${what}: ${update.outcome}${update.detail ? ` (${update.detail})` : ''}`);
    }
  }
  await mllp?.close();

  say('\nSummary per order (what the EHR holds):');
  const seen = new Set<string>();
  for (const id of tracked) {
    const order = await getOrder(api, headers, id);
    if (!order || seen.has(order.orderKey)) continue;
    seen.add(order.orderKey);
    const resources = Object.entries(order.resources)
      .map(([type, refs]) => `${refs.length} ${type}`)
      .join(', ');
    const reports = Object.entries(order.reports)
      .map(([code, status]) => `${code} ${status}`)
      .join(', ');
    say(
      `  order ${order.placerOrderNumber.value}: ${resources}${reports ? `; reports: ${reports}` : '; no results yet'}`,
    );
  }
  return { ok: problems === 0 };
}

async function getOrder(api: string, headers: Record<string, string>, id: string): Promise<OrderView | undefined> {
  const res = await fetch(`${api}/orders/${encodeURIComponent(id)}`, { headers });
  return res.ok ? ((await res.json()) as OrderView) : undefined;
}

/** Polls the tracking endpoint until the update reaches a final outcome (or 60 s pass). */
async function follow(api: string, headers: Record<string, string>, trackingId: string): Promise<UpdateView> {
  let last: UpdateView | undefined;
  let reportedRetry = false;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const order = await getOrder(api, headers, trackingId);
    const updates = order?.updates.filter((u) => u.trackingId === trackingId) ?? [];
    last = updates.at(-1);
    if (last && updates.every((u) => FINAL_EVENTS.has(u.outcome))) return last;
    if (last?.outcome === 'retrying' && !reportedRetry) reportedRetry = true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last ?? { trackingId, jobId: '?', kind: '?', outcome: 'not finished after 60 s' };
}
