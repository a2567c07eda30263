package sandbox

import (
	"errors"
	"strconv"
)

// The outcomes of a session's call whose interpreter lives on
// (ProcessExit.Running): see Finalize.

// fromSessionEnvelope fills res from the envelope of call, the interpreter
// having reported and regained control. The envelope's exit code stands
// (a SystemExit ends the call, not the interpreter) once the frame carries
// the nonce and the call's number.
func fromSessionEnvelope(res *Result, call int, envelope []byte, nonce string, limits Limits) {
	env, err := ParseEnvelope(envelope, nonce)
	switch {
	case errors.Is(err, ErrNoEnvelope):
		res.Status = StatusError
		res.Error = &ErrorInfo{
			Type: "EnvelopeError",
			Message: "the harness could not report a result: the code closed or replaced its result channel; " +
				"stdout and stderr are kept",
		}
	case err != nil || env.Call != call:
		res.Status = StatusError
		res.Error = tamperedEnvelope()
	default:
		code := env.ExitCode
		res.ExitCode = &code
		fromTrustedEnvelope(res, env, limits)
	}
}

// interrupted fills res for a call the backend interrupted at its timeout
// or because it was cancelled, and whose interpreter regained control: the
// session keeps its state. The traceback of the KeyboardInterrupt the
// harness reported, when its envelope is sound, says where the code was.
func interrupted(res *Result, exit ProcessExit, envelope []byte, nonce string, limits Limits) {
	res.Status = StatusKilled
	switch {
	case exit.TimedOut:
		res.Status = StatusTimeout
		res.TimedOut = true
		msg := "execution exceeded the wall-clock limit"
		if limits.Timeout > 0 {
			msg += " of " + seconds(limits.Timeout) + " s"
		}
		res.Error = &ErrorInfo{Type: "Timeout", Message: msg + " and was interrupted (KeyboardInterrupt); the session keeps its state; output so far is kept"}
	case exit.Shutdown:
		res.Error = &ErrorInfo{Type: "Cancelled", Message: "the server is shutting down, so the call was interrupted (KeyboardInterrupt); run the code again once the server is back"}
	default:
		res.Error = &ErrorInfo{Type: "Cancelled", Message: "the client cancelled the call; the code was interrupted (KeyboardInterrupt) and the session keeps its state"}
	}
	if env, err := ParseEnvelope(envelope, nonce); err == nil && env.Call == exit.Call && env.Error != nil && env.Error.Type == "KeyboardInterrupt" {
		res.Error.Traceback = env.Error.Traceback
	}
}

// SessionEndReason says in one sentence why a session's interpreter ended
// on its own, from what the backend observed of it; limits are those of
// the call it ran last, and exit.CPUTime the CPU time of that call.
func SessionEndReason(exit ProcessExit, limits Limits) string {
	switch {
	case exit.Signal == sigSEGV:
		return signalMessage(exit, limits)
	case exit.Signal != 0:
		return "the interpreter was " + signalMessage(exit, limits)
	default:
		return "the interpreter exited with code " + strconv.Itoa(exit.ExitCode) + " (os._exit, or a fatal error)"
	}
}
