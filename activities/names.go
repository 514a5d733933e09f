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
	NameNotifyExporter      = "NotifyExporter"
)

// checkStages names the stage whose automated checks each check activity runs.
var checkStages = map[string]policy.Stage{
	NameCheckDocuments:      policy.StageDocumentCheck,
	NamePrescreenBiological: policy.StageBiologicalReview,
	NameVerifyCertificates:  policy.StageCertificationCheck,
	NamePlanInspection:      policy.StagePhysicalInspection,
}

// CheckStage returns the stage whose automated checks the named activity runs, and whether it is
// a check activity.
func CheckStage(activity string) (policy.Stage, bool) {
	s, ok := checkStages[activity]
	return s, ok
}
