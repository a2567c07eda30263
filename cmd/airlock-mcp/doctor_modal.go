package main

import (
	"fmt"
	"io"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
)

// doctorModal prints whether the Modal backend is configured to run:
// whether the policy fits it, whether credentials are found (where, never
// what), the SDK version, the App, image, resources, network and pool. It
// makes no network call, so it cannot tell whether Modal accepts the
// credentials; the first call does.
func doctorModal(o options, p *policy.Policy, stdout io.Writer) int {
	fmt.Fprintf(stdout, "airlock-mcp %s — backend %s\n\n", buildVersion(), o.backend)
	opts, err := modalOptions(p)
	if err != nil {
		fmt.Fprintf(stdout, "%v\n", err)
		return 1
	}
	checks, ok := modal.Diagnose(opts)
	rows := make([]doctorRow, len(checks))
	for i, c := range checks {
		rows[i] = doctorRow{"[ok]", c.Name, c.Detail}
		if c.Warn {
			rows[i].marker = "[warn]"
		}
		if !c.OK {
			rows[i].marker = "[FAILED]"
		}
	}
	return printDoctor(stdout, summary(p, modal.Name)+sessionsVerdict(p, modal.Name), rows, ok,
		"The Modal backend is configured; Modal checks the credentials at the first call.",
		"The Modal backend cannot run: fix the failed checks above.")
}
