import type { RedisConnection } from './connection';
import { DEFAULT_PREFIX } from './names';

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
   * Records one step of an update, in one Redis transaction with what goes with it: the tracking-id and placer
   * links (when it is queued), the order's EHR resources and its report's status (when it is delivered). One
   * round trip per step: intake and the workers do this for every update.
   */
  async record(orderKey: string, event: TrackingEvent, also: TrackingExtras = {}): Promise<void> {
    const multi = this.redis.multi();
    if (also.link) {
      const placerValue = orderKey.slice(orderKey.lastIndexOf('|') + 1);
      multi
        .set(`${this.p}:id:${event.trackingId}`, orderKey, 'EX', RETENTION_SECONDS)
        .sadd(`${this.p}:placer:${placerValue}`, orderKey)
        .expire(`${this.p}:placer:${placerValue}`, RETENTION_SECONDS);
    }
    const resources = also.resources ?? [];
    if (resources.length > 0) {
      const key = `${this.p}:order:${orderKey}:resources`;
      const types = new Set(resources.map((r) => r.resourceType));
      for (const r of resources) multi.sadd(`${key}:${r.resourceType}`, r.reference);
      multi.sadd(key, ...types).expire(key, RETENTION_SECONDS);
      for (const t of types) multi.expire(`${key}:${t}`, RETENTION_SECONDS);
    }
    if (also.report) {
      const key = `${this.p}:order:${orderKey}:reports`;
      multi.hset(key, also.report.code, also.report.status).expire(key, RETENTION_SECONDS);
    }
    const events = `${this.p}:order:${orderKey}:events`;
    multi.rpush(events, JSON.stringify(event)).ltrim(events, -MAX_EVENTS, -1).expire(events, RETENTION_SECONDS);
    await multi.exec();
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
