/**
 * MLLP framing (HL7 v2 minimal lower layer protocol): a message is sent as VT (0x0B), the message bytes,
 * FS (0x1C), CR (0x0D). The decoder is a streaming state machine over socket chunks: it never holds more than
 * `maxMessageBytes` (+ the head it keeps of an oversize frame) and never re-scans bytes it has seen.
 */

export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;

/** One message framed for the wire. */
export function frame(message: string | Buffer): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  const out = Buffer.allocUnsafe(body.length + 3);
  out[0] = VT;
  body.copy(out, 1);
  out[body.length + 1] = FS;
  out[body.length + 2] = CR;
  return out;
}

export type FrameEvent =
  /** A complete frame: its content (between VT and FS). */
  | { type: 'message'; data: Buffer }
  /** A frame whose content exceeded maxMessageBytes: its first bytes (for a best-effort MSA-2) and its size. */
  | { type: 'oversize'; head: Buffer; size: number }
  /** A framing violation; the decoder is broken from here on and the connection should be closed. */
  | { type: 'error'; reason: string };

export interface DecoderOptions {
  /** Largest frame content accepted, in bytes. */
  maxMessageBytes: number;
  /** How much of an oversize frame is kept to read its MSH (default 8 KiB). */
  headBytes?: number;
}

type State = 'idle' | 'frame' | 'discard' | 'after-fs' | 'broken';

export class MllpDecoder {
  private state: State = 'idle';
  private parts: Buffer[] = [];
  /** Content bytes seen in the current frame (kept or not). */
  private size = 0;
  /** Content bytes held in `parts`. */
  private held = 0;
  private readonly max: number;
  private readonly headBytes: number;

  constructor(options: DecoderOptions) {
    this.max = options.maxMessageBytes;
    this.headBytes = Math.min(options.headBytes ?? 8192, options.maxMessageBytes);
  }

  /** Bytes of the unfinished frame held in memory. */
  get pendingBytes(): number {
    return this.held;
  }

  /** True while a frame has started and not ended. */
  get inFrame(): boolean {
    return this.state === 'frame' || this.state === 'discard';
  }

  get broken(): boolean {
    return this.state === 'broken';
  }

  /** The first bytes of the unfinished frame (for an ACK to a frame that will never be complete). */
  head(): Buffer {
    const all = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    return all.subarray(0, this.headBytes);
  }

  push(chunk: Buffer): FrameEvent[] {
    const events: FrameEvent[] = [];
    let i = 0;
    const n = chunk.length;
    while (i < n && this.state !== 'broken') {
      switch (this.state) {
        case 'after-fs':
          // The block ends with FS CR; a missing CR is tolerated (the byte is read as outside a frame).
          if (chunk[i] === CR) i++;
          this.state = 'idle';
          break;
        case 'idle': {
          const b = chunk[i];
          if (b === VT) {
            this.state = 'frame';
            this.size = 0;
            this.held = 0;
            this.parts = [];
            i++;
          } else if (b === CR || b === LF || b === SPACE || b === TAB) {
            i++; // whitespace between frames
          } else {
            this.fail(events, 'data outside an MLLP frame (a message must start with 0x0B)');
          }
          break;
        }
        case 'frame':
        case 'discard': {
          const fs = chunk.indexOf(FS, i);
          const end = fs < 0 ? n : fs;
          const vt = chunk.indexOf(VT, i);
          if (vt >= 0 && vt < end) {
            this.fail(events, 'a start block (0x0B) inside a frame: the previous frame was never ended');
            break;
          }
          this.take(chunk.subarray(i, end));
          i = end;
          if (fs >= 0) {
            i = fs + 1;
            events.push(this.finish());
            this.state = 'after-fs';
          }
          break;
        }
        default:
          i = n;
      }
    }
    return events;
  }

  private take(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.size += bytes.length;
    if (this.state === 'frame' && this.size > this.max) {
      this.state = 'discard';
      const room = this.headBytes - this.held;
      if (room > 0) this.keep(bytes.subarray(0, room));
      const head = this.head();
      this.parts = [head];
      this.held = head.length;
      return;
    }
    if (this.state === 'frame') this.keep(bytes);
    else if (this.held < this.headBytes) this.keep(bytes.subarray(0, this.headBytes - this.held));
  }

  private keep(bytes: Buffer): void {
    // copy: the socket may reuse its chunk buffers
    const copy = Buffer.from(bytes);
    this.parts.push(copy);
    this.held += copy.length;
  }

  private finish(): FrameEvent {
    const data = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.held);
    const ev: FrameEvent =
      this.state === 'discard' ? { type: 'oversize', head: data, size: this.size } : { type: 'message', data };
    this.parts = [];
    this.held = 0;
    this.size = 0;
    return ev;
  }

  private fail(events: FrameEvent[], reason: string): void {
    this.state = 'broken';
    this.parts = [];
    this.held = 0;
    events.push({ type: 'error', reason });
  }
}
