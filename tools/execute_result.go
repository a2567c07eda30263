package tools

import (
	"errors"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/filestore"
	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/policy/precheck"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// ExecuteResult is execute_python's structured result
// (schemas/execute_python.output.schema.json): the sandbox's result, and
// its files and figures as the server lists them.
type ExecuteResult struct {
	sandbox.Result
	// Files are the files the code left under out/, by path.
	Files []FileEntry `json:"files"`
	// Figures are the figures, in the order the sandbox made them.
	Figures []FileEntry `json:"figures"`
}

// respond records res, the result of code that ran, in call and builds
// the tool's result: the text (the result, the pre-check's note, one line
// naming the returned files and figures, then notes such as the
// session's), the files' content blocks, and the structured result. The
// files are kept for the call's client to read by their URIs.
func (h *executePython) respond(call *Call, res sandbox.Result, pre precheck.Result, notes ...string) *mcp.CallToolResult {
	h.fillNetwork(&res, pre)
	call.SetResult(res)
	text := FormatResult(res)
	if note := preCheckNote(res, pre); note != "" {
		text += "\n" + note
	}
	r := h.returnFiles(call.Client, res)
	if line := r.filesLine(); line != "" {
		text += "\n" + line
	}
	for _, n := range notes {
		text += "\n" + n
	}
	return &mcp.CallToolResult{
		Content:           append([]mcp.Content{mcp.NewTextContent(text)}, r.content...),
		StructuredContent: ExecuteResult{Result: res, Files: r.files, Figures: r.figures},
		IsError:           res.Status != sandbox.StatusOK,
	}
}

// returnFiles lists res's files and figures under a fresh call id, builds
// their content blocks, and keeps them in the store for owner.
func (h *executePython) returnFiles(owner string, res sandbox.Result) *returned {
	if len(res.Files) == 0 && len(res.Figures) == 0 {
		return &returned{files: []FileEntry{}, figures: []FileEntry{}}
	}
	id := filestore.NewCallID()
	r := returnFiles(res, id, h.fileBounds)
	if len(r.keep) == 0 {
		return r
	}
	if owner == "" { // not a client's call (airlock-mcp run): nobody to read them later
		r.notKept("not kept: no client to read it later")
		return r
	}
	if _, err := h.files.Put(owner, id, r.keep); err != nil {
		reason := "not kept by the server"
		if errors.Is(err, filestore.ErrTooLarge) {
			reason = "not kept: larger than the server's store of returned files"
		}
		h.log.Warn("returned files not kept", zap.Error(err))
		r.notKept(reason)
	}
	return r
}

// FileBoundsOf is what execute_python returns of a call's files under p:
// files.max_out_mb and files.max_out_count for the files and figures,
// files.max_inline_image_kb for an image inline, and limits.max_output_bytes
// for the text files embedded, all together.
func FileBoundsOf(p *policy.Policy) FileBounds {
	return FileBounds{
		Out:             sandbox.FileLimits{MaxOutBytes: p.Files.MaxOutBytes(), MaxOutCount: p.Files.MaxOutCount},
		MaxInlineImage:  p.Files.MaxInlineImageBytes(),
		MaxEmbeddedText: int64(p.Limits.MaxOutputBytes),
	}
}
