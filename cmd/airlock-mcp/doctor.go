package main

import (
	"context"
	"fmt"
	"go.uber.org/zap"
	"io"
	"text/tabwriter"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
)

// doctor prints, for a person, whether this host can run the backend and
// which protections are active. It exits non-zero when the backend cannot
// run.
func doctor(ctx context.Context, o options, p *policy.Policy, stdout io.Writer) int {
	switch o.backend {
	case local.Name:
	case modal.Name:
		return doctorModal(o, p, stdout)
	default:
		fmt.Fprintf(stdout, "unknown backend %q: use %q (the default) or %q\n", o.backend, local.Name, modal.Name)
		return 1
	}
	fmt.Fprintf(stdout, "airlock-mcp %s — backend %s\n\n", buildVersion(), o.backend)
	if err := checkLocal(p); err != nil {
		fmt.Fprintf(stdout, "The policy cannot be enforced on the local backend:\n%v\n", err)
		return 1
	}
	checks, ok := local.Diagnose(ctx, localOptions(p, zap.NewNop()))
	rows := make([]doctorRow, len(checks))
	for i, c := range checks {
		rows[i] = doctorRow{marker(c.State), c.Name, c.Detail}
	}
	return printDoctor(stdout, summary(p, local.Name)+sessionsVerdict(p, local.Name), rows, ok,
		"The local backend is ready.",
		"The local backend cannot run on this host: fix the failed checks above.")
}

// doctorRow is one line of the report: a marker, what was checked, and what
// was found.
type doctorRow struct{ marker, name, detail string }

// printDoctor prints the rows as a table, then the effective policy as the
// backend applies it (summary), then the verdict; it returns the exit code.
func printDoctor(stdout io.Writer, summary string, rows []doctorRow, ok bool, ready, failed string) int {
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.marker, r.name, r.detail)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\npolicy:\n%s\n", summary)
	if !ok {
		fmt.Fprintln(stdout, "\n"+failed)
		return 1
	}
	fmt.Fprintln(stdout, "\n"+ready)
	return 0
}

func marker(s local.CheckState) string {
	switch s {
	case local.CheckOK:
		return "[ok]"
	case local.CheckDegraded:
		return "[degraded]"
	case local.CheckUnavailable:
		return "[unavailable]"
	default:
		return "[FAILED]"
	}
}
