package workflows

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/declaration"
)

// TaskQueue is the task queue the clearance worker polls.
const TaskQueue = "customs-clearance"

// WorkflowName is the registered name of the clearance workflow.
const WorkflowName = "ExportClearance"

// Names of the workflow's updates, signals and queries.
const (
	// UpdateDecide carries an officer's decision on the current stage; its validator refuses a
	// decision that does not fit, with the reason.
	UpdateDecide = "decide"
	// SignalDecision carries the same payload as UpdateDecide for clients that only signal;
	// refused decisions are recorded in the status.
	SignalDecision = "decision"
	// UpdateReroute lets a supervisor move the clearance to another lane.
	UpdateReroute = "reroute"
	// UpdateExtend lets a supervisor extend the current stage's allowance, once, with a reason
	// the exporter is told.
	UpdateExtend = "extend"
	// UpdateSupplyDocuments carries the exporter's answer to a request for information.
	UpdateSupplyDocuments = "supply-documents"
	// UpdateWithdraw lets the exporter withdraw the declaration before release.
	UpdateWithdraw = "withdraw"
	// SignalRosterChanged tells a clearance that the officer roster changed: it reads it again
	// and offers the decision it awaits to the officers the roster now names.
	SignalRosterChanged = "roster-changed"
	// QueryStatus returns the clearance's Status.
	QueryStatus = "status"
	// QueryResult answers the result of an ended clearance, and an error while it runs: the
	// exporter's way to its outcome, since an exporter may not read histories. Its name sorts
	// after "status", which the Web UI's Queries tab, listing queries by name, shows first.
	QueryResult = "verdict"
)

// Search attribute names. An officer's queue is a list filter over them, for example
// ClearanceStatus = 'awaiting-officer' AND ClearanceStage = 'biological-review'.
const (
	SADeclarationID      = "DeclarationId"
	SARegistration       = "RegistrationNumber"
	SAPriority           = "QueuePriority"
	SAStage              = "ClearanceStage"
	SALane               = "ClearanceLane"
	SAStatus             = "ClearanceStatus"
	SAExporterCode       = "ExporterCode"
	SADestinationCountry = "DestinationCountry"
	SAProductCategories  = "ProductCategories"
	SAExpedited          = "Expedited"
	SASlaBreached        = "SlaBreached"
)

// Typed search attribute keys.
var (
	DeclarationIDKey      = temporal.NewSearchAttributeKeyKeyword(SADeclarationID)
	RegistrationKey       = temporal.NewSearchAttributeKeyKeyword(SARegistration)
	PriorityKey           = temporal.NewSearchAttributeKeyKeyword(SAPriority)
	StageKey              = temporal.NewSearchAttributeKeyKeyword(SAStage)
	LaneKey               = temporal.NewSearchAttributeKeyKeyword(SALane)
	StatusKey             = temporal.NewSearchAttributeKeyKeyword(SAStatus)
	ExporterCodeKey       = temporal.NewSearchAttributeKeyKeyword(SAExporterCode)
	DestinationCountryKey = temporal.NewSearchAttributeKeyKeyword(SADestinationCountry)
	ProductCategoriesKey  = temporal.NewSearchAttributeKeyKeywordList(SAProductCategories)
	ExpeditedKey          = temporal.NewSearchAttributeKeyBool(SAExpedited)
	SlaBreachedKey        = temporal.NewSearchAttributeKeyBool(SASlaBreached)
)

// DeclarationAttributes are the search attributes a declaration gives its clearance: its ID,
// exporter, destination, product categories and procedure. The client starts a clearance with them and the
// workflow sets them where a clearance was started without.
func DeclarationAttributes(d declaration.Declaration) []temporal.SearchAttributeUpdate {
	return []temporal.SearchAttributeUpdate{
		DeclarationIDKey.ValueSet(d.ID),
		ExporterCodeKey.ValueSet(d.Exporter.Code),
		DestinationCountryKey.ValueSet(d.Destination),
		ProductCategoriesKey.ValueSet(d.CategoryList()),
		ExpeditedKey.ValueSet(d.IsExpedited()),
	}
}

// SearchAttributes returns the custom search attributes the engine needs, with their types, for
// registration on a namespace.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		SADeclarationID:      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SARegistration:       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SAPriority:           enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SAClaimedBy:          enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SAOnHold:             enumspb.INDEXED_VALUE_TYPE_BOOL,
		SAStage:              enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SALane:               enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SAStatus:             enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SAExporterCode:       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SADestinationCountry: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SAProductCategories:  enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
		SAExpedited:          enumspb.INDEXED_VALUE_TYPE_BOOL,
		SASlaBreached:        enumspb.INDEXED_VALUE_TYPE_BOOL,
	}
}

// WorkflowIDPrefix starts every clearance's workflow ID.
const WorkflowIDPrefix = declaration.ClearancePrefix

// WorkflowID returns the workflow ID of the clearance of an exporter's declaration:
// clearance-<exporter code>-<declaration ID> (declaration.ClearanceID). A declaration ID is the
// exporter's own reference, unique per exporter only, so the same reference of two exporters is
// two clearances, and a second submission of one declaration by its exporter meets the first.
func WorkflowID(exporterCode, declarationID string) (string, error) {
	return declaration.ClearanceID(exporterCode, declarationID)
}

// LegacyWorkflowID returns the workflow ID a clearance of the declaration had when it was started
// before workflow IDs named the exporter: clearance-<declaration ID>. Such clearances are read,
// decided and audited under it for as long as the server keeps them; none is started under it.
func LegacyWorkflowID(declarationID string) (string, error) {
	return declaration.LegacyClearanceID(declarationID)
}

// IsWorkflowIDOf reports whether id is the workflow ID of the exporter's declaration, in the
// exporter's form or the legacy one.
func IsWorkflowIDOf(id, exporterCode, declarationID string) bool {
	return declaration.IsClearanceOf(id, exporterCode, declarationID)
}

// DeclarationOf returns the declaration ID of the clearance with workflow ID id, given the values
// of its DeclarationId and ExporterCode search attributes (declaration.DeclarationOfClearance).
func DeclarationOf(id, declarationID, exporterCode string) string {
	return declaration.DeclarationOfClearance(id, declarationID, exporterCode)
}
