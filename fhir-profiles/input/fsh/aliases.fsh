// Code system and project URLs used across the FSH files.
Alias: $sct = http://snomed.info/sct
Alias: $loinc = http://loinc.org
Alias: $cpt = http://www.ama-assn.org/go/cpt
Alias: $ucum = http://unitsofmeasure.org
Alias: $v2-0203 = http://terminology.hl7.org/CodeSystem/v2-0203
Alias: $v2-0487 = http://terminology.hl7.org/CodeSystem/v2-0487
Alias: $v2-0074 = http://terminology.hl7.org/CodeSystem/v2-0074
Alias: $obs-category = http://terminology.hl7.org/CodeSystem/observation-category
