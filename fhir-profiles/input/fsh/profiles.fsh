// The six BMA profiles. They align with US Core (ServiceRequest, Procedure, Specimen, DiagnosticReport Lab,
// Observation Lab) and, for the body site, with mCODE, without depending on either package (domain-reference §0, §2).
// Identifiers follow notes/mapping-contract.md.

Profile: BmaServiceRequest
Parent: ServiceRequest
Id: bma-service-request
Title: "BMA ServiceRequest"
Description: "An order for a bone marrow aspiration (with or without trephine biopsy) and the studies requested on the marrow."
* ^status = #active
* ^experimental = false
* identifier MS
* identifier ^slicing.discriminator.type = #pattern
* identifier ^slicing.discriminator.path = "type"
* identifier ^slicing.rules = #open
* identifier ^slicing.description = "Placer and filler order numbers, told apart by identifier.type (v2-0203)."
* identifier contains placer 1..1 MS and filler 0..1 MS
* identifier[placer].type = $v2-0203#PLAC
* identifier[placer].system 1..1
* identifier[placer].value 1..1
* identifier[filler].type = $v2-0203#FILL
* identifier[filler].system 1..1
* identifier[filler].value 1..1
* status MS
* intent = #order (exactly)
* intent MS
* priority MS
* code 1..1 MS
* code from BmaProcedureCodesVS (required)
* orderDetail MS
* orderDetail from BmaStudyCodesVS (required)
* insert PatientSubject
* encounter MS
* authoredOn 1..1 MS
* requester MS
* requester only Reference(Practitioner or PractitionerRole)
* reasonCode MS
* specimen MS
* specimen only Reference(BmaAspirateSpecimen or BmaTrephineSpecimen)
* insert BmaBodySite(bodySite)

Profile: BmaProcedure
Parent: Procedure
Id: bma-procedure
Title: "BMA Procedure"
Description: "The bone marrow aspiration (the collection act), from preparation to completion."
* ^status = #active
* ^experimental = false
* obeys bma-proc-1
* identifier 1..* MS
* basedOn 1..* MS
* basedOn only Reference(BmaServiceRequest)
* status MS
* code 1..1 MS
* code from BmaProcedureCodesVS (required)
* insert PatientSubject
* performed[x] MS
* performed[x] only dateTime or Period
* performer MS
* performer.actor only Reference(Practitioner or PractitionerRole)
* bodySite 1..*
* insert BmaBodySite(bodySite)
* complication MS
* followUp MS

Profile: BmaAspirateSpecimen
Parent: Specimen
Id: bma-aspirate-specimen
Title: "BMA aspirate Specimen"
Description: "Liquid bone marrow obtained by aspiration, or an aliquot of it sent to one lab section."
* ^status = #active
* ^experimental = false
* obeys bma-spec-1
* identifier 1..* MS
* accessionIdentifier MS
* accessionIdentifier.type = $v2-0203#ACSN
* status MS
* type 1..1 MS
* type from BmaAspirateSpecimenTypesVS (required)
* insert PatientSubject
* parent MS
* parent only Reference(BmaAspirateSpecimen)
* request MS
* request only Reference(BmaServiceRequest)
* collection 1..1 MS
* collection.collected[x] MS
* collection.collected[x] only dateTime
* collection.method MS
* collection.method from BmaCollectionMethodsVS (required)
* insert BmaBodySite(collection.bodySite)
* collection.bodySite 1..1

Profile: BmaTrephineSpecimen
Parent: Specimen
Id: bma-trephine-specimen
Title: "BMA trephine core Specimen"
Description: "A trephine core biopsy of bone marrow, taken in the same session as the aspiration."
* ^status = #active
* ^experimental = false
* obeys bma-spec-1
* identifier 1..* MS
* accessionIdentifier MS
* accessionIdentifier.type = $v2-0203#ACSN
* status MS
* type 1..1 MS
* type from BmaTrephineSpecimenTypesVS (required)
* insert PatientSubject
* request MS
* request only Reference(BmaServiceRequest)
* collection 1..1 MS
* collection.collected[x] MS
* collection.collected[x] only dateTime
* collection.method MS
* collection.method from BmaCollectionMethodsVS (required)
* insert BmaBodySite(collection.bodySite)
* collection.bodySite 1..1

Profile: BmaDiagnosticReport
Parent: DiagnosticReport
Id: bma-diagnostic-report
Title: "BMA DiagnosticReport"
Description: "One report of an aspiration order (morphology, flow cytometry, cytogenetics, FISH, molecular), through its statuses."
* ^status = #active
* ^experimental = false
* obeys bma-dr-1
* identifier 1..* MS
* basedOn MS
* basedOn only Reference(BmaServiceRequest)
* status MS
* category MS
* category ^slicing.discriminator.type = #pattern
* category ^slicing.discriminator.path = "$this"
* category ^slicing.rules = #open
* category ^slicing.description = "LAB is required; a lab section (HM, SP, GE) may be added."
* category contains LAB 1..1 MS
* category[LAB] = $v2-0074#LAB
* code MS
* code from BmaReportCodesVS (required)
* insert PatientSubject
* effective[x] MS
* effective[x] only dateTime
* issued MS
* performer MS
* resultsInterpreter MS
* specimen MS
* specimen only Reference(BmaAspirateSpecimen or BmaTrephineSpecimen)
* result MS
* result only Reference(BmaResultObservation)
* conclusion MS
* presentedForm MS

Profile: BmaResultObservation
Parent: Observation
Id: bma-result-observation
Title: "BMA result Observation"
Description: "One discrete result of a bone marrow report (a differential count, the M:E ratio, a karyotype, a FISH or molecular finding)."
* ^status = #active
* ^experimental = false
* obeys bma-obs-1 and bma-obs-2 and bma-obs-3
* identifier 1..* MS
* basedOn MS
* basedOn only Reference(BmaServiceRequest)
* partOf MS
* partOf only Reference(BmaProcedure)
* status MS
* category MS
* category ^slicing.discriminator.type = #pattern
* category ^slicing.discriminator.path = "$this"
* category ^slicing.rules = #open
* category ^slicing.description = "laboratory is required."
* category contains laboratory 1..1 MS
* category[laboratory] = $obs-category#laboratory
* code MS
* code from BmaResultCodesVS (preferred)
* insert PatientSubject
* effective[x] MS
* effective[x] only dateTime
* value[x] MS
* value[x] only Quantity or CodeableConcept or string or Ratio or Range or dateTime or time
* dataAbsentReason MS
* interpretation MS
* note MS
* specimen MS
* specimen only Reference(BmaAspirateSpecimen or BmaTrephineSpecimen)
* referenceRange MS
* hasMember only Reference(BmaResultObservation)
* derivedFrom only Reference(BmaResultObservation)
