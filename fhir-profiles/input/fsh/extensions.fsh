// Laterality and direction qualifier of a body site, placed on the bodySite CodeableConcept. They mirror mCODE's
// laterality-qualifier and body-location-qualifier extensions without depending on the mCODE package.

Extension: BodySiteLaterality
Id: bodysite-laterality
Title: "Body site laterality"
Description: "Side of a paired body site (left, right, bilateral). Required by bma-site-1 when the site is the ilium or the tibia, forbidden for the sternum."
Context: CodeableConcept
* ^status = #active
* ^experimental = false
* value[x] 1..1
* value[x] only CodeableConcept
* value[x] from BmaLateralityVS (required)

Extension: BodySiteQualifier
Id: bodysite-qualifier
Title: "Body site qualifier"
Description: "Direction qualifier of the body site (anterior, posterior), e.g. the posterior iliac crest."
Context: CodeableConcept
* ^status = #active
* ^experimental = false
* value[x] 1..1
* value[x] only CodeableConcept
* value[x] from BmaSiteQualifiersVS (required)
