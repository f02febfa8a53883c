package policy

import (
	"fmt"
	"strings"
)

// Text renders the simulation for a terminal (`sesame policy test`):
// plain ASCII, one fact per line, stable for golden tests.
func (s *Simulation) Text() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	r := s.Request

	w("Request")
	who := r.Requester
	if r.RequesterName != "" {
		who += " (" + r.RequesterName + ")"
	}
	w("  requester:   %s", who)
	w("  groups:      %s", listOr(r.Groups, "none"))
	w("  manager:     %s", or(r.Manager, "none"))
	w("  on call for: %s", listOr(r.OnCall, "nothing"))
	app := r.App
	if r.AppName != "" && r.AppName != r.App {
		app += " (" + r.AppName + ")"
	}
	w("  app:         %s", app)
	for _, e := range r.Entitlements {
		line := e.ID
		if e.Name != "" {
			line += " (" + e.Name + ")"
		}
		line += ", risk " + or(string(e.Risk), "unset")
		if len(e.Tags) > 0 {
			line += ", tags " + strings.Join(e.Tags, ", ")
		}
		w("  entitlement: %s", line)
	}
	w("  duration:    %s", or(r.Duration, "not given"))
	if r.Reason != "" {
		w("  reason:      %q", r.Reason)
	} else {
		w("  reason:      not given")
	}
	w("  at:          %s", r.At.UTC().Format("2006-01-02 15:04 MST (Monday)"))
	w("")
	w("Outcome: %s", s.outcomeText())
	if s.Refused != "" {
		w("  %s", s.Refused)
	}
	for _, f := range s.Invalid {
		w("  but as given the request is refused: %s %s", f.Field, f.Message)
	}

	for _, em := range s.Entitlements {
		w("")
		w("Policy for %s: %s", em.Entitlement, or(em.PolicyID, "none"))
		for _, pm := range em.Policies {
			mark := "-"
			if pm.Selected {
				mark = "*"
			}
			name := fmt.Sprintf("%s (specificity %d)", pm.ID, pm.Specificity)
			if pm.Default {
				name = pm.ID + " (default)"
			}
			w("  %s %s: %s", mark, name, pm.Reason)
		}
	}
	if s.Outcome == OutcomeRefused {
		return b.String()
	}

	if len(s.AutoApprove.Rules) > 0 {
		w("")
		w("Auto-approve")
		for _, rr := range s.AutoApprove.Rules {
			mark := "-"
			if rr.Approves {
				mark = "*"
			}
			w("  %s %s: %s", mark, rr.Name, rr.Reason)
		}
		if s.AutoApprove.Rule == "" {
			w("  no rule approves: people must")
		}
	}

	d := s.Durations
	w("")
	w("Duration")
	limits := make([]string, len(d.Limits))
	for i, l := range d.Limits {
		limits[i] = l.Source + " " + l.Max
	}
	if d.Max != "" {
		w("  maximum:     %s (smallest of: %s)", d.Max, strings.Join(limits, ", "))
	} else {
		w("  maximum:     none")
	}
	w("  default:     %s", or(d.Default, "none"))
	if d.Problem != "" {
		w("  problem:     %s", d.Problem)
	} else {
		w("  granted for: %s", d.Effective)
	}

	w("")
	w("Reason")
	w("  rule:        %s", reasonRuleText(s.Reason.Rule))
	if len(s.Reason.Problems) == 0 {
		w("  check:       ok")
	}
	for _, p := range s.Reason.Problems {
		w("  problem:     %s %s", p.Field, p.Message)
	}

	if s.Outcome != OutcomeAutoApproved {
		w("")
		w("Steps")
		for i, st := range s.Steps {
			w("  %d. %s: %s", i+1, stepName(st.Name, i), stepRuleText(st))
			for _, a := range st.Eligible {
				w("     - %s: %s", approverText(a), a.Reason)
			}
			if len(st.Eligible) == 0 {
				w("     - nobody is eligible")
			}
			for _, x := range st.Excluded {
				w("     x %s %s", x.Who, x.Why)
			}
			if st.EscalateAfter != "" {
				w("     escalates after %s to:", st.EscalateAfter)
				for _, a := range st.EscalateTo {
					w("     + %s: %s", approverText(a), a.Reason)
				}
				if len(st.EscalateTo) == 0 {
					w("     + nobody more")
				}
				for _, x := range st.EscalationExcluded {
					w("     x %s %s", x.Who, x.Why)
				}
			}
		}
		w("")
		w("Timing")
		w("  pending timeout: %s", s.PendingTimeout)
		if rm := s.Reminders; rm.After > 0 && rm.Max > 0 {
			line := "after " + durText(rm.After)
			if rm.Every > 0 && rm.Max > 1 {
				line += ", then every " + durText(rm.Every)
			}
			w("  reminders:       %s, at most %d", line, rm.Max)
		} else {
			w("  reminders:       none")
		}
		if s.Extension != "" {
			w("  extensions:      %s", s.Extension)
		}
	}
	w("")
	w("Notified on submit: %s", people(s.Notified))
	if s.Unapprovable != "" {
		w("Cannot be approved: %s", s.Unapprovable)
	}
	return b.String()
}

func (s *Simulation) outcomeText() string {
	switch s.Outcome {
	case OutcomeAutoApproved:
		return "auto-approved by rule " + s.AutoApprove.Rule + " (policy " + s.PolicyID + ")"
	case OutcomeNeedsApproval:
		steps := "1 step"
		if len(s.Steps) != 1 {
			steps = fmt.Sprintf("%d steps", len(s.Steps))
		}
		return fmt.Sprintf("needs approval in %s (policy %s)", steps, s.PolicyID)
	case OutcomeUnapprovable:
		return "refused: nobody could approve it (policy " + s.PolicyID + ")"
	case OutcomeRefused:
		return "refused"
	}
	return s.Outcome
}

func stepRuleText(st SimStep) string {
	need := "needs 1 approval"
	switch {
	case st.All:
		need = fmt.Sprintf("needs every eligible person (%d)", st.Required)
	case st.Required != 1:
		need = fmt.Sprintf("needs %d approvals", st.Required)
	}
	if st.RequesterChooses {
		return fmt.Sprintf("%s; the requester picks at least %d of the %d eligible", need, st.Choose, len(st.Eligible))
	}
	return fmt.Sprintf("%s; asks everyone eligible (%d)", need, len(st.Eligible))
}

func reasonRuleText(r ReasonRule) string {
	var parts []string
	if r.Required {
		parts = append(parts, "required")
	} else {
		parts = append(parts, "optional")
	}
	if r.MinLength > 0 {
		parts = append(parts, fmt.Sprintf("at least %d characters", r.MinLength))
	}
	if r.Pattern != "" {
		parts = append(parts, "must match "+r.Pattern)
	}
	if r.TicketPattern != "" {
		parts = append(parts, "must contain "+r.TicketPattern)
	}
	if r.Hint != "" {
		parts = append(parts, "hint: "+r.Hint)
	}
	return strings.Join(parts, "; ")
}

func approverText(a Approver) string {
	if a.Name != "" {
		return a.Email + " (" + a.Name + ")"
	}
	return a.Email
}

func people(n int) string {
	if n == 1 {
		return "1 person"
	}
	return fmt.Sprintf("%d people", n)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func listOr(s []string, def string) string {
	if len(s) == 0 {
		return def
	}
	return strings.Join(s, ", ")
}
