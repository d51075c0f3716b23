/** startGateway: the gateway in-process (tests, the demo) or as its own process (main.ts). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEhrClient, type EhrClient } from '@marrowbridge/ehr-client';
import { loadStructureDefinitions } from '@marrowbridge/fhir-profiles';
import type { IntakeOptions, MessageResult } from '@marrowbridge/intake';
import { createRedisConnection, DeliveryQueues, type RedisConnection } from '@marrowbridge/queue';
import { createValidator, type Validator } from '@marrowbridge/validation';
import type { StructureDefinition } from '@medplum/fhirtypes';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { createGatewayApp, intakeOptionsOf, type GatewayDeps } from './app';
import { createAuthenticator, type Authenticator } from './auth';
import type { GatewayConfig } from './config';
import { IntakeService, type Hl7Answer } from './intake-service';
import { createLogger } from './logging';
import { createMetrics, type GatewayMetrics } from './metrics';

/**
 * What a hosted MLLP listener gets from the gateway. `handleMessage` does exactly what POST /hl7 does for one
 * framed message: translate, queue, and answer AA only once the jobs are in Redis (AE/AR with ERR otherwise;
 * a re-sent message is acknowledged AA again without a second job). The listener writes `answer.ack` back in
 * its MLLP frame. MLLP has no bearer token: secure it at the network level.
 */
export interface MllpHostContext {
  handleMessage(message: Buffer | string): Promise<Hl7Answer>;
  /**
   * For a listener that translates by itself (e.g. @marrowbridge/mllp's sink): queues one translated message
   * (channel mllp, sender MSH-3|MSH-4, id MSH-10); resolves once Redis has the jobs, rejects (HttpError 503)
   * when Redis does not take them within GATEWAY_ENQUEUE_TIMEOUT_MS.
   */
  enqueue(
    result: MessageResult & { ok: true },
    raw: string,
    control: { sendingApplication: string; sendingFacility: string; messageId: string },
  ): Promise<{ trackingId: string; duplicate: boolean; jobIds: string[] }>;
  /** The intake options (HL7 time zone, size limit) the HTTP intake uses, for the listener's own translation. */
  intakeOptions: IntakeOptions;
  config: GatewayConfig;
  log: Logger;
}

export interface HostedListener {
  /** e.g. "mllp://127.0.0.1:2575", for the startup log line. */
  address?: string;
  /** The TCP port bound (when MLLP_PORT is 0, the one picked). */
  port?: number;
  stop(): Promise<void>;
}

/** Starts an MLLP listener inside the gateway process (the HL7 helper's listener plugs in here). */
export type MllpListenerStarter = (ctx: MllpHostContext) => Promise<HostedListener>;

export interface GatewayOverrides {
  /** Logger (tests capture the output); default pino at config.logLevel to stdout. */
  log?: Logger;
  /** Validator; default createValidator() (loaded once at start). */
  validator?: Validator;
  /** Authenticator (tests); default from the configuration. */
  authenticator?: Authenticator | null;
  /** EHR client (read-only use: readiness is checked with plain fetch, $translate?diff=true reads). */
  ehr?: EhrClient;
  /** Profiles served under /fhir/StructureDefinition; default the compiled ones of @marrowbridge/fhir-profiles. */
  profiles?: StructureDefinition[];
  /** Hosts the MLLP listener in this process; stopped before the HTTP server. */
  mllp?: MllpListenerStarter;
  /** Follow the queues' events for the delivery metrics (default true). */
  followQueueEvents?: boolean;
}

export interface RunningGateway {
  /** http://host:port (the port actually bound). */
  url: string;
  port: number;
  app: Express;
  queues: DeliveryQueues;
  metrics: GatewayMetrics;
  intake: IntakeService;
  mllp?: HostedListener;
  /** Stops the MLLP listener, stops accepting connections, lets requests in flight finish, closes Redis. */
  stop(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, overrides: GatewayOverrides = {}): Promise<RunningGateway> {
  const log = overrides.log ?? createLogger(config.logLevel);
  const connection: RedisConnection = createRedisConnection(config.redisUrl, { name: 'gateway' });
  connection.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
  const queues = new DeliveryQueues({ connection, prefix: config.queuePrefix, intake: intakeOptionsOf(config) });
  const metrics = createMetrics(queues);
  const eventConnections: RedisConnection[] = [];

  const authenticator =
    overrides.authenticator === null ? undefined : (overrides.authenticator ?? (await createAuthenticator(config)));
  const ehr = overrides.ehr ?? createEhrClient(config, { userAgent: 'marrowbridge-gateway' });
  const server = http.createServer();
  let mllp: HostedListener | undefined;
  try {
    if (overrides.followQueueEvents !== false) {
      await metrics.followQueues(
        queues,
        () => {
          const c = createRedisConnection(config.redisUrl, { forWorker: true, name: 'gateway-events' });
          c.on('error', () => undefined);
          eventConnections.push(c);
          return c;
        },
        log,
      );
    }
    const validator = overrides.validator ?? createValidator();
    const deps: GatewayDeps = {
      config,
      queues,
      ehr,
      validator,
      log,
      metrics,
      authenticator,
      profiles: overrides.profiles ?? loadStructureDefinitions(),
      publicUrl: config.publicUrl ?? '',
    };
    const intake = new IntakeService({
      queues,
      metrics,
      intake: intakeOptionsOf(config),
      enqueueTimeoutMs: config.enqueueTimeoutMs,
    });

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
    const url = `http://${host}:${port}`;
    deps.publicUrl = config.publicUrl ?? url;
    const app = createGatewayApp(deps, intake);
    server.on('request', app);
    // Keep-alive connections of a stopped server must not hold the process.
    server.keepAliveTimeout = 5_000;

    if (overrides.mllp) {
      const mllpLog = log.child({ channel: 'mllp' });
      mllp = await overrides.mllp({
        config,
        log: mllpLog,
        intakeOptions: intakeOptionsOf(config),
        handleMessage: (message) => intake.acceptHl7(message, 'mllp', mllpLog),
        enqueue: (result, raw, control) =>
          intake.enqueueTranslated(
            result,
            raw,
            'mllp',
            `${control.sendingApplication}|${control.sendingFacility}`,
            mllpLog,
          ),
      });
    }
    log.info({ url, auth: config.auth, queuePrefix: config.queuePrefix, mllp: mllp?.address }, 'gateway started');

    let stopping: Promise<void> | undefined;
    return {
      url,
      port,
      app,
      queues,
      metrics,
      intake,
      mllp,
      stop() {
        stopping ??= (async () => {
          await mllp?.stop().catch((err: unknown) => log.warn({ err: String(err) }, 'mllp stop failed'));
          await closeServer(server);
          await metrics.stop();
          await queues.close();
          connection.disconnect();
          for (const c of eventConnections) c.disconnect();
          log.info('gateway stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    await mllp?.stop().catch(() => undefined);
    if (server.listening) await closeServer(server);
    await metrics.stop().catch(() => undefined);
    await queues.close().catch(() => undefined);
    connection.disconnect();
    for (const c of eventConnections) c.disconnect();
    throw err;
  }
}

/** Stops accepting, lets requests in flight finish (at most 10 s), closes idle keep-alive connections. */
function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), 10_000);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
