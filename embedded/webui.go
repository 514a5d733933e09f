package embedded

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	uiconfig "github.com/temporalio/ui-server/v2/server/config"
)

// DeskControl is one of the Web UI server's switches that the officers' desk turns on, hiding a
// control officers must not use.
type DeskControl struct {
	// Key is the setting's key in the UI server's configuration file (a YAML key of
	// github.com/temporalio/ui-server/v2/server/config.Config).
	Key string
	// Env is the environment variable the temporalio/ui image sets it from (the image's
	// config/docker.yaml template).
	Env string
	// Hides is what the UI stops showing.
	Hides string

	field func(*uiconfig.Config) *bool
}

// deskControls are the ui-server v2.54.1 switches of the desk. Two of its switches stay off on
// purpose: workflowUpdateDisabled, because updates are the officers' decisions, and
// disableWriteActions, because the UI server then refuses every call but reads and queries (its
// DisableWriteMiddleware) and the UI hides the update dialog too. refreshWorkflowCountsDisabled
// hides nothing that writes.
var deskControls = []DeskControl{
	{Key: "workflowTerminateDisabled", Env: "TEMPORAL_WORKFLOW_TERMINATE_DISABLED", Hides: "Terminate",
		field: func(c *uiconfig.Config) *bool { return &c.WorkflowTerminateDisabled }},
	{Key: "workflowResetDisabled", Env: "TEMPORAL_WORKFLOW_RESET_DISABLED", Hides: "Reset",
		field: func(c *uiconfig.Config) *bool { return &c.WorkflowResetDisabled }},
	{Key: "workflowCancelDisabled", Env: "TEMPORAL_WORKFLOW_CANCEL_DISABLED", Hides: "Request Cancellation",
		field: func(c *uiconfig.Config) *bool { return &c.WorkflowCancelDisabled }},
	{Key: "workflowSignalDisabled", Env: "TEMPORAL_WORKFLOW_SIGNAL_DISABLED", Hides: "Send a Signal",
		field: func(c *uiconfig.Config) *bool { return &c.WorkflowSignalDisabled }},
	{Key: "workflowPauseDisabled", Env: "TEMPORAL_WORKFLOW_PAUSE_DISABLED", Hides: "Pause",
		field: func(c *uiconfig.Config) *bool { return &c.WorkflowPauseDisabled }},
	{Key: "startWorkflowDisabled", Env: "TEMPORAL_START_WORKFLOW_DISABLED", Hides: "Start Workflow",
		field: func(c *uiconfig.Config) *bool { return &c.StartWorkflowDisabled }},
	{Key: "batchActionsDisabled", Env: "TEMPORAL_BATCH_ACTIONS_DISABLED", Hides: "batch terminate, cancel and reset of the list's selection",
		field: func(c *uiconfig.Config) *bool { return &c.BatchActionsDisabled }},
	{Key: "activityCommandsDisabled", Env: "TEMPORAL_ACTIVITY_COMMANDS_DISABLED", Hides: "pause, unpause, reset and update of pending activities",
		field: func(c *uiconfig.Config) *bool { return &c.ActivityCommandsDisabled }},
}

// DeskControls returns the Web UI server's switches that the officers' desk turns on (each
// set to true). The desk keeps updates, which are the officers' decisions; administrators
// terminate, reset, cancel, signal and start with the temporal CLI, or run the full UI
// (Config.AdminUI). Deployments of the stock UI image set the same variables.
func DeskControls() []DeskControl { return append([]DeskControl(nil), deskControls...) }

// setDesk turns the desk's switches on in c.
func setDesk(c *uiconfig.Config) {
	for _, d := range deskControls {
		*d.field(c) = true
	}
}

// oneHost serves the Web UI at the host of its sign-in's callback only. The UI server keeps a
// sign-in's state in a cookie of the host the browser started at, and the identity provider
// returns the browser to the callback's host: begun at http://localhost:8233 for a callback at
// http://127.0.0.1:8233, the sign-in ends on "State cookie is not set in request". So a request
// by any other name is redirected to the same path at the callback's host before anything is
// set, with the page to return to after the sign-in (the UI's returnUrl, an absolute URL) moved
// there too; the rest goes to the UI server at backend, keeping the browser's Host, which the
// UI server checks returnUrl against.
func oneHost(callback string, backend *url.URL) (http.Handler, error) {
	cb, err := url.Parse(callback)
	if err != nil {
		return nil, err
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(backend)
			r.Out.Host = r.In.Host
		},
		// The workflow page long-polls its history: pass each answer on as it comes.
		FlushInterval: -1,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Host, cb.Host) {
			proxy.ServeHTTP(w, r)
			return
		}
		to := *r.URL
		to.Scheme, to.Host = cb.Scheme, cb.Host
		q := to.Query()
		if ret, err := url.Parse(q.Get("returnUrl")); err == nil && strings.EqualFold(ret.Host, r.Host) {
			ret.Scheme, ret.Host = cb.Scheme, cb.Host
			q.Set("returnUrl", ret.String())
			to.RawQuery = q.Encode()
		}
		// 307 keeps the method and body of a call that is not a page load.
		http.Redirect(w, r, to.String(), http.StatusTemporaryRedirect)
	}), nil
}
