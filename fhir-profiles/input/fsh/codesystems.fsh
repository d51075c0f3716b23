// The project's own code systems. Every concept is listed so value sets can be expanded locally.

CodeSystem: BmaStudyCS
Id: bma-study
Title: "BMA requested studies"
Description: "Studies requested on a bone marrow aspirate (ServiceRequest.orderDetail). Each one is reported separately, often weeks apart."
* ^url = "http://marrowbridge.org/fhir/CodeSystem/bma-study"
* ^status = #active
* ^experimental = false
* ^caseSensitive = true
* ^content = #complete
* #morphology "Morphology" "Aspirate smear morphology and manual differential count."
* #iron-stain "Iron stain" "Perls' Prussian blue stain of the aspirate for iron stores and ring sideroblasts."
* #flow-cytometry "Flow cytometry" "Immunophenotyping of the aspirate by flow cytometry."
* #cytogenetics "Cytogenetics" "Conventional karyotype of cultured marrow cells."
* #fish "FISH" "Interphase fluorescence in situ hybridization."
* #molecular "Molecular" "Molecular genetic testing (single-gene assays or sequencing panels)."

CodeSystem: BmaProcedureCS
Id: bma-procedure
Title: "BMA planned procedures (project codes)"
Description: "The project's own orderable codes for the two planned procedures; sent beside the SNOMED CT and CPT codings."
* ^url = "http://marrowbridge.org/fhir/CodeSystem/bma-procedure"
* ^status = #active
* ^experimental = false
* ^caseSensitive = true
* ^content = #complete
* #aspiration "Bone marrow aspiration" "Bone marrow aspiration alone (CPT 38220)."
* #aspiration-biopsy "Bone marrow aspiration and trephine biopsy" "Aspiration plus trephine core biopsy in the same session (CPT 38222)."
