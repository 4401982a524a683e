//go:build tools

// Package tools pins Traefik's main package, built by e2e/scripts/build-traefik.sh,
// so that `go mod tidy` keeps its dependencies in go.mod/go.sum.
package tools

import (
	_ "github.com/traefik/traefik/v3/cmd/traefik"
)
