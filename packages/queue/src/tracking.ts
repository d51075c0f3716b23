import type { RedisConnection } from './connection';
import { DEFAULT_PREFIX } from './names';
import type { HeldLock } from './order-lock';
import type { DeliveryJobData } from './payload';
import { LuaScript } from './script';

/** One step in the life of an update, as the gateway's status endpoint shows it. No patient data here. */
export interface TrackingEvent {
  at: string;
  trackingId: string;
  jobId: string;
  kind: 'order' | 'result';
  /** Report code (results) so the history reads per report. */
  reportCode?: string;
  /** Report or order status carried by the update. */
  status?: string;
  event: 'queued' | 'delivered' | 'unchanged' | 'superseded' | 'retrying' | 'dead-lettered' | 'review' | 'replayed';
  detail?: string;
}

export interface OrderTracking {
  orderKey: string;
  /** FHIR references of the order's resources in the EHR, by resource type. */
  resources: Record<string, string[]>;
  /** Current status per report code, as delivered to the EHR. */
  reports: Record<string, string>;
  events: TrackingEvent[];
}

/** The tracking event of one step of a delivery job: the kind, report code and status its message carries. */
export function jobEvent(
  data: Pick<DeliveryJobData, 'trackingId' | 'message'>,
  jobId: string,
  event: TrackingEvent['event'],
  detail?: string,
): TrackingEvent {
  const m = data.message;
  return {
    at: new Date().toISOString(),
    trackingId: data.trackingId,
    jobId,
    kind: m.kind,
    reportCode: m.kind === 'result' ? m.reportCode.code : undefined,
    status: m.kind === 'result' ? m.status : (m.status ?? 'active'),
    event,
    detail,
  };
}

/** What a tracking step also writes (see TrackingStore.record). */
export interface TrackingExtras {
  /** Link the event's tracking id and the order's placer number to the order (the update was queued). */
  link?: boolean;
  /** The order's resources in the EHR after a delivery. */
  resources?: { resourceType: string; reference: string }[];
  /** The report's status as delivered. */
  report?: { code: string; status: string };
}

const RETENTION_SECONDS = 90 * 24 * 3600;
const MAX_EVENTS = 500;

/** Redis-backed record of what happened to each order's updates (for GET /orders/{id}). */
export class TrackingStore {
  private readonly p: string;

  constructor(
    private readonly redis: RedisConnection,
    prefix = DEFAULT_PREFIX,
  ) {
    this.p = `${prefix}:tracking`;
  }

  /**
   * Records one step of an update, in one Redis script with what goes with it: the tracking-id and placer
   * links (when it is queued), the order's EHR resources and its report's status (when it is delivered), and
   * (`release`) the release of the order's lock once all that is written. One round trip per step: intake and
   * the workers do this for every update. Like MULTI/EXEC, one failing write does not stop the others.
   */
  async record(orderKey: string, event: TrackingEvent, also: TrackingExtras = {}, release?: HeldLock): Promise<void> {
    const ops = new ScriptOps();
    if (also.link) {
      const placerValue = orderKey.slice(orderKey.lastIndexOf('|') + 1);
      const placer = `${this.p}:placer:${placerValue}`;
      ops
        .add('set', `${this.p}:id:${event.trackingId}`, orderKey, 'EX', RETENTION_SECONDS)
        .add('sadd', placer, orderKey)
        .add('expire', placer, RETENTION_SECONDS);
    }
    const resources = also.resources ?? [];
    if (resources.length > 0) {
      const key = `${this.p}:order:${orderKey}:resources`;
      // One SADD per resource type (a result update's 8 Observations are one), not one per resource.
      const byType = new Map<string, string[]>();
      for (const r of resources) {
        const refs = byType.get(r.resourceType);
        if (refs) refs.push(r.reference);
        else byType.set(r.resourceType, [r.reference]);
      }
      for (const [t, refs] of byType) ops.add('sadd', `${key}:${t}`, ...refs);
      ops.add('sadd', key, ...byType.keys()).add('expire', key, RETENTION_SECONDS);
      for (const t of byType.keys()) ops.add('expire', `${key}:${t}`, RETENTION_SECONDS);
    }
    if (also.report) {
      const key = `${this.p}:order:${orderKey}:reports`;
      ops.add('hset', key, also.report.code, also.report.status).add('expire', key, RETENTION_SECONDS);
    }
    const events = `${this.p}:order:${orderKey}:events`;
    ops
      .add('rpush', events, JSON.stringify(event))
      .add('ltrim', events, -MAX_EVENTS, -1)
      .add('expire', events, RETENTION_SECONDS);
    if (release) ops.add(RELEASE_OP, release.key, release.token);
    await RECORD.run(this.redis, ops.keys, ops.args);
    if (release) release.released = true;
  }

  /** Finds an order by tracking id, by `system|value` placer key, or by the placer value alone. */
  async resolve(idOrPlacer: string): Promise<string[]> {
    const byTracking = await this.redis.get(`${this.p}:id:${idOrPlacer}`);
    if (byTracking) return [byTracking];
    if (idOrPlacer.includes('|')) {
      const exists = await this.redis.exists(`${this.p}:order:${idOrPlacer}:events`);
      return exists ? [idOrPlacer] : [];
    }
    return (await this.redis.smembers(`${this.p}:placer:${idOrPlacer}`)).sort();
  }

  async get(orderKey: string): Promise<OrderTracking | undefined> {
    const base = `${this.p}:order:${orderKey}`;
    const [events, reports, types] = await Promise.all([
      this.redis.lrange(`${base}:events`, 0, -1),
      this.redis.hgetall(`${base}:reports`),
      this.redis.smembers(`${base}:resources`),
    ]);
    if (events.length === 0 && types.length === 0) return undefined;
    const resources: Record<string, string[]> = {};
    for (const t of types.sort()) resources[t] = (await this.redis.smembers(`${base}:resources:${t}`)).sort();
    return { orderKey, resources, reports, events: events.map((e) => JSON.parse(e) as TrackingEvent) };
  }
}

const RELEASE_OP = 'release-lock';

/** Writes in the order given (each: command, key index, argument count, arguments); release-lock deletes a held lock. */
const RECORD = new LuaScript(`
local i = 1
local n = #ARGV
while i <= n do
  local cmd = ARGV[i]
  local key = KEYS[tonumber(ARGV[i + 1])]
  local argc = tonumber(ARGV[i + 2])
  if cmd == '${RELEASE_OP}' then
    if redis.call('get', key) == ARGV[i + 3] then redis.call('del', key) end
  else
    redis.pcall(cmd, key, unpack(ARGV, i + 3, i + 2 + argc))
  end
  i = i + 3 + argc
end
return 1
`);

/** The keys and arguments of one RECORD call. */
class ScriptOps {
  readonly keys: string[] = [];
  readonly args: (string | number)[] = [];
  private readonly index = new Map<string, number>();

  add(command: string, key: string, ...args: (string | number)[]): this {
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.keys.push(key);
      this.index.set(key, i);
    }
    this.args.push(command, i, args.length, ...args);
    return this;
  }
}
