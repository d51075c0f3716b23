// Value sets of the profiles. Codes are enumerated one by one (no filters), so that build.ts can compute each
// expansion locally and validators need no terminology server. Sources: domain-reference.md §1.

ValueSet: BmaProcedureCodesVS
Id: bma-procedure-codes
Title: "BMA procedure codes"
Description: "Codes for a bone marrow aspiration, with or without trephine biopsy: SNOMED CT, CPT and the project's own orderable codes. Bound (required) to ServiceRequest.code and Procedure.code."
* ^status = #active
* ^experimental = false
* $sct#49401003 "Bone marrow aspiration procedure"
* $cpt#38220 "Diagnostic bone marrow; aspiration(s)"
* $cpt#38222 "Diagnostic bone marrow; biopsy(ies) and aspiration(s)"
* BmaProcedureCS#aspiration "Bone marrow aspiration"
* BmaProcedureCS#aspiration-biopsy "Bone marrow aspiration and trephine biopsy"

ValueSet: BmaAspirateSpecimenTypesVS
Id: bma-aspirate-specimen-types
Title: "BMA aspirate specimen types"
Description: "Specimen types for liquid marrow obtained by aspiration (and its aliquots): SNOMED CT and HL7 v2 table 0487."
* ^status = #active
* ^experimental = false
* $sct#396997002 "Specimen from bone marrow obtained by aspiration"
* $sct#119359002 "Bone marrow specimen"
* $v2-0487#MAR "Marrow"

ValueSet: BmaTrephineSpecimenTypesVS
Id: bma-trephine-specimen-types
Title: "BMA trephine core specimen types"
Description: "Specimen types for a trephine core biopsy of bone marrow. No SNOMED CT concept for a marrow core specimen was verified, so the generic biopsy sample is used with the body site."
* ^status = #active
* ^experimental = false
* $sct#258415003 "Biopsy sample"
* $v2-0487#BX "Biopsy"

ValueSet: BmaCollectionMethodsVS
Id: bma-collection-methods
Title: "BMA specimen collection methods"
Description: "How the marrow specimen was collected: aspiration for the aspirate, biopsy for the trephine core."
* ^status = #active
* ^experimental = false
* $sct#129316008 "Aspiration - action"
* $sct#129314006 "Biopsy - action"

ValueSet: BmaBodySitesVS
Id: bma-body-sites
Title: "BMA body sites"
Description: "Bones a marrow sample is taken from. Ilium and tibia are paired (laterality required); the sternum is not."
* ^status = #active
* ^experimental = false
* $sct#22356005 "Bone structure of ilium"
* $sct#56873002 "Bone structure of sternum"
* $sct#12611008 "Bone structure of tibia"

ValueSet: BmaLateralityVS
Id: bma-laterality
Title: "BMA body site laterality"
Description: "Side of a paired body site (mirrors mCODE's laterality qualifier value set, without midline)."
* ^status = #active
* ^experimental = false
* $sct#7771000 "Left"
* $sct#24028007 "Right"
* $sct#51440002 "Right and left"

ValueSet: BmaSiteQualifiersVS
Id: bma-site-qualifiers
Title: "BMA body site qualifiers"
Description: "Direction qualifiers of the body site; a posterior iliac crest is ilium + posterior."
* ^status = #active
* ^experimental = false
* $sct#255549009 "Anterior"
* $sct#255551008 "Posterior"

ValueSet: BmaReportCodesVS
Id: bma-report-codes
Title: "BMA report codes"
Description: "LOINC codes of the reports an aspiration order produces (DiagnosticReport.code)."
* ^status = #active
* ^experimental = false
* $loinc#48807-2 "Bone marrow aspiration report"
* $loinc#33721-2 "Bone marrow Pathology biopsy report"
* $loinc#47286-0 "Differential panel - Bone marrow"
* $loinc#101119-6 "Leukemia and lymphoma immunophenotyping panel - Specimen"
* $loinc#33893-9 "Karyotype [Identifier] in Bone marrow Nominal"
* $loinc#50659-2 "Chromosome analysis.interphase [Interpretation] in Bone marrow by FISH Narrative"
* $loinc#51969-4 "Genetic analysis report"

ValueSet: BmaStudyCodesVS
Id: bma-study-codes
Title: "BMA requested studies"
Description: "All codes of the bma-study code system (ServiceRequest.orderDetail)."
* ^status = #active
* ^experimental = false
* BmaStudyCS#morphology "Morphology"
* BmaStudyCS#iron-stain "Iron stain"
* BmaStudyCS#flow-cytometry "Flow cytometry"
* BmaStudyCS#cytogenetics "Cytogenetics"
* BmaStudyCS#fish "FISH"
* BmaStudyCS#molecular "Molecular"

ValueSet: BmaResultCodesVS
Id: bma-result-codes
Title: "BMA result codes"
Description: "Common LOINC codes of discrete bone marrow results (Observation.code, preferred binding: other and local codes are allowed)."
* ^status = #active
* ^experimental = false
* $loinc#11138-5 "Myeloid cells/Erythroid cells [# Ratio] in Bone marrow"
* $loinc#38257-2 "Cells Counted Total [#] in Bone marrow"
* $loinc#11108-8 "Lymphocytes/cells in Bone marrow by Manual count"
* $loinc#11105-4 "Basophils/cells in Bone marrow by Manual count"
* $loinc#11109-6 "Mast cells/cells in Bone marrow by Manual count"
* $loinc#40689-2 "Erythroid cells/cells in Bone marrow by Manual count"
* $loinc#51629-4 "Macroblasts/cells in Bone marrow by Manual count"
* $loinc#44903-3 "Malignant cells/cells in Bone marrow by Manual count"
* $loinc#43415-9 "Unidentified cells/cells in Bone marrow by Manual count"
* $loinc#51581-7 "Other cells/cells in Bone marrow by Manual count"
* $loinc#74232-0 "Cellularity assessment in Bone marrow Narrative"
* $loinc#74228-8 "Myelopoiesis assessment in Bone marrow Narrative"
* $loinc#74231-2 "Erythropoiesis assessment in Bone marrow Narrative"
* $loinc#74230-4 "Lymphocytes assessment in Bone marrow Narrative"
* $loinc#74233-8 "Blasts assessment in Bone marrow Narrative"
* $loinc#93021-4 "Plasma cells with abnormal marker pattern/Cells counted in Bone marrow by Flow cytometry"
* $loinc#33893-9 "Karyotype [Identifier] in Bone marrow Nominal"
* $loinc#50659-2 "Chromosome analysis.interphase [Interpretation] in Bone marrow by FISH Narrative"
* $loinc#72333-8 "JAK2 gene p.V617F in Bone marrow"
