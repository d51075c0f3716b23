/**
 * A small MLLP client: sends framed messages over one connection and reads the ACKs back in order. For tests,
 * tools and health checks; it does not retry.
 */
import net from 'node:net';
import tls from 'node:tls';
import { frame, MllpDecoder } from './framing';

export interface MllpClientOptions {
  host?: string;
  port: number;
  /** Connect with TLS (options passed to tls.connect: ca, cert, key, servername, rejectUnauthorized). */
  tls?: tls.ConnectionOptions;
  /** Largest ACK accepted (default 1 MiB). */
  maxAckBytes?: number;
  /** Connect timeout in ms (default 5000). */
  connectTimeoutMs?: number;
}

export class MllpClient {
  private readonly decoder: MllpDecoder;
  private readonly acks: string[] = [];
  private readonly waiters: { resolve: (ack: string) => void; reject: (err: Error) => void }[] = [];
  private closedError?: Error;

  private constructor(
    readonly socket: net.Socket,
    maxAckBytes: number,
  ) {
    this.decoder = new MllpDecoder({ maxMessageBytes: maxAckBytes });
    socket.on('data', (chunk: Buffer) => {
      for (const ev of this.decoder.push(chunk)) {
        if (ev.type !== 'message') {
          this.fail(new Error(ev.type === 'error' ? ev.reason : 'oversize ACK'));
          socket.destroy();
          return;
        }
        const ack = ev.data.toString('utf8');
        const w = this.waiters.shift();
        if (w) w.resolve(ack);
        else this.acks.push(ack);
      }
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static connect(options: MllpClientOptions): Promise<MllpClient> {
    const host = options.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      const socket = options.tls
        ? tls.connect({ host, port: options.port, ...options.tls })
        : net.connect({ host, port: options.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('connect timeout'));
      }, options.connectTimeoutMs ?? 5000);
      socket.once(options.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', reject);
        resolve(new MllpClient(socket, options.maxAckBytes ?? 1024 * 1024));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private fail(err: Error): void {
    this.closedError ??= err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  /** True once the connection is closed (by either side). */
  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Writes bytes as they are (no framing): for tests of broken input. */
  writeRaw(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** Frames and writes one message without waiting. */
  write(message: string | Buffer): void {
    this.socket.write(frame(message));
  }

  /** The next ACK (rejects when the connection closes first, or after timeoutMs). */
  nextAck(timeoutMs = 10_000): Promise<string> {
    const queued = this.acks.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no ACK within ${timeoutMs} ms`));
      }, timeoutMs);
      const w = {
        resolve: (a: string) => {
          clearTimeout(timer);
          resolve(a);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(w);
    });
  }

  /** Sends one message and waits for its ACK. */
  async send(message: string | Buffer, timeoutMs?: number): Promise<string> {
    const ack = this.nextAck(timeoutMs);
    this.write(message);
    return ack;
  }

  /** ACKs received and not yet taken. */
  get pendingAcks(): number {
    return this.acks.length;
  }

  /** Resolves when the connection is closed. */
  waitClosed(timeoutMs = 5000): Promise<boolean> {
    if (this.socket.destroyed || this.closedError) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 500).unref();
    });
  }
}

/** MSA-1 and MSA-2 of an ACK, and the ERR-3 codes (0357). */
export function readAck(ack: string): { code: string; messageId: string; errorCodes: number[]; text: string } {
  const segs = ack.split('\r');
  const msa = (segs.find((s) => s.startsWith('MSA|')) ?? '').split('|');
  const errorCodes = segs
    .filter((s) => s.startsWith('ERR|'))
    .map((s) => Number((s.split('|')[3] ?? '').split('^')[0]))
    .filter((n) => Number.isFinite(n) && n > 0);
  return { code: msa[1] ?? '', messageId: msa[2] ?? '', errorCodes, text: msa[3] ?? '' };
}
