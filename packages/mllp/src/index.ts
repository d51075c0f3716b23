/**
 * @marrowbridge/mllp: the MLLP listener for HL7 v2 (the gateway hosts it; it also runs on its own).
 *
 *   startMllpListener({ port, host, sink, intake, maxMessageBytes, maxConnectionBytes, maxConnections,
 *                       idleTimeoutMs, sinkTimeoutMs, tls, allowedSenders, dedup, onEvent }) → { port, stop() }
 *   MemoryDedupStore / DedupStore       accepted-message memory (sender + MSH-10 → content hash)
 *   MllpClient, readAck                 a small client (tests, tools)
 *   frame, MllpDecoder                  the framing (0x0B … 0x1C 0x0D)
 */
export { startMllpListener, DEFAULT_MAX_MESSAGE_BYTES } from './listener';
export type {
  AcceptedResult,
  MessageOutcome,
  MllpEvent,
  MllpInbound,
  MllpListener,
  MllpListenerOptions,
  MllpSink,
  MllpTlsOptions,
  SenderRule,
  SinkResult,
} from './listener';
export { dedupKey, MemoryDedupStore } from './dedup';
export type { DedupStore, MemoryDedupStoreOptions } from './dedup';
export { MllpClient, readAck } from './client';
export type { MllpClientOptions } from './client';
export { CR, FS, VT, frame, MllpDecoder } from './framing';
export type { DecoderOptions, FrameEvent } from './framing';
