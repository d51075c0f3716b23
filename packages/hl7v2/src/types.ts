import type { CanonicalMessage, Coding } from '@marrowbridge/model';

/** HL7 table 0357 (message error condition codes) values this package and the MLLP listener emit. */
export type Hl7ErrorCode = 100 | 101 | 102 | 103 | 104 | 200 | 201 | 203 | 204 | 205 | 206 | 207;

/**
 * One problem in an HL7 v2 message, located like an ERR-2 (ERL): segment, its occurrence number, field
 * (0 = the segment as a whole), optional repetition and component. `message` never holds patient data
 * (no names, identifiers, dates or free text from the message; only codes from coded fields).
 */
export interface Hl7Error {
  segment: string;
  /** 1-based occurrence of that segment in the message (the 2nd OBX is sequence 2). */
  sequence: number;
  /** 1-based field position; 0 when the error is about the segment itself (e.g. a missing segment). */
  field: number;
  /** 1-based field repetition, when the error is about one repetition. */
  repetition?: number;
  component?: number;
  code: Hl7ErrorCode;
  /** E = error, F = fatal (the message as a whole cannot be processed: unsupported type or version, unreadable). */
  severity: 'E' | 'F';
  message: string;
}

/** Something accepted with a loss or a guess; never blocks the translation. No patient data either. */
export interface Hl7Warning {
  segment: string;
  sequence: number;
  field: number;
  message: string;
}

export interface Hl7Options {
  /**
   * IANA time zone of the sending facility (e.g. 'America/Chicago'). A DTM without a UTC offset is read as
   * local time there (DST-correct, via Intl); output always carries an explicit offset. Default 'UTC'.
   */
  timeZone?: string;
  /**
   * Accept orders whose OBR-4 is not a bone marrow service: they are mapped to the BMA procedure; the service
   * code is returned in `details[i].serviceCode`. Default true. (Orders only: see acceptAnyReport.)
   */
  acceptAnyService?: boolean;
  /**
   * Accept results whose report code (OBR-4) is not one of the BMA report codes the DiagnosticReport profile
   * admits (`src/data/report-codes.json`): the code is kept and a warning given, but the Bundle will not meet the
   * project profile. Default false: such a result is rejected with 103 at OBR-4. For comparisons and tests.
   */
  acceptAnyReport?: boolean;
  /**
   * Assigning-authority namespace ids (HD.1) → identifier system URIs. Consulted for an HD that has no
   * ISO/UUID/URI universal id. Unlisted namespaces get `http://marrowbridge.org/fhir/sid/ns/<namespaceId>`.
   */
  namespaces?: Record<string, string>;
  /**
   * System used when an identifier has no assigning authority and none is implied by MSH-3..6.
   * Default `http://marrowbridge.org/fhir/sid/ns/unspecified`.
   */
  defaultIdentifierSystem?: string;
  /** PID-3 identifier type codes (CX.5) that denote the MRN. Default ['MR']. */
  mrnIdentifierTypes?: string[];
  /**
   * When no PID-3 repetition has an MRN type: the CX.5 types that may stand in for it ('' = no type given).
   * The first such repetition with an assigning authority is taken, else the first one; a warning says so.
   * Default ['', 'PI', 'PT', 'PN', 'PE', 'MRT']; [] turns the fallback off. SS, DL, PPN, AN, VN … are never used.
   */
  mrnFallbackTypes?: string[];
  /** Extra v2 coding-system names (CWE.3) → FHIR system URIs; override the built-in table. */
  codingSystems?: Record<string, string>;
}

export type SupportedMessageType = 'OML^O21' | 'ORM^O01' | 'ORU^R01';

export interface Hl7Control {
  /** MSH-10. */
  messageId: string;
  /** MSH-3 (HD.1, else HD.2). */
  sendingApplication: string;
  /** MSH-4 (HD.1, else HD.2). */
  sendingFacility: string;
  /** MSH-12 (VID.1). */
  version: string;
}

/** What an item carries beyond the canonical model (see the README's model-gap notes). */
export interface Hl7ItemDetail {
  /** OBR-4 of the (first) order group, as sent: the order keeps it only here (BmaOrder has no code field). */
  serviceCode?: Coding;
  /** True when OBR-4 is not a known bone marrow service and acceptAnyService let it through. */
  nonMarrowService?: boolean;
  /** True when the message had no placer number and the filler number stands in for it. */
  placerFromFiller?: boolean;
}

export type Hl7TranslateResult =
  | {
      ok: true;
      messageType: SupportedMessageType;
      control: Hl7Control;
      items: CanonicalMessage[];
      /** details[i] belongs to items[i]. */
      details: Hl7ItemDetail[];
      warnings: Hl7Warning[];
    }
  | {
      ok: false;
      control?: Hl7Control;
      /** MSH-9 as read (type^trigger), when readable. */
      messageType?: string;
      errors: Hl7Error[];
      warnings: Hl7Warning[];
    };

/** One message cut out of a file or stream, normalised: BOM gone, segments joined by CR. */
export interface RawHl7 {
  /** 0-based position in the input. */
  index: number;
  /** 1-based line of its MSH in the input. */
  line: number;
  text: string;
}

export interface Hl7BatchResult {
  messages: RawHl7[];
  errors: Hl7Error[];
}

export interface AckRequest {
  code: 'AA' | 'AE' | 'AR';
  errors?: Hl7Error[];
  /** MSA-3 text. No patient data. */
  text?: string;
}

export interface AckOptions {
  /** Control id of the ACK (MSH-10). Default: time-based and unique within the process. */
  controlId?: string;
  /** Time of the ACK (MSH-7). Default now. */
  now?: Date;
}
