package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/server/audit"
)

const auditUsage = `Usage:
  airlock-mcp audit verify FILE   check the hash chain of an audit log

verify reads FILE to the end and checks that no record was edited, deleted,
inserted or moved, and that the last line is complete. It prints the number
of records and the head, the hash of the last record: compare it with the
head the server logged when it closed the log ("audit log closed") to see
whether records were cut from the end, which the chain alone cannot show.

Exit status: 0 the chain is intact; 1 it is broken, FILE is not an audit log,
or FILE cannot be read (the message names the line and what is wrong); 2 a
usage error.
`

// runAudit runs `airlock-mcp audit ARGS`: today only `verify FILE`. It
// exits 0 when the chain is intact, 1 when the log does not verify or
// cannot be read, 2 on a usage error.
func runAudit(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return auditUsageError(stderr, "missing subcommand")
	}
	switch cmd, rest := args[0], args[1:]; {
	case isAuditHelp(cmd) || cmd == "help":
		fmt.Fprint(stdout, auditUsage)
		return 0
	case cmd != "verify":
		return auditUsageError(stderr, fmt.Sprintf("unknown subcommand %q", cmd))
	case len(rest) == 1 && isAuditHelp(rest[0]):
		fmt.Fprint(stdout, auditUsage)
		return 0
	case len(rest) != 1:
		return auditUsageError(stderr, "verify takes one argument: the audit log file")
	case strings.HasPrefix(rest[0], "-"):
		return auditUsageError(stderr, fmt.Sprintf("verify: unknown flag %s", rest[0]))
	default:
		return auditVerify(rest[0], stdout, stderr)
	}
}

// auditVerify verifies the log at path and prints the verdict.
func auditVerify(path string, stdout, stderr io.Writer) int {
	rep, err := audit.VerifyFile(path)
	if be, ok := errors.AsType[*audit.BreakError](err); ok {
		fmt.Fprintf(stdout, "audit log %s: chain BROKEN at %v\n", path, be)
		if rep.Records > 0 {
			fmt.Fprintf(stdout, "audit log %s: intact up to line %d (%s), head sha256:%s\n",
				path, be.Line-1, recordCount(rep.Records), rep.Head)
		}
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "airlock-mcp: audit verify: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "audit log %s: %s, chain intact, head sha256:%s\n", path, recordCount(rep.Records), rep.Head)
	return 0
}

func auditUsageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "airlock-mcp audit: %s\n\n%s", msg, auditUsage)
	return 2
}

func isAuditHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

// recordCount says "1 record" or "N records".
func recordCount(n int) string {
	if n == 1 {
		return "1 record"
	}
	return fmt.Sprintf("%d records", n)
}
