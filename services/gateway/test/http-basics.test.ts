/**
 * What every HTTP answer carries whatever its route: helmet's security headers (precomputed once, so they are
 * compared here with what helmet itself sets) and exactly one access line per request with the fields
 * operators use (method, route template, status, duration, request id) and nothing of the request's content.
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import express from 'express';
import helmet from 'helmet';
import { withTestRedis } from '../../../test/harness/redis';
import { sample } from '../../../test/support/stack';
import { API_HELMET_OPTIONS, helmetPlan } from '../src/security-headers';
import { captureLogs, eventually, JSON_HEADERS, startGatewayStack, type GatewayStack } from './helpers';

const redis = withTestRedis();

/** The headers helmet(API_HELMET_OPTIONS) sets, asked from helmet itself on a plain express server. */
async function helmetReference(): Promise<Record<string, string>> {
  const app = express();
  app.disable('x-powered-by');
  app.use(helmet(API_HELMET_OPTIONS));
  app.get('/', (_req, res) => {
    res.end();
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await res.text();
    const skip = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);
    return Object.fromEntries([...res.headers].filter(([k]) => !skip.has(k)));
  } finally {
    server.closeAllConnections(); // fetch keeps the connection alive, which would hold jest open
    server.close();
  }
}

interface AccessLine {
  level: number;
  msg: string;
  reqId?: string;
  req?: { method: string };
  res?: { statusCode: number };
  responseTime?: number;
  route?: string;
}

describe('headers and access log of every answer', () => {
  let g: GatewayStack;
  const logs = captureLogs('info');
  const lines = () => logs.lines.map((l) => JSON.parse(l) as AccessLine);
  const accessLines = (reqId: string) =>
    lines().filter((l) => l.reqId === reqId && (l.msg === 'request completed' || l.msg === 'request failed'));

  beforeAll(async () => {
    g = await startGatewayStack({ redisUrl: redis().url, overrides: { log: logs.log } });
  });
  afterAll(async () => g?.stop());
  afterEach(() => jest.restoreAllMocks());

  const result = () => fs.readFileSync(sample('result-aspirate-1-preliminary'));

  it("sets exactly helmet's API headers on answers of every kind (202, 4xx, 500, probes)", async () => {
    const reference = await helmetReference();
    // The policy itself, so that a change of the options shows here and not only as "still equal to helmet".
    expect(reference['content-security-policy']).toBe(
      "default-src 'none';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'none';" +
        "img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';" +
        "style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
    );
    expect(Object.keys(reference).sort()).toEqual([
      'content-security-policy',
      'cross-origin-opener-policy',
      'cross-origin-resource-policy',
      'origin-agent-cluster',
      'referrer-policy',
      'strict-transport-security',
      'x-content-type-options',
      'x-dns-prefetch-control',
      'x-download-options',
      'x-frame-options',
      'x-permitted-cross-domain-policies',
      'x-xss-protection',
    ]);

    jest.spyOn(g.gateway.intake, 'acceptJson').mockRejectedValueOnce(new TypeError('synthetic failure'));
    const answers = [
      await g.call('/results', { method: 'POST', headers: JSON_HEADERS, body: result() }),
      await g.call('/results', { method: 'POST', headers: JSON_HEADERS, body: result() }),
      await g.call('/results', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'a,b' }),
      await g.call('/no-such-route'),
      await g.call('/orders/trk-0', { scopes: null }),
      await g.call('/healthz', { scopes: null }),
    ];
    expect(answers.map((r) => r.status)).toEqual([500, 202, 415, 404, 401, 200]);
    for (const res of answers) {
      await res.text();
      const got = Object.fromEntries(Object.keys(reference).map((k) => [k, res.headers.get(k)]));
      expect(got).toEqual(reference);
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('helmetPlan records what helmet does, including the removal of X-Powered-By', () => {
    const plan = helmetPlan(API_HELMET_OPTIONS);
    expect(plan.remove).toEqual(['X-Powered-By']);
    expect(plan.set.map(([name]) => name.toLowerCase())).toContain('strict-transport-security');
    expect(() => helmetPlan({ crossOriginOpenerPolicy: { policy: 'nonsense' as 'same-origin' } })).toThrow(
      /Cross-Origin-Opener-Policy/,
    );
  });

  it('writes one access line per request: method, route template, status, duration, request id, no content', async () => {
    // Queued once first, so that the request under test writes a line of its own ("message already queued").
    const first = await g.call('/results', { method: 'POST', headers: JSON_HEADERS, body: result() });
    expect(first.status).toBe(202);
    await first.text();
    const ok = await g.call('/results', {
      method: 'POST',
      headers: { ...JSON_HEADERS, 'x-request-id': 'acc-ok-1' },
      body: result(),
    });
    expect(ok.status).toBe(202);
    const trackingId = ((await ok.json()) as { trackingId: string }).trackingId;
    const notFound = await g.call('/orders/trk-unknown-1?patient=Brightwater', {
      headers: { 'x-request-id': 'acc-404-1' },
    });
    expect(notFound.status).toBe(404);
    await notFound.text();
    await (await g.call('/healthz', { scopes: null, headers: { 'x-request-id': 'acc-probe-1' } })).text();

    await eventually(() => accessLines('acc-404-1').length > 0, 2_000, 'access line of the 404');
    const [line, ...more] = accessLines('acc-ok-1');
    expect(more).toEqual([]);
    expect(Object.keys(line)).toEqual([
      'level',
      'time',
      'service',
      'reqId',
      'req',
      'res',
      'responseTime',
      'route',
      'msg',
    ]);
    expect(line).toMatchObject({
      level: 30,
      msg: 'request completed',
      req: { method: 'POST' },
      res: { statusCode: 202 },
      route: '/results',
    });
    expect(line.responseTime).toBeGreaterThanOrEqual(0);
    // The lines the request wrote itself carry its id too.
    expect(lines().find((l) => l.msg === 'message already queued' && l.reqId === 'acc-ok-1')).toMatchObject({
      trackingId,
    });

    const [missing] = accessLines('acc-404-1');
    expect(missing).toMatchObject({ res: { statusCode: 404 }, route: '/orders/:id', req: { method: 'GET' } });
    expect(JSON.stringify(missing)).not.toMatch(/Brightwater|trk-unknown/);
    // Probes and scrapes are not logged.
    expect(accessLines('acc-probe-1')).toEqual([]);
  });

  it('logs a 500 at level error as "request failed", and counts it in the HTTP metrics', async () => {
    jest.spyOn(g.gateway.intake, 'acceptJson').mockRejectedValueOnce(new TypeError('synthetic failure'));
    const res = await g.call('/results', {
      method: 'POST',
      headers: { ...JSON_HEADERS, 'x-request-id': 'acc-500-1' },
      body: result(),
    });
    expect(res.status).toBe(500);
    await res.text();
    await eventually(() => accessLines('acc-500-1').length > 0, 2_000, 'access line of the 500');
    expect(accessLines('acc-500-1')).toEqual([
      expect.objectContaining({ level: 50, msg: 'request failed', res: { statusCode: 500 }, route: '/results' }),
    ]);
    const metrics = await g.gateway.metrics.registry.getSingleMetricAsString(
      'marrowbridge_http_request_duration_seconds',
    );
    expect(metrics).toMatch(/_count\{method="POST",route="\/results",status="500"\} [1-9]/);
  });

  it('logs a request whose client went away before the answer, once', async () => {
    let release: () => void = () => undefined;
    jest
      .spyOn(g.gateway.intake, 'acceptJson')
      .mockImplementationOnce(() => new Promise((_, reject) => (release = () => reject(new Error('late')))));
    const abort = new AbortController();
    const pending = g.call('/results', {
      method: 'POST',
      headers: { ...JSON_HEADERS, 'x-request-id': 'acc-gone-1' },
      body: result(),
      signal: abort.signal,
    });
    await eventually(() => (g.gateway.intake.acceptJson as jest.Mock).mock.calls.length > 0, 2_000, 'the call');
    abort.abort();
    await expect(pending).rejects.toThrow();
    await eventually(() => accessLines('acc-gone-1').length > 0, 2_000, 'access line of the aborted request');
    release();
    await new Promise((r) => setTimeout(r, 100));
    expect(accessLines('acc-gone-1')).toHaveLength(1);
    expect(accessLines('acc-gone-1')[0]).toMatchObject({ req: { method: 'POST' }, route: '/results' });
  });
});
