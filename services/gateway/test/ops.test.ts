/**
 * Operations and configuration: readiness when the EHR is down, security headers, request ids, the dashboard's
 * policy, 503 / ACK AR when Redis does not take a job, settings checks, and SIGTERM on the standalone process.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { EnqueueResult } from '@marrowbridge/queue';
import pino from 'pino';
import { withTestRedis } from '../../../test/harness/redis';
import { sample } from '../../../test/support/stack';
import {
  byteSize,
  createMetrics,
  HttpError,
  IntakeService,
  loadGatewayConfig,
  loadGatewayConfig as load,
} from '../src';
import { JSON_HEADERS, makeSigner, startGatewayStack, type GatewayStack } from './helpers';

const redis = withTestRedis();
const OML = fs.readFileSync(path.join(__dirname, 'fixtures', 'oml-o21-gateway.hl7'), 'utf8');

describe('readiness, headers, request ids', () => {
  let g: GatewayStack;
  beforeAll(async () => {
    // The EHR base points at a port nothing listens on.
    g = await startGatewayStack({
      redisUrl: redis().url,
      env: { EHR_BASE_URL: 'http://127.0.0.1:9/fhir/R4', GATEWAY_READY_TIMEOUT_MS: '500' },
    });
  });
  afterAll(async () => g?.stop());

  it('/readyz answers 503 with an OperationOutcome naming the EHR when it is unreachable; /healthz stays 200', async () => {
    const res = await g.call('/readyz', { scopes: null });
    expect(res.status).toBe(503);
    const o = (await res.json()) as { resourceType: string; issue: { severity: string; details: { text: string } }[] };
    expect(o.resourceType).toBe('OperationOutcome');
    expect(o.issue.find((i) => i.severity === 'error')?.details.text).toMatch(/^EHR not reachable/);
    expect(o.issue.find((i) => i.severity === 'information')?.details.text).toMatch(/^Redis reachable/);
    expect((await g.call('/healthz', { scopes: null })).status).toBe(200);
  });

  it('sends helmet headers, echoes a plain X-Request-Id and replaces a strange one', async () => {
    const res = await g.call('/fhir/metadata', { headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(res.headers.get('x-powered-by')).toBeNull();
    const odd = await g.call('/healthz', { scopes: null, headers: { 'x-request-id': 'a b <script>' } });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves the queue dashboard with a policy that lets its own scripts run', async () => {
    const res = await g.call('/admin/queues');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const api = await g.call('/admin/queues/api/queues?activeQueue=order-deliveries&page=1&jobsPerPage=10');
    expect(api.status).toBe(200);
    const body = (await api.json()) as { queues: { name: string }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual(['dead-letter', 'order-deliveries', 'result-deliveries']);
  });
});

describe('when Redis does not take the job', () => {
  const hanging = {
    enqueueMessage: () => new Promise<EnqueueResult>(() => undefined),
  } as unknown as ConstructorParameters<typeof IntakeService>[0]['queues'];
  const service = new IntakeService({
    queues: hanging,
    metrics: createMetrics(undefined),
    intake: {},
    enqueueTimeoutMs: 150,
  });
  const log = pino({ level: 'silent' });

  it('JSON intake throws 503 (transient) after the timeout, so nothing is acknowledged', async () => {
    const err = await service
      .acceptJson(fs.readFileSync(sample('order-sternum')), 'order', undefined, log)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(503);
    expect((err as HttpError).outcome.issue[0].code).toBe('transient');
  });

  it('HL7 intake answers AR with ERR 207 and HTTP 503', async () => {
    const answer = await service.acceptHl7(OML, 'mllp', log);
    expect(answer.httpStatus).toBe(503);
    expect(answer.messages[0]).toMatchObject({ code: 'AR', unavailable: true });
    expect(answer.ack).toMatch(/\rMSA\|AR\|GW-OML-0001/);
    expect(answer.ack).toMatch(/\rERR\|[^\r]*\|207\^/);
  });
});

describe('configuration', () => {
  it('defaults, and every problem named at once', () => {
    const c = loadGatewayConfig({ GATEWAY_AUTH: 'off' });
    expect(c).toMatchObject({ port: 8100, queuePrefix: '{marrowbridge}', auth: 'off', hl7TimeZone: 'UTC' });
    expect(() =>
      load({ GATEWAY_AUTH: 'jwt', GATEWAY_PORT: 'x', HL7_TIME_ZONE: 'Mars/Base', QUEUE_PREFIX: 'plain' }),
    ).toThrow(/GATEWAY_PORT[\s\S]*QUEUE_PREFIX[\s\S]*HL7_TIME_ZONE/);
    expect(() => load({ GATEWAY_AUTH: 'jwt' })).toThrow(/GATEWAY_JWKS_URL or GATEWAY_JWT_PUBLIC_KEY is required/);
    expect(() => load({ GATEWAY_AUTH: 'off', GATEWAY_JWT_ALGORITHMS: 'HS256' })).toThrow(/asymmetric/);
    expect(() => load({ GATEWAY_AUTH: 'off', EHR_CLIENT_ID: 'x' })).toThrow(/EHR_PRIVATE_KEY is required/);
  });

  it('reads body limits as sizes', () => {
    expect(byteSize('10mb')).toBe(10 * 1024 * 1024);
    expect(byteSize('512kb')).toBe(512 * 1024);
    expect(byteSize('2048')).toBe(2048);
    expect(() => byteSize('lots')).toThrow(/size/);
    expect(() => byteSize('1')).toThrow(/between/);
  });
});

describe('standalone process', () => {
  it('starts from the environment, answers, and stops cleanly on SIGTERM', async () => {
    const signer = await makeSigner();
    const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, '..', 'src', 'main.ts')], {
      env: {
        ...process.env,
        REDIS_URL: redis().url,
        QUEUE_PREFIX: `{${redis().prefix}main}`,
        GATEWAY_PORT: '0',
        GATEWAY_JWT_PUBLIC_KEY: signer.publicKeyPem,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start line: ${out}`)), 30_000);
      child.stdout.on('data', () => {
        const m = /"url":"(http:[^"]+)"/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    const res = await fetch(`${url}/orders`, {
      method: 'POST',
      headers: { ...JSON_HEADERS, authorization: `Bearer ${await signer.token()}` },
      body: '{}',
    });
    expect(res.status).toBe(422);
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(out).toMatch(/gateway stopped/);
  }, 60_000);
});
