package activities

import "github.com/medsupply/customs/policy"

// Names under which the worker registers the activities (the methods of Activities), as they
// stand in every history; the auditor and the simulator read histories by them.
const (
	NameLoadConfiguration   = "LoadConfiguration"
	NameSelectLane          = "SelectLane"
	NameCheckDocuments      = "CheckDocuments"
	NamePrescreenBiological = "PrescreenBiological"
	NameVerifyCertificates  = "VerifyCertificates"
	NamePlanInspection      = "PlanInspection"
	NameIssueReleaseNotice  = "IssueReleaseNotice"
	NameRegisterDeclaration = "RegisterDeclaration"
	NameNotifyExporter      = "NotifyExporter"
)

// checks pairs each check activity with the stage whose automated checks it runs.
var checks = []struct {
	activity string
	stage    policy.Stage
}{
	{NameCheckDocuments, policy.StageDocumentCheck},
	{NamePrescreenBiological, policy.StageBiologicalReview},
	{NameVerifyCertificates, policy.StageCertificationCheck},
	{NamePlanInspection, policy.StagePhysicalInspection},
}

// CheckStage returns the stage whose automated checks the named activity runs, and whether it is
// a check activity.
func CheckStage(activity string) (policy.Stage, bool) {
	for _, c := range checks {
		if c.activity == activity {
			return c.stage, true
		}
	}
	return "", false
}

// CheckActivity returns the name of the activity that runs a stage's automated checks, or "" for
// a stage without (the release).
func CheckActivity(stage policy.Stage) string {
	for _, c := range checks {
		if c.stage == stage {
			return c.activity
		}
	}
	return ""
}
