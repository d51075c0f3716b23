/**
 * Starts the whole stack in one process: Redis (found or started), the ehr-sandbox (unless EHR_BASE_URL points
 * at another EHR), a sync-worker, and the gateway with its MLLP listener. Each service reads its own settings
 * from the environment; the launcher only fills in what it started (URLs, demo keys).
 */
import fs from 'node:fs';
import path from 'node:path';
import { startEhrSandbox, type EhrSandbox } from '@marrowbridge/ehr-sandbox';
import {
  loadGatewayConfig,
  loadMllpConfig,
  mllpListener,
  startGateway,
  type RunningGateway,
} from '@marrowbridge/gateway';
import { createRedisConnection, DeliveryQueues } from '@marrowbridge/queue';
import { loadSyncWorkerConfig, startSyncWorker, type SyncWorker } from '@marrowbridge/sync-worker';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import pino from 'pino';
import type { LauncherConfig } from './config';
import { ensureRedis, type LocalRedis } from './redis';

export interface Stack {
  redis: LocalRedis;
  sandbox?: EhrSandbox;
  worker: SyncWorker;
  gateway: RunningGateway;
  ehrBaseUrl: string;
  /** Bearer token for the gateway (undefined with GATEWAY_AUTH=off). */
  token?: string;
  mllpPort?: number;
  logFile: string;
  stop(): Promise<void>;
}

const DEMO_CLIENT_ID = 'marrowbridge-demo';
const DEMO_PREFIX = '{marrowbridge-demo}';
const GATEWAY_SCOPES = 'marrowbridge/intake marrowbridge/read marrowbridge/admin';

export async function startStack(
  config: LauncherConfig,
  env: NodeJS.ProcessEnv,
  say: (line: string) => void,
): Promise<Stack> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const redis = await ensureRedis({
      url: config.redisUrl,
      dataDir: path.join(config.dataDir, 'redis'),
      port: config.redisPort,
    });
    stops.push(() => redis.stop());
    say(`✓ Redis: ${redis.how}`);

    const logDir = path.join(config.dataDir, 'logs');
    fs.mkdirSync(logDir, { recursive: true });
    const logFile = path.join(logDir, 'marrowbridge.log');
    const log = pino({ level: config.logLevel }, pino.destination({ dest: logFile, sync: false, mkdir: true }));

    // The EHR: the embedded sandbox with a SMART backend client registered for the worker, or an external one.
    const ehrEnv: Record<string, string> = {};
    let sandbox: EhrSandbox | undefined;
    if (!config.ehrBaseUrl) {
      const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
      const jwk = { ...(await exportJWK(publicKey)), kid: DEMO_CLIENT_ID, alg: 'ES384', use: 'sig' };
      sandbox = await startEhrSandbox({
        port: config.sandboxPort,
        auth: config.sandboxAuth,
        clients: [{ clientId: DEMO_CLIENT_ID, jwk, scope: 'system/*.cruds', name: 'marrowbridge demo worker' }],
      });
      const started = sandbox;
      stops.push(() => started.stop());
      ehrEnv.EHR_BASE_URL = sandbox.baseUrl;
      if (config.sandboxAuth === 'smart') {
        Object.assign(ehrEnv, {
          EHR_CLIENT_ID: DEMO_CLIENT_ID,
          EHR_PRIVATE_KEY: await exportPKCS8(privateKey),
          EHR_KEY_ID: DEMO_CLIENT_ID,
          EHR_SCOPES: 'system/*.read system/*.write',
        });
      }
      say(
        `✓ ehr-sandbox: ${sandbox.baseUrl} (${config.sandboxAuth === 'smart' ? 'SMART backend auth' : 'no auth: browse it freely'})`,
      );
    } else {
      say(`✓ EHR: ${config.ehrBaseUrl} (external)`);
    }

    // Gateway bearer tokens: the demo acts as its own identity provider (a key pair made at start).
    const gatewayEnv: Record<string, string> = {};
    let token: string | undefined;
    if (config.gatewayAuth === 'jwt' && !env.GATEWAY_JWKS_URL && !env.GATEWAY_JWT_PUBLIC_KEY) {
      const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
      gatewayEnv.GATEWAY_JWT_PUBLIC_KEY = await exportSPKI(publicKey);
      token = await new SignJWT({ scope: GATEWAY_SCOPES })
        .setProtectedHeader({ alg: 'ES256' })
        .setSubject('demo-user')
        .setIssuedAt()
        .setExpirationTime('12h')
        .sign(privateKey);
    }

    // With the in-memory sandbox, queue state from an earlier run describes an EHR that is gone: the demo
    // uses a prefix of its own and starts it empty.
    const prefixEnv: Record<string, string> = {};
    if (sandbox && !env.QUEUE_PREFIX) {
      prefixEnv.QUEUE_PREFIX = DEMO_PREFIX;
      const connection = createRedisConnection(redis.url);
      const queues = new DeliveryQueues({ connection, prefix: DEMO_PREFIX });
      await queues.clearAll();
      await queues.close();
      connection.disconnect();
    }
    const serviceEnv = { ...env, ...ehrEnv, ...gatewayEnv, ...prefixEnv, REDIS_URL: redis.url };
    const worker = await startSyncWorker(loadSyncWorkerConfig(serviceEnv), {
      log: log.child({ service: 'sync-worker' }),
    });
    stops.push(() => worker.close());
    say('✓ sync-worker: delivering from the queues to the EHR');

    const gatewayConfig = loadGatewayConfig({
      ...serviceEnv,
      GATEWAY_PORT: String(config.gatewayPort),
      GATEWAY_AUTH: config.gatewayAuth,
    });
    const mllpConfig = loadMllpConfig({ ...serviceEnv, MLLP_PORT: String(config.mllpPort) });
    const gateway = await startGateway(gatewayConfig, {
      log: log.child({ service: 'gateway' }),
      mllp: mllpConfig.enabled ? mllpListener(mllpConfig) : undefined,
    });
    stops.push(() => gateway.stop());
    say(`✓ gateway: ${gateway.url}${gateway.mllp?.address ? ` and ${gateway.mllp.address}` : ''}`);

    return {
      redis,
      sandbox,
      worker,
      gateway,
      ehrBaseUrl: ehrEnv.EHR_BASE_URL ?? config.ehrBaseUrl!,
      token,
      mllpPort: gateway.mllp?.port,
      logFile,
      stop: async () => {
        await stopAll();
        log.flush();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
