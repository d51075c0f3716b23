/**
 * @marrowbridge/hl7v2: HL7 v2 OML^O21 / ORM^O01 orders and ORU^R01 results → the canonical model; ACKs.
 *
 *   parseHl7Batch(input)            split a file / stream into messages (BOM, CR/LF/CRLF, FHS/BHS envelopes)
 *   translateHl7(message, options)  one message → BmaOrder[] / ResultUpdate[] or Hl7Error[]; never throws
 *   ackCodeFor(result)              AA / AE / AR for a translation result
 *   buildAck(message, {code, errors, text})  the ACK string (works on garbage input too)
 *   peekControl(message)            MSH-3/4/10/12 read without translating (for listeners)
 */
export { parseHl7Batch } from './input';
export { translateHl7, ackCodeFor, ackCodeForErrors, DEFAULT_MRN_FALLBACK_TYPES } from './translate';
export { buildAck, peekControl } from './ack';
export { unescapeHl7, escapeHl7 } from './escape';
export type {
  AckOptions,
  AckRequest,
  Hl7BatchResult,
  Hl7Control,
  Hl7Error,
  Hl7ErrorCode,
  Hl7ItemDetail,
  Hl7Options,
  Hl7TranslateResult,
  Hl7Warning,
  RawHl7,
  SupportedMessageType,
} from './types';
