/**
 * Duplicate detection for HL7 messages: the key is the sender (MSH-3, MSH-4) and the message control id (MSH-10);
 * the value is the SHA-256 of the message text. Only messages the sink took are recorded, so a re-sent copy is
 * answered AA again without a second hand-over, and another message under a used id is refused (AR 205).
 */

/** Where accepted messages are remembered. The gateway can back it with Redis (SET key hash EX ttl). */
export interface DedupStore {
  /** The content hash recorded for this key, if any. */
  get(key: string): Promise<string | undefined> | string | undefined;
  /** Records an accepted message (called once the sink has taken it, before the AA is sent). */
  set(key: string, contentHash: string): Promise<void> | void;
}

export interface MemoryDedupStoreOptions {
  /** Most keys kept; the least recently used go first (default 100,000). */
  maxEntries?: number;
  /** How long a key is remembered, in ms (default 7 days). */
  ttlMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** An in-process LRU with a time-to-live: enough for one listener; not shared between processes. */
export class MemoryDedupStore implements DedupStore {
  private readonly map = new Map<string, { hash: string; expires: number }>();
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: MemoryDedupStoreOptions = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 100_000);
    this.ttlMs = options.ttlMs ?? 7 * 24 * 3600 * 1000;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): string | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.map.delete(key);
      return undefined;
    }
    // most recently used goes to the end
    this.map.delete(key);
    this.map.set(key, e);
    return e.hash;
  }

  set(key: string, contentHash: string): void {
    this.map.delete(key);
    this.map.set(key, { hash: contentHash, expires: this.now() + this.ttlMs });
    while (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }
}

/** The duplicate-detection key of a message: sending application, sending facility, control id. */
export function dedupKey(control: { sendingApplication: string; sendingFacility: string; messageId: string }): string {
  return JSON.stringify([control.sendingApplication, control.sendingFacility, control.messageId]);
}
