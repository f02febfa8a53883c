// Package policy decides who must approve a request: it matches the
// organisation's approval rules against a request and resolves each step's
// approvers to people, with the reason each is eligible.
//
// Evaluation reads people through a Directory the caller supplies and
// nothing else; it never reads the clock (Input.Now) and never writes.
package policy
