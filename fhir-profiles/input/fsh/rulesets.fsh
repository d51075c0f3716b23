// Body site with the project's laterality and qualifier extensions (ServiceRequest.bodySite, Procedure.bodySite,
// Specimen.collection.bodySite).
RuleSet: BmaBodySite(path)
* {path} MS
* {path} from BmaBodySitesVS (required)
* {path} obeys bma-site-1
* {path}.extension contains BodySiteLaterality named laterality 0..1 MS and BodySiteQualifier named qualifier 0..1 MS

// Patient subject, required on every profile.
RuleSet: PatientSubject
* subject 1..1 MS
* subject only Reference(Patient)
