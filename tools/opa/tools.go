//go:build tools

// Package tools pins the OPA CLI (Rego policy packs) so that `go build` of its
// main package resolves from this module's go.sum.
package tools

import (
	_ "github.com/open-policy-agent/opa"
)
