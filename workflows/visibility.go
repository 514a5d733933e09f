package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// shownAttributes are the values of the clearance's search attributes as last set.
type shownAttributes struct {
	// identity is set when the exporter, destination, categories and procedure are set.
	identity            bool
	lane, stage, status string
	registration        string
	claimedBy           string
	priority            string
	onHold              *bool
	breached            *bool
}

// shownAtStart reads the search attributes the clearance was started with (the starter sets the
// exporter, destination, categories, procedure, status and SlaBreached).
func shownAtStart(sa temporal.SearchAttributes) shownAttributes {
	var s shownAttributes
	_, exporter := sa.GetKeyword(ExporterCodeKey)
	_, destination := sa.GetKeyword(DestinationCountryKey)
	_, categories := sa.GetKeywordList(ProductCategoriesKey)
	_, expedited := sa.GetBool(ExpeditedKey)
	s.identity = exporter && destination && categories && expedited
	s.lane, _ = sa.GetKeyword(LaneKey)
	s.stage, _ = sa.GetKeyword(StageKey)
	s.status, _ = sa.GetKeyword(StatusKey)
	s.registration, _ = sa.GetKeyword(RegistrationKey)
	s.claimedBy, _ = sa.GetKeyword(ClaimedByKey)
	s.priority, _ = sa.GetKeyword(PriorityKey)
	if b, ok := sa.GetBool(OnHoldKey); ok {
		s.onHold = &b
	}
	if b, ok := sa.GetBool(SlaBreachedKey); ok {
		s.breached = &b
	}
	return s
}

// publish sets the search attributes whose values differ from what they hold, in one upsert, and
// under VersionStudyMemo writes the clearance's study to its memo.
func (c *clearance) publish(ctx workflow.Context) error {
	next := c.shown
	var u []temporal.SearchAttributeUpdate
	if !next.identity {
		u = append(u, DeclarationAttributes(c.decl)...)
		next.identity = true
	}
	if c.Registration != nil && c.Registration.Number != next.registration {
		u = append(u, RegistrationKey.ValueSet(c.Registration.Number))
		next.registration = c.Registration.Number
	}
	if _, held := c.onHold(); (next.onHold == nil && held) || (next.onHold != nil && *next.onHold != held) {
		u = append(u, OnHoldKey.ValueSet(held))
		next.onHold = &held
	}
	if p := c.Selection.Priority; p != "" && p != next.priority {
		u = append(u, PriorityKey.ValueSet(p))
		next.priority = p
	}
	if h := c.holder(); h != next.claimedBy {
		if h == "" {
			u = append(u, ClaimedByKey.ValueUnset())
		} else {
			u = append(u, ClaimedByKey.ValueSet(h))
		}
		next.claimedBy = h
	}
	if c.Lane != "" && string(c.Lane) != next.lane {
		u = append(u, LaneKey.ValueSet(string(c.Lane)))
		next.lane = string(c.Lane)
	}
	if c.Stage != "" && string(c.Stage) != next.stage {
		u = append(u, StageKey.ValueSet(string(c.Stage)))
		next.stage = string(c.Stage)
	}
	if c.State != "" && string(c.State) != next.status {
		u = append(u, StatusKey.ValueSet(string(c.State)))
		next.status = string(c.State)
	}
	if next.breached == nil || *next.breached != c.SlaBreached {
		u = append(u, SlaBreachedKey.ValueSet(c.SlaBreached))
		breached := c.SlaBreached
		next.breached = &breached
	}
	if len(u) > 0 {
		// Set first: an interceptor may yield inside the upsert, and another coroutine publish meanwhile.
		c.shown = next
		if err := workflow.UpsertTypedSearchAttributes(ctx, u...); err != nil {
			return fmt.Errorf("upsert search attributes: %w", err)
		}
	}
	if c.rel.keepsStudy {
		// Written even when no search attribute changed: an escalation or a retried check
		// changes the study.
		return c.keepStudy(ctx)
	}
	return nil
}

// setState records the clearance's state in the search attributes and the current details.
func (c *clearance) setState(ctx workflow.Context, s State) error {
	c.State = s
	workflow.SetCurrentDetails(ctx, c.details(workflow.Now(ctx)))
	return c.rel.stateSet(ctx, c)
}
