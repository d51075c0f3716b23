import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { FhirRouter } from '@medplum/fhir-router';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { adminRouter } from './admin';
import type { ClientRegistration } from './auth/smart';
import { OAuthError, SmartAuth } from './auth/smart';
import type { EhrSandboxOptions, ResolvedOptions } from './config';
import { resolveOptions } from './config';
import type { FaultConfig } from './faults';
import { Faults } from './faults';
import { loadR4Definitions } from './fhir/definitions';
import { FhirEngine } from './fhir/engine';
import { bodyError, fhirRouter, sendError } from './fhir/http';
import { httpError, toHttpError } from './fhir/outcome';
import { Mutex } from './mutex';
import { SandboxRepository } from './repo';
import type { SandboxStats } from './stats';
import { Stats } from './stats';

/** A running sandbox. */
export interface EhrSandbox {
  /** Absolute FHIR base, e.g. `http://127.0.0.1:41234/fhir/R4`. */
  readonly baseUrl: string;
  /** Absolute token endpoint, e.g. `http://127.0.0.1:41234/auth/token` (the `aud` of client assertions). */
  readonly tokenUrl: string;
  /** Absolute admin base, e.g. `http://127.0.0.1:41234/admin`. */
  readonly adminUrl: string;
  /** The port actually bound. */
  readonly port: number;
  /** The store (a MemoryRepository). Direct writes bypass validation, scopes and faults. */
  readonly repo: SandboxRepository;
  /** Replaces the fault config (an empty object clears every fault). Throws on a wrong setting. */
  setFaults(faults: FaultConfig): void;
  /** The active fault config, with `outageUntil` (ISO) while an outage runs. */
  faults(): FaultConfig & { outageUntil?: string };
  /** Registers (or re-registers, e.g. to rotate keys) a client. Throws on a wrong registration. */
  registerClient(client: ClientRegistration): void;
  /** Revokes a client: its tokens are refused (401) and it gets no new ones. False when unknown. */
  revokeClient(clientId: string): boolean;
  /** Request counters. */
  stats(): SandboxStats;
  resetStats(): void;
  /** Deletes every resource and its history. */
  resetData(): Promise<void>;
  /** Current resources per type, e.g. `{ Patient: 1, Observation: 4 }`. */
  countResources(): Promise<Record<string, number>>;
  /** Stops listening and closes open connections. */
  stop(): Promise<void>;
}

/** Starts the sandbox (in-process). Options are checked first; a wrong one throws ConfigError naming it. */
export async function startEhrSandbox(options: EhrSandboxOptions = {}): Promise<EhrSandbox> {
  return startResolved(resolveOptions(options));
}

/** Starts the sandbox from already-resolved options (see loadConfigFromEnv). */
export async function startResolved(o: ResolvedOptions): Promise<EhrSandbox> {
  loadR4Definitions();
  let origin = '';
  const baseUrl = (): string => origin + o.basePath;
  const tokenUrl = (): string => origin + '/auth/token';

  const repo = new SandboxRepository();
  const router = new FhirRouter();
  const faults = new Faults(o.faults);
  const stats = new Stats();
  const mutex = new Mutex();
  const smart = new SmartAuth({
    tokenTtlSeconds: o.tokenTtlSeconds,
    tokenUrl,
    issuer: () => origin + '/auth',
    audience: baseUrl,
  });
  await smart.init();
  for (const c of o.clients) {
    smart.registerClient(c);
  }
  const engine = new FhirEngine({
    repo,
    router,
    baseUrl,
    validate: o.validate,
    referentialIntegrity: o.referentialIntegrity,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.post(
    '/auth/token',
    express.urlencoded({ extended: false, limit: 64 * 1024 }),
    async (req: Request, res: Response) => {
      res.set('Cache-Control', 'no-store').set('Pragma', 'no-cache');
      const requestTokenUrl = `${req.protocol}://${req.get('host')}${req.baseUrl}${req.path}`;
      try {
        if (!req.is('application/x-www-form-urlencoded')) {
          throw new OAuthError(400, 'invalid_request', 'send application/x-www-form-urlencoded');
        }
        const { clientId, response } = await smart.token((req.body ?? {}) as Record<string, unknown>, requestTokenUrl);
        stats.tokenAnswered(200);
        o.log({ level: 'info', msg: 'token issued', clientId, status: 200 });
        res.status(200).json(response);
      } catch (err) {
        const e =
          err instanceof OAuthError
            ? err
            : new OAuthError(400, 'invalid_request', 'the token request could not be processed');
        stats.tokenAnswered(e.status);
        o.log({ level: 'warn', msg: `token refused: ${e.error}`, status: e.status });
        res.status(e.status).json({ error: e.error, error_description: e.message });
      }
    },
  );
  app.get('/auth/jwks', async (_req, res) => {
    res.status(200).json(await smart.jwks());
  });
  app.use('/admin', adminRouter({ adminToken: o.adminToken, faults, smart, repo, stats, mutex }));
  app.use(
    o.basePath,
    fhirRouter({
      basePath: o.basePath,
      baseUrl,
      tokenUrl,
      auth: o.auth,
      smart,
      engine,
      router,
      repo,
      faults,
      stats,
      mutex,
      bodyLimitBytes: o.bodyLimitBytes,
      startedAt: new Date().toISOString(),
      log: o.log,
    }),
  );
  app.use((_req: Request, _res: Response) => {
    throw httpError(404, 'not-found', 'Not found');
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    sendError(res, bodyError(err) ?? toHttpError(err));
  });

  const server = http.createServer(app);
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  origin = o.publicUrl ?? `http://${urlHost(o.host)}:${port}`;
  o.log({ level: 'info', msg: 'ehr-sandbox listening', path: o.basePath, port });

  let stopped: Promise<void> | undefined;
  return {
    baseUrl: baseUrl(),
    tokenUrl: tokenUrl(),
    adminUrl: origin + '/admin',
    port,
    repo,
    setFaults: (f) => faults.set(f),
    faults: () => faults.describe(),
    registerClient: (c) => smart.registerClient(c),
    revokeClient: (id) => smart.revokeClient(id),
    stats: () => stats.snapshot(),
    resetStats: () => stats.reset(),
    resetData: () => mutex.run(async () => repo.clear()),
    countResources: () => mutex.run(async () => repo.countByType()),
    stop: () => {
      // Stop accepting, close idle keep-alive connections, give in-flight requests a second.
      stopped ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), 1000);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          o.log({ level: 'info', msg: 'ehr-sandbox stopped' });
          resolve();
        });
        server.closeIdleConnections();
      });
      return stopped;
    },
  };
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') {
    return '127.0.0.1';
  }
  return host.includes(':') ? `[${host}]` : host;
}
