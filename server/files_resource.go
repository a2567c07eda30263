package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/airlock-mcp/airlock-mcp/filestore"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// FilesURITemplate is the resource template of the files execute_python
// returns, for clients to discover them.
const FilesURITemplate = tools.FilesURIPrefix + "{call}/{+path}"

// addFilesResource registers the template airlock://files/{call}/{+path}
// on s: a resources/read of a file execute_python returned reads it from
// store, for the client identity that made the call only (a reader
// without an authenticated identity is anonymous). A file of another
// identity reads exactly as a missing or expired one: not found.
func addFilesResource(s *mcpserver.MCPServer, store *filestore.Store, anonymous string) {
	ttl := strconv.Itoa(int(store.TTL().Seconds()))
	tmpl := mcp.NewResourceTemplate(FilesURITemplate, "Files returned by execute_python",
		mcp.WithTemplateDescription("A file or figure an execute_python call of yours returned (its uri in the result's files and figures): readable for "+ttl+" s after the call, by the client that made it only."),
	)
	s.AddResourceTemplate(tmpl, func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		owner := ClientIdentity(ctx)
		if owner == "" {
			owner = anonymous
		}
		uri := req.Params.URI
		notFound := fmt.Errorf("%w: %s (a returned file is readable for %s s after its call, by the client that made it)", mcp.ErrResourceNotFound, uri, ttl)
		id, key, ok := tools.ParseFileURI(uri)
		if !ok {
			return nil, notFound
		}
		f, err := store.Get(owner, id, key)
		if err != nil {
			return nil, notFound
		}
		if tools.IsText(f.MIME, f.Data) {
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: f.MIME, Text: string(f.Data)}}, nil
		}
		return []mcp.ResourceContents{mcp.BlobResourceContents{URI: uri, MIMEType: f.MIME, Blob: base64.StdEncoding.EncodeToString(f.Data)}}, nil
	})
}
