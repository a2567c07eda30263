package modal

import (
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// noteLostOutput makes res say which output did not arrive whole, and logs
// it: a lost stream is never reported as complete output. res is marked
// truncated, and:
//
//   - when the code exited on its own but its envelope, which comes last
//     on stderr, did not arrive whole (envelopeOK false) because stderr
//     was lost, the result is unknown: status error, type OutputLost,
//     naming the exit code and the lost stream;
//   - when the outcome was otherwise ok: status error, type OutputLost,
//     the code's result kept;
//   - otherwise the existing error's message says it too.
func (b *Backend) noteLostOutput(res *sandbox.Result, envelopeOK bool, losses []streamLoss) {
	if len(losses) == 0 {
		return
	}
	parts := make([]string, len(losses))
	stderrLost := false
	for i, l := range losses {
		parts[i] = l.String()
		stderrLost = stderrLost || l.stream == "stderr"
		b.log.Warn("part of a call's output was lost on its way from Modal; the result says so",
			zap.String("sandbox_id", res.SandboxID), zap.String("stream", l.stream), zap.String("what", parts[i]))
	}
	note := strings.Join(parts, "; ")
	res.Truncated = true
	switch {
	case res.ExitCode != nil && stderrLost && !envelopeOK:
		res.Status, res.Result = sandbox.StatusError, nil
		res.Error = &sandbox.ErrorInfo{Type: "OutputLost", Message: fmt.Sprintf(
			"%s: the code exited with code %d, but its result, which comes last on stderr, did not arrive; the output received is kept",
			note, *res.ExitCode)}
	case res.Error == nil:
		res.Status = sandbox.StatusError
		res.Error = &sandbox.ErrorInfo{Type: "OutputLost", Message: note + ": the code finished without error, but its output is incomplete"}
	default:
		info := *res.Error
		info.Message += "; also, " + note + ", so the output is incomplete"
		res.Error = &info
	}
}
