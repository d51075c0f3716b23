import type { BmaOrder, BusinessIdentifier, ResultUpdate } from '@marrowbridge/model';
import type { Attachment, CodeableConcept, DiagnosticReport, Identifier } from '@medplum/fhirtypes';
import { createHash } from 'node:crypto';
import {
  orderReportCode,
  orderReportSection,
  reportBaseSection,
  reportSectionCoding,
  reportStatusCodes,
} from '../code-tables';
import {
  codeableConcept,
  fhirDateTime,
  identifier,
  fhirInstant,
  profileMeta,
  prune,
  tableConcept,
  typedIdentifier,
} from '../datatypes';
import { keyIdentifier, reportKey } from '../identity';
import type { MappingOptions } from '../options';
import { PROFILE_IDS } from '../systems';
import type { OrderLinks, ResultLinks } from './links';

/** Report identifiers: the derived report key (the conditional key), then PLAC and FILL. */
function reportIdentifiers(
  placer: BusinessIdentifier,
  filler: BusinessIdentifier | undefined,
  reportCode: { system: string; code: string },
): Identifier[] {
  const ids = [
    keyIdentifier(reportKey({ placerOrderNumber: placer, reportCode })),
    typedIdentifier('PLAC', placer.system, placer.value),
  ];
  if (filler) ids.push(typedIdentifier('FILL', filler.system, filler.value));
  return ids;
}

/** LAB always (the US Core slice), then the lab section when it is another one. */
function categories(section: string | undefined): CodeableConcept[] {
  const out = [{ coding: [reportSectionCoding(reportBaseSection)] }];
  if (section && section !== reportBaseSection) out.push({ coding: [reportSectionCoding(section)] });
  return out;
}

/**
 * The aspirate report the order opens (status registered), so the EHR can show it as pending; the
 * lab's versions of the same report (same key) later replace it.
 */
export function mapRegisteredReport(order: BmaOrder, links: OrderLinks, options: MappingOptions): DiagnosticReport {
  return prune<DiagnosticReport>({
    resourceType: 'DiagnosticReport',
    meta: profileMeta(PROFILE_IDS.diagnosticReport, options),
    identifier: reportIdentifiers(order.placerOrderNumber, order.fillerOrderNumber, orderReportCode),
    basedOn: [links.serviceRequest],
    status: 'registered',
    category: categories(orderReportSection),
    code: tableConcept([orderReportCode], orderReportCode.display),
    subject: links.patient,
    // The aspirate report is on the aspirate and its aliquots; a trephine core has its own report.
    specimen: links.specimens.filter((_, i) => order.specimens[i].kind !== 'trephine-core'),
  });
}

/** One version of one lab report: status, times, who, results, conclusion and the PDF if any. */
export function mapReport(update: ResultUpdate, links: ResultLinks, options: MappingOptions): DiagnosticReport {
  const performer = update.performer;
  return prune<DiagnosticReport>({
    resourceType: 'DiagnosticReport',
    meta: profileMeta(PROFILE_IDS.diagnosticReport, options),
    identifier: reportIdentifiers(update.placerOrderNumber, update.fillerOrderNumber, update.reportCode),
    basedOn: [links.serviceRequest],
    status: reportStatusCodes[update.status].fhir,
    category: categories(update.section),
    code: codeableConcept([update.reportCode], update.reportCode.display, options),
    subject: links.patient,
    // us-core-8/9: effective and issued are required from preliminary on; the model always has both.
    effectiveDateTime: fhirDateTime(update.effective),
    issued: fhirInstant(update.issued),
    // The performing lab is known by name (and maybe an identifier) only: a display reference.
    performer: performer
      ? [{ identifier: performer.identifier ? identifier(performer.identifier) : undefined, display: performer.name }]
      : undefined,
    resultsInterpreter: links.interpreter ? [links.interpreter] : undefined,
    specimen: links.specimens,
    result: links.observations,
    conclusion: conclusion(update),
    conclusionCode: update.conclusionCodes?.map((c) => codeableConcept([c], undefined, options)),
    presentedForm: update.presentedForm ? [attachment(update.presentedForm)] : undefined,
  });
}

/**
 * R4 DiagnosticReport has no note element: report-level notes are appended to the conclusion
 * (design.md, HL7 v2 section) so that none is dropped.
 */
function conclusion(update: ResultUpdate): string | undefined {
  const parts = [update.conclusion, ...(update.notes ?? [])].filter((p): p is string => !!p && p.length > 0);
  return parts.length > 0 ? parts.join('\n\n') : undefined;
}

/** The attached PDF, with its size and SHA-1 (base64) so the receiver can check it arrived whole. */
function attachment(doc: NonNullable<ResultUpdate['presentedForm']>): Attachment {
  const bytes = Buffer.from(doc.data, 'base64');
  return {
    contentType: doc.contentType,
    data: doc.data,
    size: bytes.length,
    hash: createHash('sha1').update(bytes).digest('base64'),
    title: doc.title,
  };
}
