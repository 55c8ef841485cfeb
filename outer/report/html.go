package report

import (
	_ "embed"
	"html/template"
	"io"
)

// reportHTML is report.html: one self-contained page (inline CSS and SVG,
// no scripts, no fonts or images from anywhere) whose Content-Security-Policy
// forbids every load, so it opens the same from a CI artifact store, a
// mail attachment or a laptop without network.
//
//go:embed templates/report.html.tmpl
var reportHTML string

var reportHTMLTemplate = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"statusClass": StatusClass,
	"seconds":     seconds,
}).Parse(reportHTML))

// WriteHTML writes report.html: the criteria × step matrix per host, each
// cell linking to the checks behind it; a timeline per host; every bad
// check with its message and evidence; the tail of a host that did not
// come back; tool versions, plan, start and end.
func (r *Report) WriteHTML(w io.Writer) error {
	return newReportView(r).writeHTML(w)
}

func (v *reportView) writeHTML(w io.Writer) error {
	return reportHTMLTemplate.Execute(w, v)
}
