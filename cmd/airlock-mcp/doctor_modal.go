package main

import (
	"fmt"
	"io"
	"text/tabwriter"

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
	opts, err := modal.OptionsFromPolicy(p)
	if err != nil {
		fmt.Fprintf(stdout, "%v\n", err)
		return 1
	}
	checks, ok := modal.Diagnose(opts)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, c := range checks {
		state := "[ok]"
		if !c.OK {
			state = "[FAILED]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", state, c.Name, c.Detail)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\npolicy:\n%s\n", p.Describe())
	if !ok {
		fmt.Fprintln(stdout, "\nThe Modal backend cannot run: fix the failed checks above.")
		return 1
	}
	fmt.Fprintln(stdout, "\nThe Modal backend is configured; Modal checks the credentials at the first call.")
	return 0
}
