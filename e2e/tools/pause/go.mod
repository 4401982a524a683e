// The pod sandbox ("pause") program of the e2e node, built by e2e/scripts/build-images.sh into the
// image localhost/kaos/pause. A module of its own, without dependencies, so building it never
// touches the tools module in e2e/tools.
module kaos.local/e2e/tools/pause

go 1.19
