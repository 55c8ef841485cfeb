// Package ignitionfmt parses what Ignition leaves on a host it
// provisioned (coreos/ignition): its result file /etc/.ignition-result.json
// and the journal entries of the ssh keys it wrote, as journalctl
// --output=json prints them. It decides nothing about a verdict and never
// panics on what it is given (the fuzz targets).
package ignitionfmt
