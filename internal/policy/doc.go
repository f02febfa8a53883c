// Package policy decides who must approve a request: it matches the
// organisation's approval rules against a request and resolves each step's
// approvers to people, with the reason each is eligible. docs/policies.md
// is the user's guide; this comment is the contract.
//
// # Building and evaluating
//
// New (or Validate, which only reports) compiles a set of Policy values:
// structure, CEL conditions (parsed and type-checked against Variables,
// bool only, time zones loaded), regular expressions, references to on-call
// rotations (WithRotations), and ties: two policies of equal Specificity
// that could match one request (sharper with WithCatalog). Problems come
// back as a *ValidationError whose paths follow the config file
// ("policies[2].match.condition"). An Engine is immutable and safe for
// concurrent use; Current holds the one in use and swaps it when the stored
// set changes.
//
// Engine.Evaluate matches each entitlement of a request on its own, takes
// the most specific matching policy (the default when none matches), and
// refuses (a coded access.Error) a tie, entitlements that fall under
// different policies, and a condition that fails: it never falls back to a
// weaker policy. It then checks the auto-approve rules, computes the
// duration limits and resolves each step (and its escalation) to active
// people other than the requester. A plan nobody could approve is returned
// without error; Plan.Unapprovable says why. Plan.CheckReason checks a
// reason against the policy's reason rule.
//
// Evaluation is pure: it reads people through the Directory the caller
// passes and nothing else, takes the time from Input.Now (for on-call
// shifts and CEL's now), never writes, and bounds CEL by a cost limit per
// condition and a timeout per evaluation (Limits).
//
// Engine.Simulate runs the same evaluation and explains it (Simulation,
// JSON for the API, Text for the CLI): every policy's verdict, the rules,
// the limits, the people asked and those left out.
//
// # Changes
//
// The active set is stored as JSON (EncodeSet, DecodeSet: the API format,
// which is the file's, durations as text) in store.PolicySet, versioned;
// SeedFromConfig decides when the config file replaces it. A Change
// proposes a new set through the API; its transitions (ProposeChange,
// Approve, Reject, Apply) enforce the two-person rule: the proposer never
// approves their own change.
package policy
