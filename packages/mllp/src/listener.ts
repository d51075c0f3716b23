/**
 * The MLLP listener: HL7 v2 messages over TCP (or TLS) in, exactly one ACK per received message out.
 *
 * A message is acknowledged AA only after the injected sink has taken it (the gateway's sink puts it on the
 * delivery queue). Per message: a frame that is not HL7 → AR; over maxMessageBytes → AR; a sender not on the
 * allow-list → AR; a re-sent copy of an accepted message (same sender, MSH-10 and content) → AA again without
 * calling the sink; another message under an accepted MSH-10 → AR 205; content the translator rejects → AE with
 * its ERR segments (AR when refused as a whole: unsupported type or version); the sink failing or timing out →
 * AR 207 (the sender should send it again). The same policy as POST /hl7 (hl7v2's ackCodeForErrors). Messages of one
 * connection are handled in order, so ACKs come back in the order the messages were sent. Nothing thrown inside
 * escapes: a framing violation closes only its connection.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import {
  ackCodeForErrors,
  buildAck,
  parseHl7Batch,
  peekControl,
  type Hl7Control,
  type Hl7Error,
} from '@marrowbridge/hl7v2';
import { translateInput, type IntakeOptions, type MessageResult } from '@marrowbridge/intake';
import { dedupKey, MemoryDedupStore, type DedupStore } from './dedup';
import { frame, MllpDecoder, type FrameEvent } from './framing';

export type AcceptedResult = Extract<MessageResult, { ok: true }>;

/** What the sink receives: one translated HL7 message. */
export interface MllpInbound {
  /** The message text as translated (BOM removed, segments joined by CR): what a replay translates again. */
  raw: string;
  /** The translation: canonical items and their FHIR Bundles (intake's result). */
  result: AcceptedResult;
  /** MSH-3/4 (HD.1, else HD.2), MSH-10, MSH-12. */
  control: Hl7Control;
  /** MSH-9 as type^trigger. */
  messageType: string;
  /** SHA-256 (hex) of `raw`. */
  contentHash: string;
  remoteAddress?: string;
  /** Subject CN of the client certificate (mutual TLS). */
  peerCommonName?: string;
}

/**
 * The sink's answer: ok once the message is durably handed on; otherwise a reason (the sender gets AR 207 and
 * should send it again). `text` (optional) goes into MSA-3 of the AA, e.g. the tracking id it was queued under.
 */
export type SinkResult = { ok: true; text?: string } | { ok: false; reason: string };
export type MllpSink = (message: MllpInbound) => Promise<SinkResult>;

/** One allowed sender: every part given must equal MSH-3 / MSH-4 (HD.1, else HD.2), exactly. */
export interface SenderRule {
  application?: string;
  facility?: string;
}

export interface MllpTlsOptions {
  key: string | Buffer;
  cert: string | Buffer;
  /** CA certificates that sign client certificates (mutual TLS). */
  ca?: string | Buffer | (string | Buffer)[];
  /** Ask clients for a certificate. */
  requestCert?: boolean;
  /** Refuse clients without a valid certificate (default: true when requestCert is set). */
  rejectUnauthorized?: boolean;
}

export type MessageOutcome =
  | 'accepted'
  | 'duplicate'
  | 'conflict'
  | 'rejected'
  | 'not-hl7'
  | 'oversize'
  | 'sender-not-allowed'
  | 'transient'
  | 'connection-limit';

/** What happened, for logs and metrics. Never carries message content (MSH-10 is a control id, not patient data). */
export type MllpEvent =
  | { type: 'connection'; remote: string; tls: boolean }
  | { type: 'refused'; remote: string; reason: 'max-connections' }
  | { type: 'closed'; remote: string; reason: 'peer' | 'idle' | 'framing' | 'connection-limit' | 'stopped' | 'error' }
  | { type: 'framing-error'; remote: string; reason: string }
  | { type: 'tls-error'; remote: string; reason: string }
  | {
      type: 'ack';
      remote: string;
      code: 'AA' | 'AE' | 'AR';
      outcome: MessageOutcome;
      messageId?: string;
      errorCodes?: number[];
      ms: number;
    }
  | { type: 'sink-error'; remote: string; messageId?: string; reason: string }
  | { type: 'dedup-error'; remote: string; reason: string };

export interface MllpListenerOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to bind (default 127.0.0.1: pass 0.0.0.0 to listen on every interface). */
  host?: string;
  sink: MllpSink;
  /** Translation options (HL7 time zone, code map, …). */
  intake?: IntakeOptions;
  /** Largest message, in bytes (default 10 MiB). A larger one is answered AR (ERR 104); the connection stays. */
  maxMessageBytes?: number;
  /**
   * Most bytes one connection may have sent and not yet had acknowledged (queued messages + the unfinished one;
   * default 4 × maxMessageBytes). Going over it: the message that crossed it (the unfinished one, else the last
   * complete one) gets AR (ERR 104), the ones before it are answered as usual, and the connection is closed.
   */
  maxConnectionBytes?: number;
  /** Most open connections (default 100); further ones are closed at once. */
  maxConnections?: number;
  /** A connection with no traffic and nothing in progress for this long is closed (default 5 min). */
  idleTimeoutMs?: number;
  /** Longest wait for the sink (default 30 s); then AR 207. A late success still counts (a re-send gets AA). */
  sinkTimeoutMs?: number;
  tls?: MllpTlsOptions;
  /** When given, only these senders (MSH-3 / MSH-4) are accepted; others get AR (ERR 204 at MSH-3). */
  allowedSenders?: SenderRule[];
  /** Accepted-message memory (default: an in-memory LRU, 100,000 keys, 7 days). */
  dedup?: DedupStore;
  onEvent?: (event: MllpEvent) => void;
}

export interface MllpListener {
  readonly port: number;
  readonly host: string;
  /** Open connections. */
  readonly connections: number;
  /** Stops accepting, lets connections finish the messages they sent (up to drainTimeoutMs, default 5 s), closes. */
  stop(options?: { drainTimeoutMs?: number }): Promise<void>;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

interface Answer {
  code: 'AA' | 'AE' | 'AR';
  ack: string;
  outcome: MessageOutcome;
  messageId?: string;
  errors?: Hl7Error[];
}

type Item = FrameEvent | { type: 'limit'; head: Buffer } | { type: 'close'; reason: 'framing' };

const mshError = (field: number, code: Hl7Error['code'], message: string, severity: 'E' | 'F' = 'F'): Hl7Error => ({
  segment: 'MSH',
  sequence: 1,
  field,
  code,
  severity,
  message,
});

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function remoteOf(socket: net.Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Resolves to `undefined` after ms (the timer does not keep the process alive). */
function timeout(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}

class Listener {
  readonly maxMessageBytes: number;
  readonly maxConnectionBytes: number;
  readonly idleTimeoutMs: number;
  readonly sinkTimeoutMs: number;
  readonly dedup: DedupStore;
  readonly conns = new Set<Connection>();
  /** Messages being handled, by dedup key: a second copy waits for the first. */
  private readonly inFlight = new Map<string, Promise<void>>();
  stopping = false;

  constructor(readonly o: MllpListenerOptions) {
    this.maxMessageBytes = o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxConnectionBytes = o.maxConnectionBytes ?? 4 * this.maxMessageBytes;
    this.idleTimeoutMs = o.idleTimeoutMs ?? 5 * 60 * 1000;
    this.sinkTimeoutMs = o.sinkTimeoutMs ?? 30_000;
    this.dedup = o.dedup ?? new MemoryDedupStore();
  }

  emit(e: MllpEvent): void {
    try {
      this.o.onEvent?.(e);
    } catch {
      // an observer's failure must not affect the protocol
    }
  }

  private allowed(control: Hl7Control | undefined): boolean {
    const rules = this.o.allowedSenders;
    if (!rules) return true;
    if (!control) return false;
    return rules.some(
      (r) =>
        (r.application === undefined || r.application === control.sendingApplication) &&
        (r.facility === undefined || r.facility === control.sendingFacility),
    );
  }

  /** One item of a connection's queue → its ACK. Never throws. */
  async answer(item: Item, conn: Connection): Promise<Answer | undefined> {
    try {
      switch (item.type) {
        case 'message':
          return await this.message(item.data, conn);
        case 'oversize':
          return this.reject(item.head, 'oversize', [
            mshError(0, 104, `the message is ${item.size} bytes; the limit is ${this.maxMessageBytes} bytes`),
          ]);
        case 'limit':
          return this.reject(item.head, 'connection-limit', [
            mshError(
              0,
              104,
              `the connection sent more than ${this.maxConnectionBytes} bytes without waiting for ACKs; it is closed`,
            ),
          ]);
        default:
          return undefined;
      }
    } catch (err) {
      // A bug, not the sender's fault: AR 207 so that it is sent again.
      const head =
        item.type === 'message' ? item.data : item.type === 'close' || item.type === 'error' ? '' : item.head;
      return this.answerWith(head, 'AR', 'transient', [
        mshError(
          0,
          207,
          `internal error while handling the message (${err instanceof Error ? err.name : 'unknown'})`,
          'E',
        ),
      ]);
    }
  }

  private answerWith(
    message: Buffer | string,
    code: Answer['code'],
    outcome: MessageOutcome,
    errors: Hl7Error[] = [],
    text?: string,
    messageId?: string,
  ): Answer {
    const ack = buildAck(message, { code, errors, ...(text ? { text } : {}) });
    return { code, ack, outcome, errors, ...(messageId ? { messageId } : {}) };
  }

  private reject(message: Buffer | string, outcome: MessageOutcome, errors: Hl7Error[], messageId?: string): Answer {
    return this.answerWith(
      message,
      'AR',
      outcome,
      errors,
      'message rejected',
      messageId ?? peekControl(message)?.messageId,
    );
  }

  private async message(data: Buffer, conn: Connection): Promise<Answer> {
    const batch = parseHl7Batch(data);
    if (batch.messages.length === 0) {
      const fatal = batch.errors.filter((e) => e.severity === 'F');
      const errors = fatal.length ? fatal : [mshError(0, 100, 'the frame holds no HL7 v2 message')];
      return this.reject(data, 'not-hl7', errors);
    }
    if (batch.messages.length > 1) {
      return this.reject(batch.messages[0].text, 'rejected', [
        mshError(0, 100, `an MLLP frame must hold one message; this one holds ${batch.messages.length}`),
      ]);
    }
    const raw = batch.messages[0].text;
    const control = peekControl(raw);
    if (!this.allowed(control)) {
      return this.reject(raw, 'sender-not-allowed', [
        mshError(3, 204, 'the sending application / facility (MSH-3 / MSH-4) is not allowed on this listener'),
      ]);
    }
    if (!control?.messageId) return this.translateAndSink(raw, undefined, conn);
    const key = dedupKey(control);
    // One copy of a message at a time: a re-send waits for the first to be decided.
    for (let p = this.inFlight.get(key); p; p = this.inFlight.get(key)) {
      const done = await Promise.race([p.then(() => true), timeout(this.sinkTimeoutMs)]);
      if (!done) {
        return this.answerWith(
          raw,
          'AR',
          'transient',
          [mshError(10, 206, 'the same message is still being processed; send it again later', 'E')],
          undefined,
          control.messageId,
        );
      }
    }
    let release!: () => void;
    this.inFlight.set(key, new Promise<void>((resolve) => (release = resolve)));
    let holdUntil: Promise<unknown> | undefined;
    try {
      const hash = sha256(raw);
      let known: string | undefined;
      try {
        known = await this.dedup.get(key);
      } catch (err) {
        this.emit({ type: 'dedup-error', remote: conn.remote, reason: errorText(err) });
        return this.answerWith(
          raw,
          'AR',
          'transient',
          [mshError(0, 207, 'duplicate detection is unavailable; send the message again later', 'E')],
          undefined,
          control.messageId,
        );
      }
      if (known === hash) {
        return this.answerWith(
          raw,
          'AA',
          'duplicate',
          [],
          'duplicate of an accepted message: not processed again',
          control.messageId,
        );
      }
      if (known !== undefined) {
        return this.reject(
          raw,
          'conflict',
          [mshError(10, 205, 'another message was already accepted under this MSH-10 from this sender')],
          control.messageId,
        );
      }
      const r = await this.translateAndSink(raw, { key, hash }, conn);
      holdUntil = r.holdUntil;
      return r;
    } finally {
      // After a sink timeout the key stays locked until the sink settles, so a re-send cannot go through twice.
      const unlock = (): void => {
        this.inFlight.delete(key);
        release();
      };
      if (holdUntil) void holdUntil.then(unlock, unlock);
      else unlock();
    }
  }

  private async translateAndSink(
    raw: string,
    dedup: { key: string; hash: string } | undefined,
    conn: Connection,
  ): Promise<Answer & { holdUntil?: Promise<unknown> }> {
    let result: MessageResult | undefined;
    try {
      [result] = translateInput(raw, { ...this.o.intake, maxBytes: this.maxMessageBytes });
    } catch (err) {
      // the mapper threw on something the translator let through: sending it again will not help
      return this.reject(raw, 'rejected', [
        mshError(0, 207, `the message could not be mapped to FHIR (${err instanceof Error ? err.name : 'error'})`, 'E'),
      ]);
    }
    if (!result || !result.ok) {
      const errors =
        result && !result.ok && result.hl7Errors?.length
          ? result.hl7Errors
          : [mshError(0, 100, 'the message could not be read')];
      // Content the sender must fix: AE; a message refused as a whole: AR (the policy POST /hl7 uses too).
      return this.answerWith(
        raw,
        ackCodeForErrors(errors),
        'rejected',
        errors,
        'message rejected',
        peekControl(raw)?.messageId,
      );
    }
    const control = result.hl7?.control ?? peekControl(raw);
    if (!control) return this.reject(raw, 'rejected', [mshError(0, 100, 'the MSH segment could not be read')]);
    const inbound: MllpInbound = {
      raw,
      result,
      control,
      messageType: result.hl7?.messageType ?? '',
      contentHash: dedup?.hash ?? sha256(raw),
      remoteAddress: conn.socket.remoteAddress,
      ...(conn.peerCommonName ? { peerCommonName: conn.peerCommonName } : {}),
    };
    const settled: Promise<SinkResult> = Promise.resolve()
      .then(() => this.o.sink(inbound))
      .then(
        async (res): Promise<SinkResult> => {
          if (res && res.ok === true) {
            if (dedup) {
              try {
                await this.dedup.set(dedup.key, dedup.hash);
              } catch (err) {
                // the sink has it: still AA (the queue's job id catches a re-send the store missed)
                this.emit({ type: 'dedup-error', remote: conn.remote, reason: errorText(err) });
              }
            }
            return { ok: true, text: res.text };
          }
          return { ok: false, reason: res && res.ok === false ? String(res.reason) : 'the sink gave no answer' };
        },
        (err: unknown): SinkResult => ({ ok: false, reason: errorText(err) }),
      );
    const res = await Promise.race([settled, timeout(this.sinkTimeoutMs)]);
    const transient = (reason: string): Answer & { holdUntil?: Promise<unknown> } => {
      this.emit({ type: 'sink-error', remote: conn.remote, messageId: control.messageId, reason });
      return {
        ...this.answerWith(
          raw,
          'AR',
          'transient',
          [mshError(0, 207, 'the message could not be handed on for delivery; send it again later', 'E')],
          undefined,
          control.messageId,
        ),
        holdUntil: settled,
      };
    };
    if (!res) return transient(`no answer from the sink within ${this.sinkTimeoutMs} ms`);
    if (!res.ok) return transient(res.reason);
    return this.answerWith(raw, 'AA', 'accepted', [], res.text ?? 'accepted', control.messageId);
  }
}

class Connection {
  readonly remote: string;
  readonly decoder: MllpDecoder;
  peerCommonName?: string;
  private readonly queue: Item[] = [];
  private readonly sizes = new Map<Item, number>();
  private queuedBytes = 0;
  private busy = false;
  private closing = false;
  private closed = false;

  constructor(
    readonly socket: net.Socket,
    private readonly l: Listener,
    isTls: boolean,
  ) {
    this.remote = remoteOf(socket);
    this.decoder = new MllpDecoder({ maxMessageBytes: l.maxMessageBytes });
    if (isTls) {
      try {
        const cert = (socket as tls.TLSSocket).getPeerCertificate?.();
        const cn = cert?.subject?.CN;
        if (typeof cn === 'string' && cn) this.peerCommonName = cn;
      } catch {
        // no certificate
      }
    }
    socket.setNoDelay(true);
    socket.setTimeout(l.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('timeout', () => this.onIdle());
    socket.on('error', () => this.onClose('error'));
    socket.on('close', () => this.onClose('peer'));
  }

  get idle(): boolean {
    return !this.busy && this.queue.length === 0;
  }

  private onData(chunk: Buffer): void {
    if (this.closing || this.closed) return;
    let events: FrameEvent[];
    try {
      events = this.decoder.push(chunk);
    } catch (err) {
      events = [{ type: 'error', reason: errorText(err) }];
    }
    for (const ev of events) {
      if (ev.type === 'error') {
        this.l.emit({ type: 'framing-error', remote: this.remote, reason: ev.reason });
        this.closing = true;
        this.queue.push({ type: 'close', reason: 'framing' });
        break;
      }
      const size = ev.type === 'message' ? ev.data.length : ev.head.length;
      this.sizes.set(ev, size);
      this.queuedBytes += size;
      this.queue.push(ev);
    }
    if (!this.closing && this.queuedBytes + this.decoder.pendingBytes > this.l.maxConnectionBytes) {
      this.closing = true;
      this.socket.pause();
      if (this.decoder.inFrame) {
        // the unfinished message is the one over the limit
        this.queue.push({ type: 'limit', head: this.decoder.head() });
      } else {
        // complete messages alone went over it: the last one is answered AR instead of being handled
        const last = this.queue.pop() as Exclude<Item, { type: 'close' | 'limit' | 'error' }>;
        this.queuedBytes -= this.sizes.get(last) ?? 0;
        this.sizes.delete(last);
        this.queue.push({ type: 'limit', head: last.type === 'message' ? last.data : last.head });
      }
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const item = this.queue.shift() as Item;
        if (item.type === 'close') {
          this.end('framing');
          break;
        }
        const started = Date.now();
        const a = await this.l.answer(item, this);
        this.queuedBytes -= this.sizes.get(item) ?? 0;
        this.sizes.delete(item);
        if (a) {
          this.write(a.ack);
          this.l.emit({
            type: 'ack',
            remote: this.remote,
            code: a.code,
            outcome: a.outcome,
            ...(a.messageId ? { messageId: a.messageId } : {}),
            ...(a.errors?.length ? { errorCodes: [...new Set(a.errors.map((e) => e.code))] } : {}),
            ms: Date.now() - started,
          });
        }
        if (item.type === 'limit') {
          this.end('connection-limit');
          break;
        }
      }
    } finally {
      this.busy = false;
    }
    if (this.l.stopping && this.idle) this.end('stopped');
  }

  private write(ack: string): void {
    if (this.closed || this.socket.destroyed || !this.socket.writable) return;
    try {
      this.socket.write(frame(ack));
    } catch {
      // the peer went away; its close handler cleans up
    }
  }

  /** Half-closes after the ACKs written so far are flushed; destroys if the peer does not follow. */
  end(reason: 'framing' | 'connection-limit' | 'stopped' | 'idle'): void {
    if (this.closed) return;
    this.closing = true;
    this.queue.length = 0;
    this.l.emit({ type: 'closed', remote: this.remote, reason });
    this.closed = true;
    this.l.conns.delete(this);
    try {
      this.socket.end(() => this.socket.destroy());
      setTimeout(() => this.socket.destroy(), 1000).unref();
    } catch {
      this.socket.destroy();
    }
  }

  private onIdle(): void {
    if (!this.idle) {
      this.socket.setTimeout(this.l.idleTimeoutMs); // still working on its messages: wait again
      return;
    }
    this.end('idle');
  }

  private onClose(reason: 'peer' | 'error'): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    this.queue.length = 0;
    this.l.conns.delete(this);
    this.l.emit({ type: 'closed', remote: this.remote, reason });
    this.socket.destroy();
  }

  destroy(): void {
    if (!this.closed) this.onClose('error');
    this.socket.destroy();
  }
}

/** Starts listening; resolves once the port is bound. */
export async function startMllpListener(options: MllpListenerOptions): Promise<MllpListener> {
  if (typeof options.sink !== 'function') throw new TypeError('startMllpListener: a sink function is required');
  const l = new Listener(options);
  const maxConnections = options.maxConnections ?? 100;
  const isTls = !!options.tls;
  const onSocket = (socket: net.Socket): void => {
    if (l.stopping) {
      socket.destroy();
      return;
    }
    if (l.conns.size >= maxConnections) {
      l.emit({ type: 'refused', remote: remoteOf(socket), reason: 'max-connections' });
      socket.destroy();
      return;
    }
    const c = new Connection(socket, l, isTls);
    l.conns.add(c);
    l.emit({ type: 'connection', remote: c.remote, tls: isTls });
  };
  let server: net.Server;
  if (options.tls) {
    const t = options.tls;
    server = tls.createServer(
      {
        key: t.key,
        cert: t.cert,
        ...(t.ca ? { ca: t.ca } : {}),
        requestCert: !!t.requestCert,
        rejectUnauthorized: t.rejectUnauthorized ?? !!t.requestCert,
        handshakeTimeout: Math.min(l.idleTimeoutMs, 30_000),
      },
      onSocket,
    );
    server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      l.emit({ type: 'tls-error', remote: remoteOf(socket), reason: err.message });
      socket.destroy();
    });
  } else {
    server = net.createServer(onSocket);
  }
  // Connections beyond the limit are also dropped before a TLS handshake is spent on them.
  server.maxConnections = maxConnections + 1;
  server.on('drop', (d?: { remoteAddress?: string; remotePort?: number }) =>
    l.emit({
      type: 'refused',
      remote: `${d?.remoteAddress ?? '?'}:${d?.remotePort ?? '?'}`,
      reason: 'max-connections',
    }),
  );
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', () => undefined); // after listen: per-socket errors are handled on the sockets
  const address = server.address() as net.AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    port: address.port,
    host,
    get connections() {
      return l.conns.size;
    },
    stop(stopOptions = {}) {
      stopped ??= (async () => {
        l.stopping = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const c of [...l.conns]) if (c.idle) c.end('stopped');
        const drained = (async () => {
          while ([...l.conns].some((c) => !c.idle)) await new Promise((r) => setTimeout(r, 10));
        })();
        await Promise.race([drained, timeout(stopOptions.drainTimeoutMs ?? 5000)]);
        for (const c of [...l.conns]) {
          if (c.idle) c.end('stopped');
          else c.destroy();
        }
        await closed;
      })();
      return stopped;
    },
  };
}
