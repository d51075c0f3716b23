/**
 * Fault injection for FHIR requests. Applied in this order before authentication:
 * outage window → added latency → dropped connection → injected error.
 */

export interface FaultConfig {
  /** Fraction (0..1) of FHIR requests answered with an injected error instead of being served. */
  errorRate?: number;
  /** Statuses the injected errors use, picked uniformly. Default [503]. */
  errorStatuses?: number[];
  /** Added latency per FHIR request, in ms. */
  latencyMs?: number;
  /** Extra random latency, uniform in [0, jitterMs). */
  jitterMs?: number;
  /** Outage: every FHIR request answers 503 for this many seconds from the time the config is set. */
  outageSeconds?: number;
  /** Fraction (0..1) of FHIR requests whose connection is destroyed without any response. */
  dropRate?: number;
  /** false: transaction Bundles are refused (400) and the CapabilityStatement omits transaction. Default true. */
  transactions?: boolean;
  /** When set, injected 429 and 503 answers (error rate and outage) carry `Retry-After: <seconds>`. */
  retryAfterSeconds?: number;
  /** Seed for the fault dice (reproducible runs). Default: Math.random. */
  seed?: number;
}

/** The active fault state: the config plus the outage end as a timestamp. */
export interface FaultState {
  config: FaultConfig;
  /** Epoch ms at which the outage ends (0: none). */
  outageUntil: number;
}

const KEYS = new Set([
  'errorRate',
  'errorStatuses',
  'latencyMs',
  'jitterMs',
  'outageSeconds',
  'dropRate',
  'transactions',
  'retryAfterSeconds',
  'seed',
]);

/**
 * Checks a fault config; throws an Error naming the first wrong setting. `where` prefixes the
 * message (e.g. "EHR_SANDBOX_FAULTS").
 */
export function checkFaultConfig(value: unknown, where = 'faults'): FaultConfig {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${where} must be a JSON object`);
  }
  const f = value as Record<string, unknown>;
  for (const key of Object.keys(f)) {
    if (!KEYS.has(key)) {
      throw new Error(`${where}.${key} is not a known fault setting (known: ${[...KEYS].join(', ')})`);
    }
  }
  const fraction = (key: string): void => {
    const v = f[key];
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0 && v <= 1))) {
      throw new Error(`${where}.${key} must be a number from 0 to 1`);
    }
  };
  const nonNegative = (key: string): void => {
    const v = f[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      throw new Error(`${where}.${key} must be a non-negative number`);
    }
  };
  fraction('errorRate');
  fraction('dropRate');
  nonNegative('latencyMs');
  nonNegative('jitterMs');
  nonNegative('outageSeconds');
  nonNegative('retryAfterSeconds');
  if (f.seed !== undefined && (typeof f.seed !== 'number' || !Number.isInteger(f.seed))) {
    throw new Error(`${where}.seed must be an integer`);
  }
  if (f.transactions !== undefined && typeof f.transactions !== 'boolean') {
    throw new Error(`${where}.transactions must be true or false`);
  }
  if (f.errorStatuses !== undefined) {
    const s = f.errorStatuses;
    if (
      !Array.isArray(s) ||
      s.length === 0 ||
      s.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 400 || x > 599)
    ) {
      throw new Error(`${where}.errorStatuses must be a non-empty array of HTTP status codes 400..599`);
    }
  }
  return { ...(f as FaultConfig) };
}

/** Fault dice: seeded (mulberry32) or Math.random. */
export function makeRandom(seed?: number): () => number {
  if (seed === undefined) {
    return Math.random;
  }
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the fault layer decided for one request. */
export type FaultDecision =
  | { kind: 'pass'; delayMs: number }
  | { kind: 'drop'; delayMs: number }
  | { kind: 'error'; delayMs: number; status: number; reason: 'outage' | 'injected'; retryAfter?: number };

export class Faults {
  private state: FaultState = { config: {}, outageUntil: 0 };
  private random: () => number = Math.random;

  constructor(initial?: FaultConfig) {
    if (initial) {
      this.set(initial);
    }
  }

  /** Replaces the whole fault config (an empty object clears every fault). */
  set(config: FaultConfig): void {
    const checked = checkFaultConfig(config);
    this.state = {
      config: checked,
      outageUntil: checked.outageSeconds ? Date.now() + checked.outageSeconds * 1000 : 0,
    };
    this.random = makeRandom(checked.seed);
  }

  /** The active config, with the outage end as an ISO time when one is running. */
  describe(): FaultConfig & { outageUntil?: string } {
    const out: FaultConfig & { outageUntil?: string } = { ...this.state.config };
    if (this.state.outageUntil > Date.now()) {
      out.outageUntil = new Date(this.state.outageUntil).toISOString();
    }
    return out;
  }

  get transactionsEnabled(): boolean {
    return this.state.config.transactions !== false;
  }

  decide(): FaultDecision {
    const c = this.state.config;
    const retryAfter = c.retryAfterSeconds;
    if (this.state.outageUntil > Date.now()) {
      return { kind: 'error', delayMs: 0, status: 503, reason: 'outage', retryAfter };
    }
    const delayMs = (c.latencyMs ?? 0) + (c.jitterMs ? this.random() * c.jitterMs : 0);
    if (c.dropRate && this.random() < c.dropRate) {
      return { kind: 'drop', delayMs };
    }
    if (c.errorRate && this.random() < c.errorRate) {
      const statuses = c.errorStatuses ?? [503];
      const status = statuses[Math.floor(this.random() * statuses.length)];
      return {
        kind: 'error',
        delayMs,
        status,
        reason: 'injected',
        retryAfter: status === 429 || status === 503 ? retryAfter : undefined,
      };
    }
    return { kind: 'pass', delayMs };
  }
}
