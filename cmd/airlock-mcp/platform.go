package main

import (
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
)

// osNames are the names people know the systems Claude Desktop runs on by.
var osNames = map[string]string{"darwin": "macOS", "windows": "Windows"}

// localUnsupported is the one sentence a command that would start the
// local backend says on an operating system (goos) where that backend
// cannot run, and "" where it can, or for a command that starts none.
func localUnsupported(goos, command, backend string) string {
	if goos == "linux" || backend != local.Name {
		return ""
	}
	switch command {
	case "stdio", "http", "run", "doctor":
	default:
		return ""
	}
	name := osNames[goos]
	if name == "" {
		name = goos
	}
	return "The local backend needs Linux and this is " + name +
		": start airlock-mcp with --backend modal to run code in Modal's cloud sandboxes" +
		" (set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET), or run it inside WSL 2 or a Linux VM to use local sandboxes."
}

// doctorBackend is the backend doctor checks: the one named with
// --backend (explicit), else local on Linux and modal elsewhere, since
// there Modal is the backend that can run.
func doctorBackend(goos, backend string, explicit bool) string {
	if explicit || goos == "linux" {
		return backend
	}
	return modal.Name
}
