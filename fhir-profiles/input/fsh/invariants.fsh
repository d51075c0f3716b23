// FHIRPath invariants of the profiles. Every expression is checked against @medplum/core's FHIRPath engine by
// fhir-profiles/test (true on the valid examples, false on the invalid example written for it).

Invariant: bma-site-1
Description: "Laterality (extension bodysite-laterality) is required when the body site is a paired bone (ilium, tibia) and not allowed when it is the sternum."
Expression: "(coding.where(system = 'http://snomed.info/sct' and (code = '22356005' or code = '12611008')).exists() implies extension.where(url = 'http://marrowbridge.org/fhir/StructureDefinition/bodysite-laterality').exists()) and (coding.where(system = 'http://snomed.info/sct' and code = '56873002').exists() implies extension.where(url = 'http://marrowbridge.org/fhir/StructureDefinition/bodysite-laterality').empty())"
Severity: #error

Invariant: bma-proc-1
Description: "performed[x] is present when the procedure is completed or in progress (as US Core us-core-7)."
Expression: "(status = 'completed' or status = 'in-progress') implies performed.exists()"
Severity: #error

Invariant: bma-dr-1
Description: "effective[x] and issued are present once the report is partial, preliminary, final, amended, corrected or appended (as US Core us-core-8 and us-core-9)."
Expression: "(status = 'partial' or status = 'preliminary' or status = 'final' or status = 'amended' or status = 'corrected' or status = 'appended') implies (effective.exists() and issued.exists())"
Severity: #error

Invariant: bma-obs-1
Description: "A result has a value, a dataAbsentReason, components or members, unless it is cancelled or entered in error (as US Core us-core-2)."
Expression: "status = 'cancelled' or status = 'entered-in-error' or value.exists() or dataAbsentReason.exists() or component.exists() or hasMember.exists()"
Severity: #error

Invariant: bma-obs-2
Description: "A Quantity or Range value that has a unit gives it as a UCUM code (system http://unitsofmeasure.org and code), as US Core us-core-3."
Expression: "(value.ofType(Quantity) | value.ofType(Range).low | value.ofType(Range).high).all((code.exists() or unit.exists()) implies (system = 'http://unitsofmeasure.org' and code.exists()))"
Severity: #error

Invariant: bma-obs-3
Description: "Reference range limits that have a unit give it as a UCUM code (as US Core us-core-22)."
Expression: "(referenceRange.low | referenceRange.high).all((code.exists() or unit.exists()) implies (system = 'http://unitsofmeasure.org' and code.exists()))"
Severity: #error

Invariant: bma-spec-1
Description: "A collected quantity (volume) that has a unit gives it as a UCUM code."
Expression: "collection.quantity.all((code.exists() or unit.exists()) implies (system = 'http://unitsofmeasure.org' and code.exists()))"
Severity: #error
