/**
 * The MLLP listener hosted in the gateway process (@marrowbridge/mllp), with its own settings. Each accepted
 * message is queued through the gateway's intake (ctx.enqueue) before the listener answers AA.
 */
import fs from 'node:fs';
import { int, list, loadConfig, optional, port, spec, text, type Env } from '@marrowbridge/config';
import { startMllpListener, type SenderRule } from '@marrowbridge/mllp';
import type { MllpListenerStarter } from './server';

export const MLLP_SETTINGS = {
  port: spec('MLLP_PORT', 'MLLP port for HL7 v2 over TCP (0 = any free port)', 2575, port),
  host: spec('MLLP_HOST', 'interface the MLLP listener binds', '127.0.0.1', text),
  enabled: spec(
    'MLLP_ENABLED',
    'host the MLLP listener in the gateway',
    true,
    (raw) => raw !== 'false' && raw !== '0' && raw !== 'off',
  ),
  tlsKey: optional('MLLP_TLS_KEY', 'PEM private key file: serve MLLP over TLS', readFile, true),
  tlsCert: optional('MLLP_TLS_CERT', 'PEM certificate file (with MLLP_TLS_KEY)', readFile),
  tlsClientCa: optional(
    'MLLP_TLS_CLIENT_CA',
    'PEM CA file: require client certificates signed by it (mutual TLS)',
    readFile,
  ),
  allowedSenders: spec(
    'MLLP_ALLOWED_SENDERS',
    'comma-separated MSH-3|MSH-4 pairs allowed to send (`*` for any part); unset: any sender',
    [] as SenderRule[],
    (raw) => list(raw).map(parseSender),
  ),
  maxMessageBytes: spec(
    'MLLP_MAX_MESSAGE_BYTES',
    'largest HL7 message accepted over MLLP',
    10 * 1024 * 1024,
    int(1024, 100 * 1024 * 1024),
  ),
  maxConnections: spec('MLLP_MAX_CONNECTIONS', 'most open MLLP connections', 100, int(1, 10_000)),
};

export type MllpConfig = ReturnType<typeof loadMllpConfig>;

export function loadMllpConfig(env: Env = process.env) {
  const c = loadConfig(MLLP_SETTINGS, env);
  if (Boolean(c.tlsKey) !== Boolean(c.tlsCert)) {
    throw new Error('invalid configuration:\n  - MLLP_TLS_KEY and MLLP_TLS_CERT must be set together');
  }
  return c;
}

/** The starter startGateway(config, { mllp }) calls to host the listener. */
export function mllpListener(config: MllpConfig): MllpListenerStarter {
  return async (ctx) => {
    const listener = await startMllpListener({
      port: config.port,
      host: config.host,
      intake: ctx.intakeOptions,
      maxMessageBytes: config.maxMessageBytes,
      maxConnections: config.maxConnections,
      allowedSenders: config.allowedSenders.length ? config.allowedSenders : undefined,
      tls: config.tlsKey
        ? {
            key: config.tlsKey,
            cert: config.tlsCert!,
            ca: config.tlsClientCa,
            requestCert: Boolean(config.tlsClientCa),
          }
        : undefined,
      sink: async (m) => {
        try {
          const queued = await ctx.enqueue(m.result, m.raw, m.control);
          // The same MSA-3 as POST /hl7: the tracking id, for GET /orders/{id}.
          return { ok: true, text: `${queued.duplicate ? 'already queued' : 'queued'} as ${queued.trackingId}` };
        } catch {
          return { ok: false, reason: 'the delivery queue did not take the message' };
        }
      },
      onEvent: (e) => {
        if (e.type === 'ack') ctx.log.info({ mllp: e.outcome, code: e.code, ms: e.ms }, 'mllp message');
        else if (e.type !== 'connection' && e.type !== 'closed') ctx.log.warn({ mllp: e.type }, 'mllp event');
      },
    });
    return {
      address: `${config.tlsKey ? 'mllps' : 'mllp'}://${listener.host}:${listener.port}`,
      port: listener.port,
      stop: () => listener.stop(),
    };
  };
}

function readFile(raw: string): string {
  try {
    return fs.readFileSync(raw, 'utf8');
  } catch {
    throw new Error('is not a readable file');
  }
}

function parseSender(pair: string): SenderRule {
  const [application, facility] = pair.split('|');
  if (!application) throw new Error('entries must look like APP|FACILITY');
  return {
    ...(application !== '*' ? { application } : {}),
    ...(facility && facility !== '*' ? { facility } : {}),
  };
}
