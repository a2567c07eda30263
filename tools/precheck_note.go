package tools

import (
	"strings"

	"github.com/airlock-mcp/airlock-mcp/netrules"
	"github.com/airlock-mcp/airlock-mcp/policy/precheck"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// preCheckNote is the line the text content ends with when the code names
// a destination the network policy denies and the run then shows a
// connection that was refused or could not be made: "[network] The Airlock
// pre-check found evil.test (...) in the code, which the operator's network
// policy denies: ...", so the model learns the failure is the policy's.
// It is "" otherwise, and when the ledger already lists a refused attempt
// to that host (its own line says why).
func preCheckNote(res sandbox.Result, pre precheck.Result) string {
	if pre.Denied == nil || !connectionFailed(res) {
		return ""
	}
	if res.Network != nil {
		for _, c := range res.Network.Connections {
			if c.Method != "static" && !c.Allowed && netrules.NormalizeHost(c.Host) == pre.Denied.Host {
				return ""
			}
		}
	}
	return "[network] " + pre.Note()
}

// connectionFailed reports whether res shows a connection that was refused
// or could not be made: a refused attempt in the ledger, or an uncaught
// exception of a kind networking code raises when it cannot connect (the
// local sandbox without egress has no route and no DNS; Modal blocks
// without telling). The exception is reported by the sandboxed code and
// could be forged: it only decides whether the note is shown, and the note
// holds nothing the code wrote.
func connectionFailed(res sandbox.Result) bool {
	if res.Network != nil {
		for _, c := range res.Network.Connections {
			if !c.Allowed && c.Method != "static" {
				return true
			}
		}
	}
	if res.Error == nil {
		return false
	}
	name := res.Error.Type[strings.LastIndexByte(res.Error.Type, '.')+1:]
	if connectionErrors[name] {
		return true
	}
	if name != "OSError" {
		return false
	}
	for _, s := range unreachableErrnos {
		if strings.Contains(res.Error.Message, s) {
			return true
		}
	}
	return false
}

// connectionErrors are the unqualified names of the exceptions the
// standard library and common HTTP clients raise when a connection cannot
// be made or is cut: socket's, urllib's, http.client's, requests' and
// urllib3's, httpx's, aiohttp's.
var connectionErrors = map[string]bool{
	"ConnectionError": true, "ConnectionRefusedError": true, "ConnectionResetError": true, "ConnectionAbortedError": true,
	"TimeoutError": true, "timeout": true, "gaierror": true, "herror": true,
	"URLError": true, "RemoteDisconnected": true,
	"ProxyError": true, "ConnectTimeout": true, "ConnectTimeoutError": true, "NewConnectionError": true,
	"NameResolutionError": true, "MaxRetryError": true,
	"ConnectError": true, "NetworkError": true,
	"ClientConnectorError": true, "ClientConnectorDNSError": true, "ClientProxyConnectionError": true, "ServerDisconnectedError": true,
}

// unreachableErrnos are the messages of a plain OSError from connect()
// where there is no way out.
var unreachableErrnos = []string{"Network is unreachable", "No route to host", "Cannot assign requested address"}
